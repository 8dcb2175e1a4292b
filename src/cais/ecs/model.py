"""The ECS domain's values: clusters, task definitions, container instances, tasks.

Words follow ECS. A *scope* is one account in one region: every resource lives in one.
A container instance's *registered* resources are what its agent offered when it joined;
a task *reserves* CPU units, MiB and fixed host ports on its instance from placement until
it stops (lastStatus STOPPED), and the instance's *remaining* resources are what is left.
An agent is *connected* while its heartbeats (polls) keep coming.

All values are frozen; the store returns them and the domain makes new ones.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cais.aws.arn import arn

SERVICE = "ecs"
DEFAULT_CLUSTER = "default"
DEFAULT_CLUSTER_SETTINGS = (("containerInsights", "disabled"),)


class ClusterStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class TaskDefinitionStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


@dataclass(frozen=True)
class Scope:
    """One account in one region: where a resource lives and how its ARN starts."""

    account: str
    region: str

    def arn(self, resource: str) -> str:
        return arn(SERVICE, self.region, self.account, resource)


@dataclass(frozen=True, kw_only=True)
class Cluster:
    arn: str
    name: str
    scope: Scope
    status: ClusterStatus
    created_at: float
    settings: tuple[tuple[str, str], ...] = DEFAULT_CLUSTER_SETTINGS
    configuration: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class ClusterCounts:
    """What DescribeClusters counts, by launch type where ECS splits them."""

    registered_instances: int = 0
    running_tasks: int = 0
    pending_tasks: int = 0
    running_ec2: int = 0
    pending_ec2: int = 0
    running_external: int = 0
    pending_external: int = 0
    active_services: int = 0


@dataclass(frozen=True, kw_only=True)
class TaskDefinition:
    """A registered revision; ``body`` is its normalised API shape (containerDefinitions,
    volumes, networkMode, cpu, memory, …) without the members the service adds."""

    arn: str
    family: str
    revision: int
    scope: Scope
    status: TaskDefinitionStatus
    registered_at: float
    registered_by: str
    body: Mapping[str, Any]
    deregistered_at: float | None = None
    delete_requested_at: float | None = None

    @property
    def network_mode(self) -> str:
        return str(self.body.get("networkMode") or "bridge")

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        return list(self.body.get("containerDefinitions") or ())

    @property
    def name(self) -> str:
        """``family:revision``, as ECS names a revision."""
        return f"{self.family}:{self.revision}"


@dataclass(frozen=True, kw_only=True)
class Resources:
    """CPU units, MiB, and host ports taken (TCP and UDP)."""

    cpu: int = 0
    memory: int = 0
    tcp_ports: frozenset[int] = frozenset()
    udp_ports: frozenset[int] = frozenset()

    def minus(self, other: Resources) -> Resources:
        """What is left of these after ``other`` is reserved (ports: taken by either)."""
        return Resources(
            cpu=self.cpu - other.cpu,
            memory=self.memory - other.memory,
            tcp_ports=self.tcp_ports | other.tcp_ports,
            udp_ports=self.udp_ports | other.udp_ports,
        )


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str | None = None


@dataclass(frozen=True, kw_only=True)
class ContainerInstance:
    """A machine registered to a cluster, as stored; ``reserved``, the task counts and
    ``last_seen`` come from the tasks placed on it and its agent's heartbeats."""

    arn: str
    id: str
    cluster_arn: str
    scope: Scope
    ec2_instance_id: str
    hostname: str
    status: str
    registered_at: float
    last_seen: float
    registered: Resources
    reserved: Resources = field(default_factory=Resources)
    attributes: tuple[Attribute, ...] = ()
    agent_version: str = ""
    agent_hash: str = ""
    docker_version: str = ""
    status_reason: str = ""
    version: int = 1
    running_tasks_count: int = 0
    pending_tasks_count: int = 0
    session: str = ""
    has_agent: bool = False

    @property
    def remaining(self) -> Resources:
        return self.registered.minus(self.reserved)

    def connected(self, now: float, window: float) -> bool:
        """Whether the agent heartbeated within ``window`` seconds."""
        return self.has_agent and self.status != "INACTIVE" and now - self.last_seen <= window

    def attribute(self, name: str) -> str | None:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute.value
        return None


@dataclass(frozen=True)
class NetworkBinding:
    container_port: int
    host_port: int
    protocol: str = "tcp"
    bind_ip: str = "0.0.0.0"


@dataclass(frozen=True, kw_only=True)
class Container:
    """One container of a task: what it was asked to be and what its agent last saw."""

    name: str
    arn: str
    image: str
    essential: bool = True
    has_health_check: bool = False
    last_status: str = "PENDING"
    image_digest: str = ""
    runtime_id: str = ""
    exit_code: int | None = None
    reason: str = ""
    health_status: str = "UNKNOWN"
    network_bindings: tuple[NetworkBinding, ...] = ()
    cpu: int = 0
    memory: int | None = None
    memory_reservation: int | None = None


@dataclass(frozen=True, kw_only=True)
class Task:
    """A task: placement, the desired and last status, timestamps and its containers.

    ``version`` grows by one with every change, as ECS's task ``version`` does;
    ``reserved`` is what the task holds on its instance until it stops.
    """

    arn: str
    id: str
    cluster_arn: str
    scope: Scope
    task_definition_arn: str
    family: str
    revision: int
    container_instance_arn: str
    group: str
    launch_type: str
    created_at: float
    containers: tuple[Container, ...]
    reserved: Resources
    started_by: str | None = None
    desired_status: str = "RUNNING"
    last_status: str = "PROVISIONING"
    health_status: str = "UNKNOWN"
    cpu: str | None = None
    memory: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    execution_stopped_at: float | None = None
    stopped_at: float | None = None
    connectivity_at: float | None = None
    stop_code: str = ""
    stopped_reason: str = ""
    private_ipv4: str = ""
    availability_zone: str = ""
    access_key_id: str = ""
    version: int = 1

    @property
    def stopped(self) -> bool:
        return self.last_status == "STOPPED"

    def container(self, name: str) -> Container | None:
        for container in self.containers:
            if container.name == name:
                return container
        return None


@dataclass(frozen=True, slots=True)
class LiveTask:
    """What placement reads of a task that still holds resources (not STOPPED)."""

    arn: str
    container_instance_arn: str
    task_definition_arn: str
    family: str
    group: str
    started_by: str | None
    last_status: str
    desired_status: str


@dataclass(frozen=True, kw_only=True)
class JoinToken:
    """A secret that lets an agent register: to ``cluster`` only, or to any cluster."""

    id: str
    scope: Scope
    cluster: str
    created_at: float
    description: str = ""
    expires_at: float | None = None
