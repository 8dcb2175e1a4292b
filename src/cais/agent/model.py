"""What the agent knows about a task: its record, kept across agent restarts.

A :class:`TaskRecord` pairs the *desired* status (the control plane's wish, or the agent's
own decision to stop: an essential exit, a failed start) with the *known* status (what the
agent has brought about with the engine). Records are frozen; a change is a new record,
written to the agent's table before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cais.agent.protocol import ContainerState, NetworkBinding, TaskSpec, TaskState

# container statuses (ECS's words)
PENDING, RUNNING, STOPPED = "PENDING", "RUNNING", "STOPPED"

# stop codes the agent decides on
TASK_FAILED_TO_START = "TaskFailedToStart"
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
# ECS's stoppedReason for that code, word for word (the container is not named in it)
ESSENTIAL_CONTAINER_EXITED_REASON = "Essential container in task exited"

# the pause container of an awsvpc task (ECS's internal container name)
PAUSE_NAME = "~internal~ecs~pause"


@dataclass(frozen=True)
class ContainerRecord:
    """One container of a task as the agent knows it (``runtime_id``: the cais container)."""

    name: str
    runtime_id: str = ""
    last_status: str = PENDING
    exit_code: int | None = None
    reason: str = ""
    health: str = "UNKNOWN"  # HEALTHY, UNHEALTHY, UNKNOWN
    bindings: tuple[NetworkBinding, ...] = ()
    image_digest: str = ""
    log_offset: int = 0  # bytes of the container's log already shipped (awslogs)

    @property
    def started(self) -> bool:
        return self.last_status in (RUNNING, STOPPED) and bool(self.runtime_id)

    def state(self) -> ContainerState:
        return ContainerState(
            name=self.name,
            last_status=self.last_status,
            runtime_id=self.runtime_id,
            exit_code=self.exit_code,
            reason=self.reason,
            health_status=self.health,
            network_bindings=self.bindings,
            image_digest=self.image_digest,
        )


@dataclass(frozen=True)
class TaskRecord:
    task_arn: str
    desired: str  # RUNNING or STOPPED
    known: str = "PROVISIONING"
    containers: tuple[ContainerRecord, ...] = ()
    stop_code: str = ""
    stopped_reason: str = ""
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    execution_stopped_at: float | None = None
    private_ipv4: str = ""
    pause_id: str = ""  # awsvpc: the container that holds the task's network namespace
    volumes: dict[str, str] = field(default_factory=dict)  # task volume → engine volume

    @classmethod
    def new(cls, spec: TaskSpec) -> TaskRecord:
        return cls(
            task_arn=spec.task_arn,
            desired=spec.desired_status,
            containers=tuple(ContainerRecord(c.name) for c in spec.containers),
        )

    def container(self, name: str) -> ContainerRecord:
        for record in self.containers:
            if record.name == name:
                return record
        raise KeyError(name)

    def with_container(self, updated: ContainerRecord) -> TaskRecord:
        return replace(
            self,
            containers=tuple(updated if c.name == updated.name else c for c in self.containers),
        )

    def stopping(self, code: str, reason: str) -> TaskRecord:
        """Desire STOPPED for the agent's own ``code``; the first reason given stays."""
        if self.desired == STOPPED:
            return self
        return replace(self, desired=STOPPED, stop_code=code, stopped_reason=reason)

    def state(self) -> TaskState:
        return TaskState(
            task_arn=self.task_arn,
            last_status=self.known,
            containers=tuple(c.state() for c in self.containers),
            stop_code=self.stop_code,
            stopped_reason=self.stopped_reason,
            pull_started_at=self.pull_started_at,
            pull_stopped_at=self.pull_stopped_at,
            started_at=self.started_at,
            execution_stopped_at=self.execution_stopped_at,
            private_ipv4=self.private_ipv4,
        )
