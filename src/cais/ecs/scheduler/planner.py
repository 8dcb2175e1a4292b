"""Planning: a snapshot and a request in, a Plan out, like Nomad's generic scheduler stack.

For each task of the request the planner takes the feasible candidate the strategy chain
ranks first, reserves the task's resources on it and asks that candidate (and only that
one: the others did not change) whether it can take another. Instances are asked the
feasibility questions lazily, when the ranking reaches them (see ``ranking``). When no
candidate is feasible, the remaining tasks fail and every eligible instance is reported
with the first question it failed.

*Eligible* instances are those a task could be placed on at all: ACTIVE, and external or
not as the launch type says. Ineligible ones (DRAINING, deregistered, the other launch
type) are left out silently, as ECS has no failure reason for them.

Nothing here reads a clock, does I/O or draws a random number except from the ``rng`` the
caller passes, so a plan is reproducible from its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from random import Random

from cais.ecs.scheduler.candidate import Candidate
from cais.ecs.scheduler.errors import NoContainerInstancesError, PlacementError
from cais.ecs.scheduler.feasibility import Feasibility, checks_for
from cais.ecs.scheduler.placement import RandomStrategy
from cais.ecs.scheduler.plan import Failure, FailureReason, Placement, Plan
from cais.ecs.scheduler.ranking import Ranking
from cais.ecs.scheduler.request import EXTERNAL_CAPABILITY, LaunchType, TaskRequest
from cais.ecs.scheduler.state import ClusterState, ContainerInstance, InstanceStatus

DEFAULT_RUN_TASK_STRATEGY = (RandomStrategy(),)
"""What RunTask uses when the caller gives no strategy."""


def eligible(instance: ContainerInstance, launch_type: LaunchType) -> bool:
    """Whether the scheduler may consider the instance at all for this launch type."""
    if instance.status is not InstanceStatus.ACTIVE:
        return False
    external = EXTERNAL_CAPABILITY in instance.attributes
    return external is (launch_type is LaunchType.EXTERNAL)


def _check_launch_type(request: TaskRequest) -> None:
    if request.launch_type is LaunchType.FARGATE:
        raise PlacementError("FARGATE tasks are not placed on container instances.")


def _fits(instance: ContainerInstance, request: TaskRequest) -> bool:
    """A quick look at the snapshot's resources, to rank only instances that could fit."""
    left = instance.remaining
    return (
        left.cpu >= request.cpu
        and left.memory >= request.memory
        and request.tcp_ports.isdisjoint(left.tcp_ports)
        and request.udp_ports.isdisjoint(left.udp_ports)
    )


def plan_placements(
    state: ClusterState, request: TaskRequest, *, rng: Random | None = None
) -> Plan:
    """Place ``request.count`` tasks with the request's strategies and constraints.

    The core shared by RunTask and (later) services: no defaults are applied and an empty
    cluster is not an error here (the plan just places nothing). ``rng`` is required when
    a strategy is ``random``.
    """
    _check_launch_type(request)
    feasibility = Feasibility(checks_for(request))
    pool = [i for i in state.instances if eligible(i, request.launch_type)]
    seen: dict[int, Candidate] = {}

    def candidate(order: int) -> Candidate:
        found = seen.get(order)
        if found is None:
            instance = pool[order]
            tasks = state.tasks_on(instance.arn)
            found = seen[order] = Candidate(instance, order, tasks, group=request.group)
            feasibility.prepare(found)
        return found

    def admit(order: int) -> Candidate | None:
        found = candidate(order)
        return found if feasibility.failure(found) is None else None

    ranking = Ranking(
        request.placement_strategy,
        state=state,
        entries=[(order, i) for order, i in enumerate(pool) if _fits(i, request)],
        group=request.group,
        rng=rng,
        admit=admit,
    )
    placements: list[Placement] = []
    for index in range(request.count):
        best = ranking.best()
        if best is None:
            # Nothing can take another task: say why, for every eligible instance.
            failures = []
            for order in range(len(pool)):
                reason = feasibility.failure(candidate(order))
                assert reason is not None, "a feasible candidate was left unplaced"
                failures.append(Failure(pool[order].arn, reason))
            return Plan(request, tuple(placements), tuple(failures))
        ranking.take(best)
        best.reserve(request)
        placements.append(Placement(index, best.instance.arn))
        if feasibility.failure(best) is None:
            ranking.put_back(best)
    return Plan(request, tuple(placements), ())


