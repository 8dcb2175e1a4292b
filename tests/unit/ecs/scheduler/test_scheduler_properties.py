"""Property tests: random clusters and request streams, checked against simple oracles.

Whatever the cluster and the requests, a plan must never over-commit an instance (CPU,
memory, TCP and UDP ports), must report only ECS failure reasons that are true of the
instance they name, and must place tasks only where every constraint holds. For chains
without ``random``, the plan must also be exactly what a naive reference scheduler (a
linear scan comparing full keys) produces, which checks the indexed ranking.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cais.ecs.scheduler import (
    BinpackField,
    BinpackStrategy,
    ClusterState,
    ContainerInstance,
    DistinctInstance,
    FailureReason,
    Harness,
    InstanceStatus,
    MemberOf,
    PlacedTask,
    PlacementConstraint,
    PlacementStrategy,
    Plan,
    PortRequest,
    RandomStrategy,
    RequiredAttribute,
    SpreadStrategy,
    TaskRequest,
    TransportProtocol,
    make_instance,
    plan_placements,
)
from cais.ecs.scheduler.query import InstanceFacts

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

EXPRESSIONS = (
    "attribute:ecs.instance-type =~ t2.*",
    "attribute:stack != prod",
    "attribute:ecs.availability-zone in [az-a, az-b]",
    "not(task:group == family:db)",
    "task:group == family:web or runningTasksCount == 0",
    "runningTasksCount < 3",
    "agentConnected == true and attribute:stack exists",
)
RUN_TASK_REASONS = {
    FailureReason.AGENT,
    FailureReason.ATTRIBUTE,
    FailureReason.RESOURCE_CPU,
    FailureReason.RESOURCE_MEMORY,
    FailureReason.RESOURCE_PORTS,
    FailureReason.RESOURCE_PORTS_UDP,
    FailureReason.MEMBER_OF,
    FailureReason.DISTINCT_INSTANCE,
}


@st.composite
def instances(draw: st.DrawFn, index: int) -> ContainerInstance:
    stack = draw(st.sampled_from(["prod", "dev", None]))
    return make_instance(
        f"i{index}",
        cpu=draw(st.sampled_from([0, 512, 1024, 2048, 4096, 4096])),
        memory=draw(st.sampled_from([300, 1000, 2048, 4096, 8192, 8192])),
        zone=draw(st.sampled_from(["az-a", "az-b", "az-c"])),
        instance_type=draw(st.sampled_from(["t2.small", "t2.large", "m5.large"])),
        status=draw(st.sampled_from([InstanceStatus.ACTIVE] * 5 + [InstanceStatus.DRAINING])),
        agent_connected=draw(st.sampled_from([True] * 5 + [False])),
        tcp_ports=draw(st.sets(st.sampled_from([22, 80, 8080]))),
        udp_ports=draw(st.sets(st.sampled_from([53]))),
        attributes={} if stack is None else {"stack": stack},
    )


@st.composite
def clusters(draw: st.DrawFn) -> ClusterState:
    count = draw(st.integers(min_value=1, max_value=10))
    members = [draw(instances(n)) for n in range(count)]
    tasks = []
    for n in range(draw(st.integers(min_value=0, max_value=8))):
        host = draw(st.sampled_from(members))
        family = draw(st.sampled_from(["web", "db", "batch"]))
        tasks.append(
            PlacedTask(
                arn=f"existing-{n}",
                container_instance_arn=host.arn,
                task_definition_arn=f"td/{family}:1",
                family=family,
                group=f"family:{family}",
            )
        )
    return ClusterState.of(members, tasks)


STRATEGIES: tuple[PlacementStrategy, ...] = (
    BinpackStrategy(BinpackField.CPU),
    BinpackStrategy(BinpackField.MEMORY),
    SpreadStrategy("instanceId"),
    SpreadStrategy("attribute:ecs.availability-zone"),
    SpreadStrategy("attribute:stack"),
)


@st.composite
def requests(draw: st.DrawFn, *, with_random: bool) -> TaskRequest:
    family = draw(st.sampled_from(["web", "db", "batch"]))
    pool = (*STRATEGIES, RandomStrategy()) if with_random else STRATEGIES
    some = st.sampled_from([False, False, False, True])  # each option in one request of 4
    expressions = draw(st.lists(st.sampled_from(EXPRESSIONS), max_size=2)) if draw(some) else []
    constraints: list[PlacementConstraint] = [MemberOf.parse(text) for text in expressions]
    if draw(some):
        constraints.append(DistinctInstance())
    ports = [PortRequest(0)]
    if draw(some):
        ports.extend(PortRequest(p) for p in draw(st.sets(st.sampled_from([80, 8080]))))
    if draw(some):
        ports.append(PortRequest(53, TransportProtocol.UDP))
    required = (RequiredAttribute("stack"),) if draw(some) else ()
    return TaskRequest(
        task_definition_arn=f"td/{family}:1",
        family=family,
        cpu=draw(st.sampled_from([0, 128, 256, 512, 1024])),
        memory=draw(st.sampled_from([0, 128, 300, 512, 1024])),
        ports=tuple(ports),
        count=draw(st.integers(min_value=1, max_value=10)),
        placement_strategy=tuple(draw(st.lists(st.sampled_from(pool), max_size=3))),
        placement_constraints=tuple(constraints),
        required_attributes=required,
    )


# -- an independent model of what runs where ---------------------------------------------


@dataclass
class Ledger:
    """Book-keeping of one instance, kept by the test from the plans alone."""

    instance: ContainerInstance
    cpu: int
    memory: int
    tcp: Counter[int]
    udp: Counter[int]
    groups: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, instance: ContainerInstance, state: ClusterState) -> Ledger:
        tasks = state.tasks_on(instance.arn).tasks
        return cls(
            instance,
            instance.remaining.cpu,
            instance.remaining.memory,
            Counter(instance.remaining.tcp_ports),
            Counter(instance.remaining.udp_ports),
            Counter(t.group for t in tasks),
        )

    def facts(self) -> InstanceFacts:
        return InstanceFacts(
            self.instance,
            sum(self.groups.values()),
            frozenset(g for g, n in self.groups.items() if n),
        )

    def failure(self, request: TaskRequest) -> FailureReason | None:
        """ECS's reason this instance cannot take one more task, by the documented order."""
        attributes = self.instance.attributes
        if not self.instance.agent_connected:
            return FailureReason.AGENT
        if self.cpu < request.cpu:
            return FailureReason.RESOURCE_CPU
        if self.memory < request.memory:
            return FailureReason.RESOURCE_MEMORY
        if any(self.tcp[p] for p in request.tcp_ports):
            return FailureReason.RESOURCE_PORTS
        if any(self.udp[p] for p in request.udp_ports):
            return FailureReason.RESOURCE_PORTS_UDP
        if any(r.name not in attributes for r in request.required_attributes):
            return FailureReason.ATTRIBUTE
        for constraint in request.placement_constraints:
            if isinstance(constraint, MemberOf) and not constraint.expression.holds(self.facts()):
                return FailureReason.MEMBER_OF
        distinct = any(isinstance(c, DistinctInstance) for c in request.placement_constraints)
        if distinct and self.groups[request.group]:
            return FailureReason.DISTINCT_INSTANCE
        return None

    def take(self, request: TaskRequest) -> None:
        self.cpu -= request.cpu
        self.memory -= request.memory
        self.tcp.update(request.tcp_ports)
        self.udp.update(request.udp_ports)
        self.groups[request.group] += 1


