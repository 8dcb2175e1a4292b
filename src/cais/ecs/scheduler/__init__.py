"""Pure ECS task placement: a ClusterState snapshot and a TaskRequest in, a Plan out.

The pipeline is Nomad's: feasibility checkers (agent connected, CPU, memory, ports,
required attributes, ``memberOf``, ``distinctInstance``) each ask one question of a
candidate instance; the placement strategies (``binpack``, ``spread``, ``random``) then
rank the feasible ones, chained in order. Resources are reserved per instance as the plan
places tasks, so a plan never over-commits an instance. The control plane builds the
snapshot, calls :func:`plan_run_task`, :func:`plan_start_task` or :func:`plan_placements`,
re-checks with :func:`verify_plan` and applies. No I/O, no clock, no unseeded randomness.
"""

from cais.ecs.scheduler.errors import (
    ExpressionError,
    NoContainerInstancesError,
    PlacementError,
    SchedulingInputError,
)
from cais.ecs.scheduler.harness import Harness, PlanApplier, PlanRejected, make_instance
from cais.ecs.scheduler.placement import (
    AVAILABILITY_ZONE_SPREAD,
    MAX_CONSTRAINTS,
    MAX_STRATEGIES,
    BinpackField,
    BinpackStrategy,
    DistinctInstance,
    MemberOf,
    PlacementConstraint,
    PlacementStrategy,
    RandomStrategy,
    SpreadStrategy,
    constraint_from_api,
    constraints_from_api,
    strategies_from_api,
    strategy_from_api,
)
from cais.ecs.scheduler.plan import Failure, FailureReason, Placement, Plan
from cais.ecs.scheduler.planner import (
    DEFAULT_RUN_TASK_STRATEGY,
    Conflict,
    eligible,
    plan_placements,
    plan_run_task,
    plan_start_task,
    verify_plan,
)
from cais.ecs.scheduler.query import (
    Expression,
    InstanceFacts,
    QuerySubject,
    evaluate,
    parse_expression,
    select_instances,
)
from cais.ecs.scheduler.request import (
    LaunchType,
    PortRequest,
    RequiredAttribute,
    TaskRequest,
    TransportProtocol,
)
from cais.ecs.scheduler.state import (
    AMI_ID,
    AVAILABILITY_ZONE,
    INSTANCE_TYPE,
    OS_TYPE,
    ClusterState,
    ContainerInstance,
    InstanceStatus,
    InstanceTasks,
    PlacedTask,
    Resources,
    TaskStatus,
)

__all__ = [
    "AMI_ID",
    "AVAILABILITY_ZONE",
    "AVAILABILITY_ZONE_SPREAD",
    "DEFAULT_RUN_TASK_STRATEGY",
    "INSTANCE_TYPE",
    "MAX_CONSTRAINTS",
    "MAX_STRATEGIES",
    "OS_TYPE",
    "BinpackField",
    "BinpackStrategy",
    "ClusterState",
    "Conflict",
    "ContainerInstance",
    "DistinctInstance",
    "Expression",
    "ExpressionError",
    "Failure",
    "FailureReason",
    "Harness",
    "InstanceFacts",
    "InstanceStatus",
    "InstanceTasks",
    "LaunchType",
    "MemberOf",
    "NoContainerInstancesError",
    "PlacedTask",
    "Placement",
    "PlacementConstraint",
    "PlacementError",
    "PlacementStrategy",
    "Plan",
    "PlanApplier",
    "PlanRejected",
    "PortRequest",
    "QuerySubject",
    "RandomStrategy",
    "RequiredAttribute",
    "Resources",
    "SchedulingInputError",
    "SpreadStrategy",
    "TaskRequest",
    "TaskStatus",
    "TransportProtocol",
    "constraint_from_api",
    "constraints_from_api",
    "eligible",
    "evaluate",
    "make_instance",
    "parse_expression",
    "plan_placements",
    "plan_run_task",
    "plan_start_task",
    "select_instances",
    "strategies_from_api",
    "strategy_from_api",
    "verify_plan",
]
