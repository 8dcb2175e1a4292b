"""Placement constraints, resources, instance states and ECS's failure reasons, exactly."""

from __future__ import annotations

from dataclasses import replace
from random import Random

import pytest
from placement_helpers import (
    BINPACK_CPU,
    BINPACK_MEMORY,
    SPREAD_INSTANCE,
    SPREAD_ZONE,
    harness,
    names,
    reasons,
    request,
)

from cais.ecs.scheduler import (
    ClusterState,
    DistinctInstance,
    ExpressionError,
    Failure,
    FailureReason,
    InstanceStatus,
    LaunchType,
    MemberOf,
    NoContainerInstancesError,
    PlacementError,
    PlacementStrategy,
    PortRequest,
    RequiredAttribute,
    TransportProtocol,
    constraint_from_api,
    constraints_from_api,
    make_instance,
    plan_placements,
    plan_run_task,
    plan_start_task,
    strategies_from_api,
    strategy_from_api,
    verify_plan,
)

# -- constraints ------------------------------------------------------------------------


def test_distinct_instance_never_puts_two_tasks_of_the_request_on_one_instance() -> None:
    h = harness(*(make_instance(f"i{n}") for n in range(3)))
    plan = h.run_task(
        request(
            count=5, placement_constraints=(DistinctInstance(),), placement_strategy=(BINPACK_CPU,)
        )
    )
    assert sorted(names(plan)) == ["i0", "i1", "i2"]
    assert plan.unplaced == 2
    assert reasons(plan) == dict.fromkeys(
        ["i0", "i1", "i2"], "DistinctInstance placement constraint unsatisfied."
    )


def test_distinct_instance_counts_running_tasks_of_the_group() -> None:
    h = harness(make_instance("busy"), make_instance("free"))
    h.start_task(request(container_instances=("busy",)))
    plan = h.run_task(request(count=1, placement_constraints=(DistinctInstance(),)))
    assert names(plan) == ["free"]


def test_member_of_restricts_the_candidates() -> None:
    h = harness(
        make_instance("t2", instance_type="t2.small"),
        make_instance("m5", instance_type="m5.large"),
    )
    plan = h.run_task(
        request(
            count=2,
            placement_constraints=(MemberOf.parse("attribute:ecs.instance-type =~ t2.*"),),
            placement_strategy=(SPREAD_INSTANCE,),
        )
    )
    assert names(plan) == ["t2", "t2"]


def test_member_of_failure_names_the_unsatisfied_constraint() -> None:
    h = harness(make_instance("m5", instance_type="m5.large"))
    plan = h.run_task(
        request(placement_constraints=(MemberOf.parse("attribute:ecs.instance-type == t2.small"),))
    )
    assert names(plan) == []
    assert [f.to_api() for f in plan.failures] == [
        {
            "arn": "arn:aws:ecs:us-east-1:000000000000:container-instance/default/m5",
            "reason": "MemberOf placement constraint unsatisfied.",
        }
    ]


def test_member_of_task_group_sees_the_tasks_placed_by_the_same_plan() -> None:
    h = harness(*(make_instance(f"i{n}") for n in range(3)))
    # Anti-affinity with the request's own group acts like distinctInstance.
    plan = h.run_task(
        request(
            count=4,
            placement_constraints=(MemberOf.parse("not(task:group == family:web)"),),
            placement_strategy=(BINPACK_CPU,),
        )
    )
    assert sorted(names(plan)) == ["i0", "i1", "i2"]
    assert set(reasons(plan).values()) == {"MemberOf placement constraint unsatisfied."}


def test_member_of_running_tasks_count_is_rechecked_after_each_placement() -> None:
    h = harness(make_instance("a"), make_instance("b"))
    plan = h.run_task(
        request(
            count=5,
            placement_constraints=(MemberOf.parse("runningTasksCount < 2"),),
            placement_strategy=(BINPACK_CPU,),
        )
    )
    assert names(plan) == ["a", "a", "b", "b"]