def plan_run_task(state: ClusterState, request: TaskRequest, *, rng: Random) -> Plan:
    """RunTask: raise as ECS does for a cluster with no instance to place on, default to
    the ``random`` strategy, then plan."""
    _check_launch_type(request)
    if request.container_instances:
        raise PlacementError("RunTask chooses its instances; use StartTask to name them.")
    if not any(eligible(i, request.launch_type) for i in state.instances):
        raise NoContainerInstancesError()
    if not request.placement_strategy:
        request = replace(request, placement_strategy=DEFAULT_RUN_TASK_STRATEGY)
    return plan_placements(state, request, rng=rng)


def plan_start_task(state: ClusterState, request: TaskRequest) -> Plan:
    """StartTask: one task on each named instance (ARN or ID), in the order given.

    Unknown instances fail with MISSING and deregistered ones with INACTIVE. Strategies do
    not apply; resources and constraints do. A DRAINING instance is accepted: StartTask is
    the caller's own scheduling, and ECS documents no StartTask failure for draining.
    """
    if not request.container_instances:
        raise PlacementError("StartTask needs at least one container instance.")
    if request.count != len(request.container_instances):
        request = replace(request, count=len(request.container_instances))
    targets = enumerate(request.container_instances)
    placements, refused = _place_on_named(state, request, targets, accept_draining=True)
    failures = (Failure(arn, FailureReason(reason)) for _, arn, reason in refused)
    return Plan(request, tuple(placements), tuple(dict.fromkeys(failures)))


DRAINING = "DRAINING"


def _place_on_named(
    state: ClusterState,
    request: TaskRequest,
    targets: Iterable[tuple[int, str]],
    *,
    accept_draining: bool,
) -> tuple[list[Placement], list[tuple[int, str, str]]]:
    """Place task ``index`` on the instance named for it, for each ``(index, name)``.

    Returns the placements and, for the rest, ``(index, instance, reason)``.
    """
    feasibility = Feasibility(checks_for(request))
    statuses = {InstanceStatus.ACTIVE}
    if accept_draining:
        statuses.add(InstanceStatus.DRAINING)
    chosen: dict[str, Candidate] = {}
    placements: list[Placement] = []
    refused: list[tuple[int, str, str]] = []
    for index, reference in targets:
        instance = state.instance(reference)
        if instance is None:
            refused.append((index, reference, FailureReason.MISSING))
            continue
        if instance.status not in statuses:
            draining = instance.status is InstanceStatus.DRAINING
            refused.append((index, instance.arn, DRAINING if draining else FailureReason.INACTIVE))
            continue
        candidate = chosen.get(instance.arn)
        if candidate is None:
            tasks = state.tasks_on(instance.arn)
            candidate = Candidate(instance, len(chosen), tasks, group=request.group)
            feasibility.prepare(candidate)
            chosen[instance.arn] = candidate
        reason = feasibility.failure(candidate)
        if reason is not None:
            refused.append((index, instance.arn, reason))
            continue
        candidate.reserve(request)
        placements.append(Placement(index, instance.arn))
    return placements, refused


@dataclass(frozen=True)
class Conflict:
    """A placement of a plan that the state no longer allows, and why.

    ``reason`` is an ECS failure reason, or ``DRAINING`` for an instance that started
    draining after a RunTask plan was made.
    """

    task_index: int
    instance_arn: str
    reason: str


def verify_plan(state: ClusterState, plan: Plan) -> tuple[Conflict, ...]:
    """Re-check a plan against a (possibly newer) snapshot before applying it.

    The control plane plans on a snapshot and applies later; like Nomad's plan applier it
    re-asks every feasibility question with the plan's earlier placements reserved, and
    applies only a plan without conflicts. Strategies are not re-checked: they are best
    effort, constraints and resources are binding.
    """
    targets = ((p.task_index, p.instance_arn) for p in plan.placements)
    start_task = bool(plan.request.container_instances)
    _, refused = _place_on_named(state, plan.request, targets, accept_draining=start_task)
    return tuple(Conflict(index, arn, str(reason)) for index, arn, reason in refused)
