"""The read-only cluster snapshot the scheduler plans against.

Words: a *container instance* is a machine registered to the cluster (ECS's EC2 launch
type); its *registered* resources are what it offered when it joined and its *remaining*
resources are what is left after the tasks it runs. Ports in a :class:`Resources` are the
host ports that are *taken* (reserved by the agent or bound by a task), as ECS reports them
in ``remainingResources``. A *placed task* is a task the cluster already runs or is
starting; its *group* (``family:<name>``, ``service:<name>`` or a user's name) is what
``spread``, ``distinctInstance`` and ``task:group`` look at.

The control plane builds one :class:`ClusterState` per decision from its store; nothing
here changes it. Indexes are computed on first use and cached on the snapshot, which is
safe because the snapshot never changes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType

AVAILABILITY_ZONE = "ecs.availability-zone"
INSTANCE_TYPE = "ecs.instance-type"
OS_TYPE = "ecs.os-type"
AMI_ID = "ecs.ami-id"


class InstanceStatus(enum.StrEnum):
    """A container instance's status; only ACTIVE instances are given new tasks."""

    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    INACTIVE = "INACTIVE"
    REGISTERING = "REGISTERING"
    DEREGISTERING = "DEREGISTERING"
    REGISTRATION_FAILED = "REGISTRATION_FAILED"


class TaskStatus(enum.StrEnum):
    """The task lifecycle ECS reports in ``lastStatus`` and ``desiredStatus``."""

    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    ACTIVATING = "ACTIVATING"
    RUNNING = "RUNNING"
    DEACTIVATING = "DEACTIVATING"
    STOPPING = "STOPPING"
    DEPROVISIONING = "DEPROVISIONING"
    STOPPED = "STOPPED"


@dataclass(frozen=True, kw_only=True)
class Resources:
    """CPU units (1024 per vCPU), memory in MiB and the host ports taken, per protocol."""

    cpu: int
    memory: int
    tcp_ports: frozenset[int] = frozenset()
    udp_ports: frozenset[int] = frozenset()


def _frozen_attributes(attributes: Mapping[str, str | None]) -> Mapping[str, str | None]:
    return MappingProxyType(dict(attributes))


@dataclass(frozen=True, kw_only=True)
class ContainerInstance:
    """One machine of the cluster as the scheduler sees it.

    ``attributes`` maps an attribute name to its value (``None`` for a name-only
    attribute, as ECS allows); ``registered_at`` is timezone-aware.
    """

    arn: str
    ec2_instance_id: str
    registered: Resources
    remaining: Resources
    registered_at: datetime
    status: InstanceStatus = InstanceStatus.ACTIVE
    agent_connected: bool = True
    agent_version: str = ""
    attributes: Mapping[str, str | None] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, MappingProxyType):
            object.__setattr__(self, "attributes", _frozen_attributes(self.attributes))
        if self.registered_at.tzinfo is None:
            object.__setattr__(self, "registered_at", self.registered_at.replace(tzinfo=UTC))

    @property
    def id(self) -> str:
        """The container instance ID: the last path segment of its ARN."""
        return self.arn.rsplit("/", 1)[-1]

    def attribute(self, name: str) -> str | None:
        return self.attributes.get(name)


@dataclass(frozen=True, kw_only=True)
class PlacedTask:
    """A task the cluster already runs (or is starting or stopping) on an instance."""

    arn: str
    container_instance_arn: str
    task_definition_arn: str
    family: str
    group: str
    started_by: str | None = None
    last_status: TaskStatus = TaskStatus.PENDING
    desired_status: TaskStatus = TaskStatus.RUNNING

    @property
    def active(self) -> bool:
        """Whether the task still occupies its instance (counts for spread and groups)."""
        return self.last_status is not TaskStatus.STOPPED