def test_member_of_affinity_with_another_group() -> None:
    h = harness(make_instance("db"), make_instance("other"))
    h.start_task(request(family="db", container_instances=("db",)))
    plan = h.run_task(
        request(count=2, placement_constraints=(MemberOf.parse("task:group == family:db"),))
    )
    assert names(plan) == ["db", "db"]


def test_required_attributes_fail_with_attribute() -> None:
    h = harness(
        make_instance("plain"),
        make_instance(
            "capable", attributes={"ecs.capability.secrets.asm.environment-variables": None}
        ),
        make_instance("tagged", attributes={"stack": "dev"}),
    )
    plan = h.run_task(
        request(
            count=2,
            required_attributes=(
                RequiredAttribute("ecs.capability.secrets.asm.environment-variables"),
            ),
        )
    )
    assert names(plan) == ["capable", "capable"]
    plan = h.run_task(request(required_attributes=(RequiredAttribute("stack", "prod"),)))
    assert reasons(plan) == dict.fromkeys(["plain", "capable", "tagged"], "ATTRIBUTE")


# -- resources and ports ----------------------------------------------------------------


def test_resources_are_reserved_and_never_over_committed() -> None:
    h = harness(make_instance("only", cpu=1024, memory=1000))
    plan = h.run_task(request(cpu=300, memory=100, count=5))
    assert names(plan) == ["only"] * 3
    assert reasons(plan) == {"only": "RESOURCE:CPU"}
    instance = h.state.instance("only")
    assert instance is not None
    assert (instance.remaining.cpu, instance.remaining.memory) == (124, 700)


def test_memory_shortage_is_reported() -> None:
    h = harness(make_instance("only", memory=500))
    plan = h.run_task(request(memory=300, count=2))
    assert names(plan) == ["only"]
    assert reasons(plan) == {"only": "RESOURCE:MEMORY"}


def test_a_taken_host_port_fails_with_resource_ports() -> None:
    h = harness(make_instance("web", tcp_ports=(22, 80)), make_instance("free"))
    plan = h.run_task(request(count=2, ports=(PortRequest(80),), placement_strategy=(BINPACK_CPU,)))
    # The first task takes port 80 on "free"; the second finds it taken everywhere.
    assert names(plan) == ["free"]
    assert reasons(plan) == {"web": "RESOURCE:PORTS", "free": "RESOURCE:PORTS"}
    instance = h.state.instance("free")
    assert instance is not None and 80 in instance.remaining.tcp_ports


def test_udp_ports_are_their_own_resource() -> None:
    h = harness(make_instance("dns", tcp_ports=(53,), udp_ports=(53,)), make_instance("free"))
    udp = PortRequest(53, TransportProtocol.UDP)
    plan = h.run_task(request(count=2, ports=(udp,), placement_strategy=(BINPACK_CPU,)))
    assert names(plan) == ["free"]
    assert reasons(plan) == {"dns": "RESOURCE:PORTS_UDP", "free": "RESOURCE:PORTS_UDP"}
    plan = h.run_task(request(family="tcp", ports=(PortRequest(53),)))
    assert names(plan) == ["free"]


def test_dynamic_host_ports_need_no_reservation() -> None:
    h = harness(make_instance("only"))
    plan = h.run_task(request(count=3, ports=(PortRequest(0), PortRequest(0))))
    assert names(plan) == ["only"] * 3


def test_the_first_failed_question_is_the_reason() -> None:
    h = harness(
        make_instance("gone", agent_connected=False, cpu=0, memory=0),
        make_instance("starved", cpu=0, memory=0),
        make_instance("no-memory", memory=10, instance_type="m5.large"),
        make_instance("wrong-type", instance_type="m5.large"),
    )
    plan = h.run_task(
        request(placement_constraints=(MemberOf.parse("attribute:ecs.instance-type == t2.small"),))
    )
    assert reasons(plan) == {
        "gone": "AGENT",
        "starved": "RESOURCE:CPU",
        "no-memory": "RESOURCE:MEMORY",
        "wrong-type": "MemberOf placement constraint unsatisfied.",
    }


# -- instance status and agents ---------------------------------------------------------


