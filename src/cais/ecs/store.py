"""The control plane's state, behind a protocol: SQLite today, PostgreSQL later.

The domain (:mod:`cais.ecs.service`) talks only to :class:`EcsStore`; a backend keeps
every change atomic and checks, inside the same transaction, the rules that depend on
other records (a cluster with instances cannot be deactivated; a placement is applied only
if the instances can still take it). Values in and out are the frozen dataclasses of
:mod:`cais.ecs.model`. Reads that compute (an instance's reserved resources, a cluster's
counts) compute from the tasks themselves, so nothing can drift.

Keys: clusters by (scope, name); task definitions by (scope, family, revision); container
instances by ARN (or, within a cluster, by ID or by the agent's machine id); tasks by ARN
(or, within a cluster, by ID). Pages are keyset pages: ``after`` is the last key returned.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cais.ecs.model import (
    Attribute,
    Cluster,
    ClusterCounts,
    ContainerInstance,
    JoinToken,
    LiveTask,
    Scope,
    Task,
    TaskDefinition,
    TaskDefinitionStatus,
)

MAX_TAGS = 50

PlacementCheck = Callable[[Sequence[ContainerInstance], Sequence[LiveTask]], bool]
"""Given the cluster's instances and live tasks as they are inside the placement's
transaction, whether the placement may be applied."""


@dataclass(frozen=True, kw_only=True)
class ClientToken:
    """RunTask's ``clientToken``: a retried call with the same token gets the same tasks."""

    scope: Scope
    token: str
    created_at: float
    failures: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """What a call with a client token placed the first time."""

    task_arns: tuple[str, ...]
    failures: tuple[Mapping[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class TaskFilter:
    """ListTasks' filters (``None``: not filtered)."""

    desired_status: str = "RUNNING"
    family: str | None = None
    started_by: str | None = None
    instance_arn: str | None = None
    launch_type: str | None = None
    group: str | None = None


class ClusterRecords(Protocol):
    def put_cluster(self, cluster: Cluster, tags: Mapping[str, str]) -> tuple[Cluster, bool]:
        """Create the cluster, or make an INACTIVE one of that name ACTIVE again with these
        settings and tags; an ACTIVE one is returned unchanged. True if it changed."""
        ...

    def cluster(self, scope: Scope, name: str) -> Cluster | None: ...

    def clusters(self, scope: Scope, *, after: str | None, limit: int) -> list[Cluster]:
        """ACTIVE clusters by name."""
        ...

    def cluster_counts(self, cluster_arn: str) -> ClusterCounts: ...

    def deactivate_cluster(self, cluster_arn: str) -> Cluster:
        """Mark the cluster INACTIVE; raises ClusterContains… if instances or tasks are
        still in it."""
        ...

    def update_cluster(
        self,
        cluster_arn: str,
        *,
        settings: Sequence[tuple[str, str]] | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> Cluster: ...


class TagRecords(Protocol):
    def tags(self, arn: str) -> dict[str, str]: ...

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        """Add or replace tags; raises if the resource would have more than MAX_TAGS."""
        ...

    def untag(self, arn: str, keys: Collection[str]) -> None: ...


class TaskDefinitionRecords(Protocol):
    def add_task_definition(
        self,
        scope: Scope,
        body: Mapping[str, Any],
        *,
        registered_at: float,
        registered_by: str,
        tags: Mapping[str, str],
    ) -> TaskDefinition:
        """Store the next revision of ``body['family']`` (revisions are never reused)."""
        ...

    def task_definition(
        self, scope: Scope, family: str, revision: int | None
    ) -> TaskDefinition | None:
        """A revision, or (``revision`` None) the family's latest ACTIVE one."""
        ...

    def set_task_definition_status(
        self, arn: str, status: TaskDefinitionStatus, *, at: float
    ) -> TaskDefinition: ...

    def task_definitions(
        self,
        scope: Scope,
        *,
        family: str | None,
        status: str,
        descending: bool,
        after: tuple[str, int] | None,
        limit: int,
    ) -> list[TaskDefinition]:
        """Revisions by (family, revision); ``status`` ACTIVE, INACTIVE or
        DELETE_IN_PROGRESS."""
        ...

    def families(
        self, scope: Scope, *, prefix: str | None, status: str, after: str | None, limit: int
    ) -> list[str]:
        """Family names; ``status`` ACTIVE (has an ACTIVE revision), INACTIVE (has none)
        or ALL."""
        ...

    def remove_unused_task_definitions(self) -> int:
        """Forget DELETE_IN_PROGRESS revisions that no task refers to any more."""
        ...


class InstanceRecords(Protocol):
    def register_instance(
        self, instance: ContainerInstance, *, keep_custom_attributes: bool = True
    ) -> ContainerInstance:
        """Store a new instance, or update the one with the same ARN (a re-registration:
        resources, versions, session and the agent's attributes are replaced)."""
        ...

    def instance_by_machine(self, cluster_arn: str, machine: str) -> ContainerInstance | None:
        """The latest instance of the cluster registered by that agent machine id."""
        ...

    def instance(self, cluster_arn: str, reference: str) -> ContainerInstance | None:
        """By ARN or ID, within the cluster."""
        ...

    def instance_by_arn(self, arn: str) -> ContainerInstance | None: ...

    def instances(
        self,
        cluster_arn: str,
        *,
        statuses: Collection[str] | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> list[ContainerInstance]:
        """By registration time, with reservations and task counts filled in."""
        ...

    def set_instance_status(
        self, arn: str, status: str, *, reason: str = ""
    ) -> ContainerInstance: ...

    def heartbeat(self, arn: str, *, now: float) -> None: ...

    def put_attributes(self, items: Sequence[tuple[str, Attribute]], *, limit: int) -> None:
        """(instance ARN, attribute) pairs; raises if an instance would carry more than
        ``limit`` custom attributes."""
        ...

    def delete_attributes(self, items: Sequence[tuple[str, Attribute]]) -> None: ...

    def attributes(
        self,
        cluster_arn: str,
        *,
        name: str | None,
        value: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[tuple[str, Attribute]]:
        """(instance ARN, attribute) of the cluster's active instances."""
        ...


class TaskRecords(Protocol):
    def live_tasks(self, cluster_arn: str) -> list[LiveTask]:
        """What placement needs of the cluster's tasks that still hold resources."""
        ...

    def place_tasks(
        self,
        tasks: Sequence[Task],
        *,
        cluster_arn: str,
        check: PlacementCheck,
        client_token: ClientToken | None = None,
    ) -> bool:
        """Store ``tasks`` in one transaction if ``check`` (run inside it) approves, and
        remember the client token with them; False (nothing stored) if the check fails or
        the token was used meanwhile."""
        ...

    def client_token(self, scope: Scope, token: str) -> Recorded | None: ...

    def forget_client_tokens(self, *, before: float) -> int: ...

    def task(self, cluster_arn: str, reference: str) -> Task | None:
        """By ARN or ID, within the cluster."""
        ...

    def task_by_arn(self, arn: str) -> Task | None: ...

    def tasks_by_reference(self, cluster_arn: str, references: Sequence[str]) -> list[Task]:
        """The tasks named (ARN or ID) in the cluster, in no particular order."""
        ...

    def task_arns(
        self, cluster_arn: str, task_filter: TaskFilter, *, after: str | None, limit: int
    ) -> list[str]: ...

    def update_task(self, arn: str, change: Callable[[Task], Task]) -> Task | None:
        """Read, change and write one task in one transaction (nothing written when the
        change returns the task as it was); None if there is no such task."""
        ...

    def instance_tasks(self, instance_arn: str, *, stopped: bool = False) -> list[Task]:
        """The tasks placed on an instance (the STOPPED ones too when ``stopped``)."""
        ...

    def prune_tasks(self, *, stopped_before: float) -> int:
        """Forget tasks that stopped before the given time."""
        ...


class AgentRecords(Protocol):
    def meta(self, name: str, default: str) -> str:
        """A value kept for the life of the database (``default`` is stored on first use)."""
        ...

    def add_join_token(self, token: JoinToken, *, digest: str) -> None: ...

    def join_token(self, digest: str) -> JoinToken | None: ...

    def join_tokens(self) -> list[JoinToken]: ...

    def delete_join_token(self, token_id: str) -> bool: ...

    def put_secret(self, scope: Scope, name: str, value: str, *, now: float) -> None: ...

    def secret(self, scope: Scope, name: str) -> str | None: ...

    def delete_secret(self, scope: Scope, name: str) -> bool: ...

    def secret_names(self, scope: Scope) -> list[str]: ...


class EcsStore(
    ClusterRecords,
    TagRecords,
    TaskDefinitionRecords,
    InstanceRecords,
    TaskRecords,
    AgentRecords,
    Protocol,
):
    """Everything the ECS control plane keeps."""