def ledgers(state: ClusterState) -> dict[str, Ledger]:
    return {i.arn: Ledger.of(i, state) for i in state.instances}


def eligible(ledger: Ledger) -> bool:
    return ledger.instance.status is InstanceStatus.ACTIVE


def reference_plan(state: ClusterState, request: TaskRequest) -> tuple[list[str], dict[str, str]]:
    """A naive scheduler: for each task, scan every instance and compare full keys."""
    books = ledgers(state)
    order = {i.arn: n for n, i in enumerate(state.instances)}
    placed: list[str] = []
    for _ in range(request.count):
        feasible = [b for b in books.values() if eligible(b) and b.failure(request) is None]
        if not feasible:
            failures = {
                b.instance.arn: str(b.failure(request)) for b in books.values() if eligible(b)
            }
            return placed, failures

        def key(book: Ledger) -> tuple[int, ...]:
            parts = []
            for strategy in request.placement_strategy:
                if isinstance(strategy, BinpackStrategy):
                    parts.append(book.cpu if strategy.field is BinpackField.CPU else book.memory)
                elif isinstance(strategy, SpreadStrategy) and strategy.attribute is None:
                    parts.append(book.groups[request.group])
                elif isinstance(strategy, SpreadStrategy):
                    name = strategy.attribute
                    value = book.instance.attributes.get(name)
                    parts.append(
                        sum(
                            other.groups[request.group]
                            for other in books.values()
                            if other.instance.attributes.get(name) == value
                        )
                    )
            return (*parts, order[book.instance.arn])

        best = min(feasible, key=key)
        best.take(request)
        placed.append(best.instance.arn)
    return placed, {}