def test_draining_inactive_and_disconnected_instances_get_no_task() -> None:
    h = harness(
        make_instance("draining", status=InstanceStatus.DRAINING),
        make_instance("inactive", status=InstanceStatus.INACTIVE),
        make_instance("disconnected", agent_connected=False),
        make_instance("ok"),
    )
    plan = h.run_task(request(count=2, placement_constraints=(DistinctInstance(),)))
    assert names(plan) == ["ok"]
    # Draining and inactive instances are not candidates; a disconnected agent is ECS's AGENT.
    assert reasons(plan) == {
        "disconnected": "AGENT",
        "ok": "DistinctInstance placement constraint unsatisfied.",
    }


def test_a_cluster_without_instances_is_invalid_for_run_task() -> None:
    empty = ClusterState()
    with pytest.raises(NoContainerInstancesError) as raised:
        plan_run_task(empty, request(), rng=Random(0))
    assert str(raised.value) == "No Container Instances were found in your cluster."
    assert raised.value.aws_type == "InvalidParameterException"
    draining = ClusterState.of([make_instance("d", status=InstanceStatus.DRAINING)])
    with pytest.raises(NoContainerInstancesError):
        plan_run_task(draining, request(), rng=Random(0))
    assert plan_placements(empty, request()).placements == ()


def test_launch_types_choose_ec2_or_external_instances() -> None:
    h = harness(
        make_instance("ec2"),
        make_instance("onprem", attributes={"ecs.capability.external": None}),
    )
    assert names(h.run_task(request(count=2))) == ["ec2", "ec2"]
    external = request(count=2, launch_type=LaunchType.EXTERNAL)
    assert names(h.run_task(external)) == ["onprem", "onprem"]
    with pytest.raises(PlacementError, match="FARGATE"):
        h.run_task(request(launch_type=LaunchType.FARGATE))


# -- StartTask --------------------------------------------------------------------------


def test_start_task_places_on_the_named_instances() -> None:
    h = harness(
        make_instance("a", memory=300),
        make_instance("b"),
        make_instance("c", status=InstanceStatus.INACTIVE),
        make_instance("d", status=InstanceStatus.DRAINING),
    )
    a_arn = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/a"
    plan = h.start_task(request(container_instances=(a_arn, "a", "b", "c", "d", "nope")))
    assert [(p.task_index, n) for p, n in zip(plan.placements, names(plan), strict=True)] == [
        (0, "a"),
        (2, "b"),
        (4, "d"),
    ]
    assert plan.failures == (
        Failure(a_arn, FailureReason.RESOURCE_MEMORY),
        Failure(a_arn.replace("/a", "/c"), FailureReason.INACTIVE),
        Failure("nope", FailureReason.MISSING),
    )
    assert plan.request.count == 6


def test_start_task_needs_instances_and_run_task_refuses_them() -> None:
    state = ClusterState.of([make_instance("a")])
    with pytest.raises(PlacementError):
        plan_start_task(state, request())
    with pytest.raises(PlacementError):
        plan_run_task(state, request(container_instances=("a",)), rng=Random(0))


# -- re-checking a plan -----------------------------------------------------------------


def test_verify_plan_finds_what_changed_since_planning() -> None:
    h = harness(make_instance("a", memory=1000), make_instance("b", memory=1000))
    plan = plan_run_task(
        h.state, request(memory=400, count=4, placement_strategy=(BINPACK_MEMORY,)), rng=Random(0)
    )
    assert names(plan) == ["a", "a", "b", "b"]
    assert verify_plan(h.state, plan) == ()
    # Meanwhile another task took memory on a, and b started draining.
    h.start_task(request(family="other", memory=300, container_instances=("a",)))
    b = h.state.instance("b")
    assert b is not None
    h.state = h.state.updated(instances=(replace(b, status=InstanceStatus.DRAINING),))
    conflicts = verify_plan(h.state, plan)
    assert [(c.task_index, c.reason) for c in conflicts] == [
        (1, "RESOURCE:MEMORY"),
        (2, "DRAINING"),
        (3, "DRAINING"),
    ]


