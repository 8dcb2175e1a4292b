"""The scheduler's public surface: what the ECS control plane may import."""

from __future__ import annotations

from cais.ecs import scheduler
from cais.ecs.scheduler import Failure, FailureReason, MemberOf, strategies_from_api

PUBLIC = {
    # snapshot
    "ClusterState", "ContainerInstance", "Resources", "PlacedTask", "InstanceTasks",
    "InstanceStatus", "TaskStatus", "AVAILABILITY_ZONE", "INSTANCE_TYPE", "OS_TYPE", "AMI_ID",
    # request and placement options
    "TaskRequest", "PortRequest", "TransportProtocol", "LaunchType", "RequiredAttribute",
    "PlacementStrategy", "BinpackStrategy", "BinpackField", "SpreadStrategy",
    "RandomStrategy", "PlacementConstraint", "DistinctInstance", "MemberOf",
    "strategy_from_api", "strategies_from_api", "constraint_from_api", "constraints_from_api",
    "MAX_STRATEGIES", "MAX_CONSTRAINTS", "AVAILABILITY_ZONE_SPREAD",
    # planning
    "Plan", "Placement", "Failure", "FailureReason", "plan_placements", "plan_run_task",
    "plan_start_task", "verify_plan", "Conflict", "eligible", "DEFAULT_RUN_TASK_STRATEGY",
    # query language
    "Expression", "QuerySubject", "InstanceFacts", "parse_expression", "evaluate",
    "select_instances",
    # errors
    "SchedulingInputError", "ExpressionError", "PlacementError", "NoContainerInstancesError",
    # testing
    "Harness", "PlanApplier", "PlanRejected", "make_instance",
}  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert set(scheduler.__all__) == PUBLIC
    assert all(hasattr(scheduler, name) for name in PUBLIC)


def test_api_shapes_round_trip() -> None:
    shapes = [
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
        {"type": "binpack", "field": "memory"},
        {"type": "random"},
    ]
    assert [s.to_api() for s in strategies_from_api(shapes)] == shapes
    constraint = scheduler.constraint_from_api(
        {"type": "memberOf", "expression": "attribute:b == c"}
    )
    assert isinstance(constraint, MemberOf)
    assert constraint.to_api() == {"type": "memberOf", "expression": "attribute:b == c"}
    assert scheduler.constraint_from_api({"type": "distinctInstance"}).to_api() == {
        "type": "distinctInstance"
    }
    failure = Failure("arn:x", FailureReason.RESOURCE_CPU)
    assert failure.to_api() == {"arn": "arn:x", "reason": "RESOURCE:CPU"}