# -- the properties ---------------------------------------------------------------------


def check_plan_against_ledgers(plan: Plan, books: dict[str, Ledger]) -> None:
    """Invariants of one plan, given the books as they were before it; updates the books."""
    request = plan.request
    assert [p.task_index for p in plan.placements] == list(range(len(plan.placements)))
    for placement in plan.placements:
        book = books[placement.instance_arn]
        assert eligible(book), "placed on a draining instance"
        assert book.failure(request) is None, "placed where a question fails"
        book.take(request)
        # Never over-committed: no negative resource, no port bound twice.
        assert book.cpu >= 0 and book.memory >= 0
        assert all(n == 1 for n in book.tcp.values()), book.tcp
        assert all(n == 1 for n in book.udp.values()), book.udp
    if plan.unplaced:
        assert {f.arn for f in plan.failures} == {arn for arn, b in books.items() if eligible(b)}, (
            "every eligible instance is reported"
        )
        for failure in plan.failures:
            assert failure.reason in RUN_TASK_REASONS
            assert books[failure.arn].failure(request) is failure.reason, "the reason is true"
    else:
        assert plan.failures == ()


@PROPERTY_SETTINGS
@given(
    state=clusters(),
    stream=st.lists(requests(with_random=True), min_size=1, max_size=6),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_request_streams_never_over_commit_and_respect_constraints(
    state: ClusterState, stream: list[TaskRequest], seed: int
) -> None:
    harness = Harness(state, seed=seed)
    books = ledgers(state)
    for request in stream:
        plan = harness.place(request)
        check_plan_against_ledgers(plan, books)
    # The harness's own snapshot agrees with the books.
    for instance in harness.state.instances:
        book = books[instance.arn]
        assert (instance.remaining.cpu, instance.remaining.memory) == (book.cpu, book.memory)
        assert instance.remaining.tcp_ports == frozenset(book.tcp)


@PROPERTY_SETTINGS
@given(state=clusters(), request=requests(with_random=False))
def test_plans_equal_the_naive_reference_scheduler(
    state: ClusterState, request: TaskRequest
) -> None:
    plan = plan_placements(state, request)
    placed, failures = reference_plan(state, request)
    assert list(plan.instances()) == placed
    assert {f.arn: str(f.reason) for f in plan.failures} == failures


@PROPERTY_SETTINGS
@given(state=clusters(), request=requests(with_random=True), seed=st.integers(0, 2**32))
def test_random_plans_are_reproducible_from_the_seed(
    state: ClusterState, request: TaskRequest, seed: int
) -> None:
    assert plan_placements(state, request, rng=Random(seed)) == plan_placements(
        state, request, rng=Random(seed)
    )
