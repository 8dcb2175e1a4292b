"""A test harness: an in-memory cluster and a fake plan applier, like Nomad's scheduler
``tests/testing.go``. Tests (and benchmarks) drive the scheduler through it without a
control plane: plan on the current snapshot, re-check, apply, repeat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from random import Random
from typing import Protocol

from cais.ecs.scheduler.plan import Plan
from cais.ecs.scheduler.planner import (
    Conflict,
    plan_placements,
    plan_run_task,
    plan_start_task,
    verify_plan,
)
from cais.ecs.scheduler.request import TaskRequest
from cais.ecs.scheduler.state import (
    AMI_ID,
    AVAILABILITY_ZONE,
    INSTANCE_TYPE,
    OS_TYPE,
    ClusterState,
    ContainerInstance,
    InstanceStatus,
    PlacedTask,
    Resources,
    TaskStatus,
)

REGION = "us-east-1"
ACCOUNT = "000000000000"


class PlanApplier(Protocol):
    """Where plans go: the control plane stores them; the harness applies them in memory."""

    def apply(self, plan: Plan) -> tuple[PlacedTask, ...]: ...


class PlanRejected(AssertionError):
    """The fake applier found placements the snapshot no longer allows."""

    def __init__(self, conflicts: tuple[Conflict, ...]) -> None:
        super().__init__(f"plan rejected: {conflicts}")
        self.conflicts = conflicts


def make_instance(
    name: str,
    *,
    cpu: int = 2048,
    memory: int = 4096,
    zone: str = "us-east-1a",
    instance_type: str = "t3.medium",
    status: InstanceStatus = InstanceStatus.ACTIVE,
    agent_connected: bool = True,
    tcp_ports: Iterable[int] = (22, 2375, 2376, 51678, 51679),
    udp_ports: Iterable[int] = (),
    attributes: Mapping[str, str | None] | None = None,
    registered_at: datetime | None = None,
    agent_version: str = "1.80.0",
    cluster: str = "default",
) -> ContainerInstance:
    """A container instance with the built-in attributes ECS gives one, for tests."""
    ports = Resources(
        cpu=cpu, memory=memory, tcp_ports=frozenset(tcp_ports), udp_ports=frozenset(udp_ports)
    )
    return ContainerInstance(
        arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{name}",
        ec2_instance_id=f"i-{name}",
        registered=ports,
        remaining=ports,
        registered_at=registered_at or datetime(2024, 1, 1, tzinfo=UTC),
        status=status,
        agent_connected=agent_connected,
        agent_version=agent_version,
        attributes={
            AVAILABILITY_ZONE: zone,
            INSTANCE_TYPE: instance_type,
            OS_TYPE: "linux",
            AMI_ID: "ami-0123456789abcdef0",
            **(attributes or {}),
        },
    )


class Harness:
    """An in-memory cluster that applies the plans made against it.

    ``plans`` keeps every plan applied, in order. ``rng`` is seeded, so a test run is
    reproducible.
    """

    def __init__(self, state: ClusterState | None = None, *, seed: int = 0) -> None:
        self.state = state or ClusterState()
        self.plans: list[Plan] = []
        self.rng = Random(seed)
        self._serial = 0

    def add_instances(self, *instances: ContainerInstance) -> None:
        self.state = ClusterState(
            self.state.instances + instances, self.state.tasks, self.state.cluster_arn
        )

    def run_task(self, request: TaskRequest) -> Plan:
        return self._submit(plan_run_task(self.state, request, rng=self.rng))

    def start_task(self, request: TaskRequest) -> Plan:
        return self._submit(plan_start_task(self.state, request))

    def place(self, request: TaskRequest) -> Plan:
        return self._submit(plan_placements(self.state, request, rng=self.rng))

    def _submit(self, plan: Plan) -> Plan:
        self.apply(plan)
        return plan

    def apply(self, plan: Plan) -> tuple[PlacedTask, ...]:
        """Re-check the plan, then reserve its resources and record its tasks."""
        conflicts = verify_plan(self.state, plan)
        if conflicts:
            raise PlanRejected(conflicts)
        request = plan.request
        changed: dict[str, ContainerInstance] = {}
        tasks = []
        for placement in plan.placements:
            arn = placement.instance_arn
            instance = changed.get(arn) or self.state.instance(arn)
            assert instance is not None
            left = instance.remaining
            changed[arn] = replace(
                instance,
                remaining=replace(
                    left,
                    cpu=left.cpu - request.cpu,
                    memory=left.memory - request.memory,
                    tcp_ports=left.tcp_ports | request.tcp_ports,
                    udp_ports=left.udp_ports | request.udp_ports,
                ),
            )
            self._serial += 1
            tasks.append(
                PlacedTask(
                    arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/{self._serial:032x}",
                    container_instance_arn=arn,
                    task_definition_arn=request.task_definition_arn,
                    family=request.family,
                    group=request.group,
                    started_by=request.started_by,
                )
            )
        self.state = self.state.updated(instances=tuple(changed.values()), added_tasks=tasks)
        self.plans.append(plan)
        return tuple(tasks)

    def stop_task(self, task: PlacedTask, *, request: TaskRequest) -> None:
        """Stop a task and give its resources back (``request`` says what it reserved)."""
        instance = self.state.instance(task.container_instance_arn)
        assert instance is not None
        left = instance.remaining
        freed = replace(
            instance,
            remaining=replace(
                left,
                cpu=left.cpu + request.cpu,
                memory=left.memory + request.memory,
                tcp_ports=left.tcp_ports - request.tcp_ports,
                udp_ports=left.udp_ports - request.udp_ports,
            ),
        )
        stopped = replace(task, last_status=TaskStatus.STOPPED, desired_status=TaskStatus.STOPPED)
        self.state = self.state.updated(
            instances=(freed,), added_tasks=(stopped,), removed_tasks=(task,)
        )