def test_stopping_a_task_gives_its_resources_back() -> None:
    h = harness(make_instance("only", memory=500))
    web = request(memory=400, ports=(PortRequest(8080),))
    h.run_task(web)
    (task,) = h.state.tasks
    assert h.run_task(web).placements == ()
    h.stop_task(task, request=web)
    assert names(h.run_task(web)) == ["only"]


# -- request values ---------------------------------------------------------------------


def test_the_group_defaults_to_the_family() -> None:
    assert request().group == "family:web"
    assert request(group="service:api").group == "service:api"


@pytest.mark.parametrize(
    "strategies",
    [
        (),
        (BINPACK_MEMORY,),
        (SPREAD_ZONE, BINPACK_CPU),
        (SPREAD_ZONE, SPREAD_INSTANCE, BINPACK_MEMORY),
    ],
)
def test_plans_are_deterministic(strategies: tuple[PlacementStrategy, ...]) -> None:
    state = ClusterState.of(
        make_instance(f"i{n}", zone=f"z{n % 3}", memory=1000 + 100 * (n % 4)) for n in range(12)
    )
    one = plan_placements(state, request(count=20, placement_strategy=strategies))
    two = plan_placements(state, request(count=20, placement_strategy=strategies))
    assert one == two


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ({"type": "binpack", "field": "disk"}, "must be cpu or memory"),
        ({"type": "binpack"}, "must be cpu or memory"),
        ({"type": "spread"}, "requires a field"),
        ({"type": "spread", "field": "zone"}, "use instanceId, host or attribute:<name>"),
        ({"type": "spread", "field": "attribute:"}, "use instanceId, host or attribute:<name>"),
        ({"type": "pack"}, "Invalid placement strategy type 'pack'"),
    ],
)
def test_bad_strategies_are_refused(shape: dict[str, str], message: str) -> None:
    with pytest.raises(PlacementError, match=message) as raised:
        strategy_from_api(shape)
    assert raised.value.aws_type == "InvalidParameterException"


@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        (
            {"type": "distinctInstance", "expression": "x"},
            PlacementError,
            "distinctInstance expression should not be specified.",
        ),
        ({"type": "memberOf"}, PlacementError, "memberOf expression must be specified."),
        ({"type": "memberOf", "expression": "a =="}, ExpressionError, "unknown subject 'a'"),
        ({"type": "sameHost"}, PlacementError, "Invalid placement constraint type"),
    ],
)
def test_bad_constraints_are_refused(
    shape: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        constraint_from_api(shape)


def test_limits_on_strategies_and_constraints() -> None:
    with pytest.raises(PlacementError, match="maximum of 5"):
        strategies_from_api([{"type": "random"}] * 6)
    with pytest.raises(PlacementError, match="maximum of 10"):
        constraints_from_api([{"type": "distinctInstance"}] * 11)


# -- services (the interface kept ready) and snapshots ----------------------------------


def test_a_service_spreads_its_desired_count_over_zones_then_binpacks() -> None:
    h = harness(
        make_instance("a1", zone="us-east-1a", memory=2048),
        make_instance("a2", zone="us-east-1a", memory=1024),
        make_instance("b1", zone="us-east-1b", memory=2048),
        make_instance("c1", zone="us-east-1c", memory=1024),
    )
    service = request(
        group="service:api",
        memory=512,
        count=9,
        placement_strategy=(SPREAD_ZONE, BINPACK_MEMORY),
    )
    plan = h.place(service)
    # Zones take turns while they can; inside a zone the fuller instance goes first.
    assert names(plan) == ["a2", "c1", "b1", "a2", "c1", "b1", "b1", "a1", "b1"]
    assert plan.failures == ()


def test_updated_snapshots_keep_their_task_index_right() -> None:
    h = harness(make_instance("a"), make_instance("b"))
    web = request(count=3, placement_strategy=(SPREAD_INSTANCE,))
    h.run_task(web)
    first = h.state.tasks[0]
    h.stop_task(first, request=web)
    rebuilt = ClusterState.of(h.state.instances, h.state.tasks)
    for instance in h.state.instances:
        assert h.state.tasks_on(instance.arn) == rebuilt.tasks_on(instance.arn)
    assert sum(h.state.tasks_on(i.arn).running_count for i in h.state.instances) == 2
