"""The agent protocol: what an agent and the control plane say to each other.

All calls are ``POST <control plane>/agent/v1/<call>`` with a JSON body; every call but
``register`` carries ``Authorization: Bearer <session token>`` (the token ``register``
returned). Errors come back as HTTP 4xx/5xx with ``{"error": "<Type>", "message": "…"}``.

``register``   join token + the machine's resources and attributes → container instance ARN
``poll``       long poll: the agent's known task states → the tasks it must run or stop
               (answers at once when the control plane has something new, else after
               ``wait_seconds``); a poll is also the agent's heartbeat
``report``     task and container state changes, in order, as they happen
``logs``       container output for the ``awslogs`` log driver → CloudWatch Logs
``log_group``  does an ``awslogs`` group exist? (asked before a container starts unless
               ``awslogs-create-group`` is true: a missing group fails the task, as in ECS)
``deregister`` the agent leaves (the instance becomes INACTIVE)

The words follow ECS: a task has a *desired* status (what the control plane wants:
RUNNING or STOPPED) and a *known*/*last* status (what the agent has seen: PROVISIONING,
PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED).
Task definitions reach the agent fully resolved: overrides applied, secrets and registry
credentials filled in, host ports of ``bridge`` mode still 0 where the agent picks them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PREFIX = "/agent/v1"
REGISTER, POLL, REPORT, LOGS, DEREGISTER = "register", "poll", "report", "logs", "deregister"
LOG_GROUP = "log_group"

TASK_STATUSES = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)
CONTAINER_STATUSES = ("PENDING", "RUNNING", "STOPPED")


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str | None = None


@dataclass(frozen=True)
class Resources:
    """What a machine offers: CPU units (1024 per core), memory MiB, host ports in use."""

    cpu: int
    memory: int
    ports_tcp: tuple[int, ...] = ()
    ports_udp: tuple[int, ...] = ()


@dataclass(frozen=True)
class RegisterRequest:
    cluster: str
    token: str
    hostname: str
    resources: Resources
    attributes: tuple[Attribute, ...] = ()
    agent_version: str = ""
    instance_id: str = ""  # kept across re-registrations of the same machine (its cais root)


@dataclass(frozen=True)
class RegisterResponse:
    container_instance_arn: str
    instance_id: str
    session_token: str
    heartbeat_seconds: float


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int = 0  # 0 in bridge mode: the agent picks a free port
    protocol: str = "tcp"


@dataclass(frozen=True)
class MountPoint:
    source_volume: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Volume:
    """A task volume: ``host_path`` for a host bind mount, else a named (docker) volume."""

    name: str
    host_path: str = ""
    scope: str = "task"  # task (removed with the task) or shared
    autoprovision: bool = False  # ECS's default: a shared volume must exist already


@dataclass(frozen=True)
class HealthCheck:
    command: tuple[str, ...]  # ["CMD", …] or ["CMD-SHELL", "…"]
    interval: int = 30
    timeout: int = 5
    retries: int = 3
    start_period: int = 0


@dataclass(frozen=True)
class Dependency:
    container_name: str
    condition: str  # START, COMPLETE, SUCCESS, HEALTHY


@dataclass(frozen=True)
class LogConfiguration:
    driver: str  # awslogs (others: the container's own log only)
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for pulling a container's image (repositoryCredentials, ECR tokens)."""

    username: str
    password: str


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    essential: bool = True
    command: tuple[str, ...] | None = None
    entry_point: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str = ""
    user: str = ""
    cpu: int = 0
    memory: int | None = None  # hard limit, MiB
    memory_reservation: int | None = None
    port_mappings: tuple[PortMapping, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    health_check: HealthCheck | None = None
    stop_timeout: int = 30
    links: tuple[str, ...] = ()  # "name[:alias]" (bridge mode)
    mount_points: tuple[MountPoint, ...] = ()
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard)
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    init_process_enabled: bool = False
    readonly_root_filesystem: bool = False
    docker_labels: dict[str, str] = field(default_factory=dict)
    log_configuration: LogConfiguration | None = None
    registry_auth: RegistryAuth | None = None


@dataclass(frozen=True)
class TaskSpec:
    """A task the agent must bring to ``desired_status``."""

    task_arn: str
    cluster_arn: str
    family: str
    revision: int
    desired_status: str  # RUNNING or STOPPED
    network_mode: str  # bridge, host, none, awsvpc
    containers: tuple[ContainerSpec, ...]
    volumes: tuple[Volume, ...] = ()
    cpu: int | None = None  # task-level limits (units, MiB)
    memory: int | None = None
    stop_reason: str = ""  # why the control plane wants it stopped (StopTask reason …)
    # what the control plane could not resolve (a registry secret, say): the agent fails
    # the task with it before provisioning anything (ECS's ResourceInitializationError)
    initialization_error: str = ""


@dataclass(frozen=True)
class NetworkBinding:
    container_port: int
    host_port: int
    protocol: str = "tcp"
    bind_ip: str = "0.0.0.0"


@dataclass(frozen=True)
class ContainerState:
    name: str
    last_status: str  # PENDING, RUNNING, STOPPED
    runtime_id: str = ""  # the cais container ID
    exit_code: int | None = None
    reason: str = ""
    health_status: str = "UNKNOWN"  # HEALTHY, UNHEALTHY, UNKNOWN
    network_bindings: tuple[NetworkBinding, ...] = ()
    image_digest: str = ""


@dataclass(frozen=True)
class TaskState:
    """One report of what the agent knows about a task (sent on every change)."""

    task_arn: str
    last_status: str
    containers: tuple[ContainerState, ...] = ()
    stop_code: str = ""  # EssentialContainerExited, TaskFailedToStart, UserInitiated …
    stopped_reason: str = ""
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    execution_stopped_at: float | None = None
    private_ipv4: str = ""  # awsvpc: the task's own address


@dataclass(frozen=True)
class PollRequest:
    known: dict[str, str] = field(default_factory=dict)  # task ARN → last status
    wait_seconds: float = 20.0


@dataclass(frozen=True)
class PollResponse:
    tasks: tuple[TaskSpec, ...] = ()


@dataclass(frozen=True)
class ReportRequest:
    tasks: tuple[TaskState, ...]


@dataclass(frozen=True)
class ReportResponse:
    """Which reported tasks the control plane applied, and which it does not know (a task
    of another instance, or one it has forgotten): the agent may stop reporting those."""

    accepted: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class LogsRequest:
    group: str
    stream: str
    events: tuple[LogEvent, ...]
    region: str = ""
    create_group: bool = False


@dataclass(frozen=True)
class LogGroupRequest:
    group: str
    region: str = ""


@dataclass(frozen=True)
class LogGroupResponse:
    exists: bool


def to_wire(value: Any) -> Any:
    """JSON-able data (tuples as lists, dataclasses as objects, None kept)."""
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def from_wire(cls: type[Any], data: Any) -> Any:
    """The inverse of :func:`to_wire` for this module's dataclasses."""
    from cais.runtime.model import from_json

    return from_json(cls, data)