@dataclass(frozen=True)
class InstanceTasks:
    """The active tasks of one instance, indexed the ways placement asks about them."""

    tasks: tuple[PlacedTask, ...] = ()

    @cached_property
    def groups(self) -> frozenset[str]:
        return frozenset(task.group for task in self.tasks)

    @cached_property
    def group_counts(self) -> Mapping[str, int]:
        counts: dict[str, int] = {}
        for task in self.tasks:
            counts[task.group] = counts.get(task.group, 0) + 1
        return MappingProxyType(counts)

    @property
    def running_count(self) -> int:
        return len(self.tasks)


_NO_TASKS = InstanceTasks()


@dataclass(frozen=True)
class ClusterState:
    """A consistent, read-only snapshot of one cluster's instances and tasks.

    Order matters: ``instances`` is the order in which ties between equally good
    instances are broken, so a control plane that wants stable placements keeps it stable
    (by registration time, say).
    """

    instances: tuple[ContainerInstance, ...] = ()
    tasks: tuple[PlacedTask, ...] = ()
    cluster_arn: str = ""

    @classmethod
    def of(
        cls,
        instances: Iterable[ContainerInstance],
        tasks: Iterable[PlacedTask] = (),
        *,
        cluster_arn: str = "",
    ) -> ClusterState:
        return cls(tuple(instances), tuple(tasks), cluster_arn)

    @cached_property
    def _by_arn(self) -> Mapping[str, ContainerInstance]:
        return MappingProxyType({instance.arn: instance for instance in self.instances})

    @cached_property
    def _by_id(self) -> Mapping[str, ContainerInstance]:
        return MappingProxyType({instance.id: instance for instance in self.instances})

    @cached_property
    def _tasks_by_instance(self) -> Mapping[str, InstanceTasks]:
        grouped: dict[str, list[PlacedTask]] = {}
        for task in self.tasks:
            if task.active:
                grouped.setdefault(task.container_instance_arn, []).append(task)
        return MappingProxyType({arn: InstanceTasks(tuple(ts)) for arn, ts in grouped.items()})

    def instance(self, reference: str) -> ContainerInstance | None:
        """The instance named by its ARN or its ID, as ECS accepts either."""
        return self._by_arn.get(reference) or self._by_id.get(reference)

    def tasks_on(self, instance_arn: str) -> InstanceTasks:
        """The active tasks on an instance (none if it runs nothing)."""
        return self._tasks_by_instance.get(instance_arn, _NO_TASKS)

    def updated(
        self,
        *,
        instances: Sequence[ContainerInstance] = (),
        added_tasks: Sequence[PlacedTask] = (),
        removed_tasks: Sequence[PlacedTask] = (),
    ) -> ClusterState:
        """A new snapshot with some instances replaced (by ARN) and tasks added or removed.

        Cheap for small changes to a large cluster: the per-instance task index, when this
        snapshot has built it, is carried over and patched instead of rebuilt.
        """
        replaced = {instance.arn: instance for instance in instances}
        new_instances = (
            tuple(replaced.get(i.arn, i) for i in self.instances) if replaced else self.instances
        )
        tasks = self.tasks
        if removed_tasks:
            gone = {task.arn for task in removed_tasks}
            tasks = tuple(task for task in tasks if task.arn not in gone)
        new = ClusterState(new_instances, tasks + tuple(added_tasks), self.cluster_arn)
        if "_tasks_by_instance" in self.__dict__:
            index = dict(self._tasks_by_instance)
            touched = {t.container_instance_arn for t in (*added_tasks, *removed_tasks)}
            gone_arns = {task.arn for task in removed_tasks}
            for arn in touched:
                kept = [t for t in index.get(arn, _NO_TASKS).tasks if t.arn not in gone_arns]
                kept.extend(t for t in added_tasks if t.container_instance_arn == arn and t.active)
                index[arn] = InstanceTasks(tuple(kept))
            # cached_property keeps its value in the instance dict; seed it.
            new.__dict__["_tasks_by_instance"] = MappingProxyType(index)
        return new
