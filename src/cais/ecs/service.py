"""The ECS domain: clusters, task definitions, container instances, tasks.

:class:`Ecs` is what the API provider and the agent gateway call; it knows nothing of
HTTP. It owns the rules that span records (resolving names and ARNs, what a
deregistration does to tasks) and tells the control plane's long polls which instance has
something new through ``notify`` (called after the change is committed). Task placement
and stopping live in :mod:`cais.ecs.tasks` (a mixin of this class, split for size).

Settings: ``heartbeat`` is how often agents must poll; an agent that misses
``missed_heartbeats`` in a row is disconnected (agentConnected false, no new tasks).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from random import Random
from typing import Any

from cais.ecs import errors, references, taskdef
from cais.ecs.lifecycle import request_stop
from cais.ecs.model import (
    DEFAULT_CLUSTER,
    DEFAULT_CLUSTER_SETTINGS,
    Attribute,
    Cluster,
    ClusterStatus,
    ContainerInstance,
    Resources,
    Scope,
    TaskDefinition,
    TaskDefinitionStatus,
)
from cais.ecs.store import EcsStore
from cais.ecs.tasks import TaskOperations

DEFAULT_HEARTBEAT = 20.0
MISSED_HEARTBEATS = 3
MAX_CUSTOM_ATTRIBUTES = 10
INSTANCE_STATUSES = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")


@dataclass(frozen=True)
class EcsSettings:
    heartbeat: float = DEFAULT_HEARTBEAT
    missed_heartbeats: int = MISSED_HEARTBEATS
    stopped_task_retention: float = 3600.0

    @property
    def connection_window(self) -> float:
        """How long after its last heartbeat an agent still counts as connected."""
        return self.heartbeat * self.missed_heartbeats + 1.0


def new_id() -> str:
    return uuid.uuid4().hex


class Ecs(TaskOperations):
    def __init__(
        self,
        store: EcsStore,
        *,
        settings: EcsSettings | None = None,
        clock: Callable[[], float] = time.time,
        notify: Callable[[str], None] | None = None,
        rng: Random | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or EcsSettings()
        self.clock = clock
        self._notify = notify or (lambda _arn: None)
        self.rng = rng or Random()

    def notify(self, instance_arn: str) -> None:
        """Wake the long poll of an instance's agent (after a committed change)."""
        self._notify(instance_arn)

    # -- clusters -----------------------------------------------------------------------

    def create_cluster(
        self,
        scope: Scope,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        settings: Sequence[tuple[str, str]] = (),
        configuration: Mapping[str, Any] | None = None,
    ) -> Cluster:
        merged = dict(DEFAULT_CLUSTER_SETTINGS)
        merged.update(dict(settings))
        cluster = Cluster(
            arn=scope.arn(f"cluster/{name}"),
            name=name,
            scope=scope,
            status=ClusterStatus.ACTIVE,
            created_at=self.clock(),
            settings=tuple(merged.items()),
            configuration=dict(configuration) if configuration else None,
        )
        return self.store.put_cluster(cluster, tags or {})[0]

    def find_cluster(self, scope: Scope, reference: str | None) -> Cluster | None:
        name = references.cluster_name(reference or DEFAULT_CLUSTER, scope)
        return self.store.cluster(scope, name) if name else None

    def cluster(self, scope: Scope, reference: str | None) -> Cluster:
        """An ACTIVE cluster by name or ARN (``default`` when not given)."""
        found = self.find_cluster(scope, reference)
        if found is None or found.status != ClusterStatus.ACTIVE:
            raise errors.cluster_not_found()
        return found

    def ensure_cluster(self, scope: Scope, name: str) -> Cluster:
        """The ACTIVE cluster ``name``; ``default`` is created on first use, as the ECS
        agent does when it registers to it."""
        found = self.find_cluster(scope, name)
        if found is not None and found.status == ClusterStatus.ACTIVE:
            return found
        if name != DEFAULT_CLUSTER:
            raise errors.cluster_not_found()
        return self.create_cluster(scope, name)

    # -- task definitions ----------------------------------------------------------------

    def register_task_definition(
        self,
        scope: Scope,
        params: Mapping[str, Any],
        *,
        registered_by: str,
        tags: Mapping[str, str] | None = None,
    ) -> TaskDefinition:
        body = taskdef.normalise(params)
        return self.store.add_task_definition(
            scope, body, registered_at=self.clock(), registered_by=registered_by, tags=tags or {}
        )

    def find_task_definition(self, scope: Scope, reference: str) -> TaskDefinition | None:
        ref = references.task_definition(reference, scope)
        if ref is None:
            return None
        return self.store.task_definition(scope, ref.family, ref.revision)

    def task_definition_to_run(self, scope: Scope, reference: str) -> TaskDefinition:
        """The revision RunTask/StartTask name: it must exist and be ACTIVE."""
        found = self.find_task_definition(scope, reference)
        if found is None or found.status is TaskDefinitionStatus.DELETE_IN_PROGRESS:
            raise errors.task_definition_not_found()
        if found.status is TaskDefinitionStatus.INACTIVE:
            raise errors.task_definition_inactive()
        return found

    def deregister_task_definition(self, scope: Scope, reference: str) -> TaskDefinition:
        ref = references.task_definition(reference, scope)
        if ref is None or ref.revision is None:
            raise errors.client("Revision is missing.")
        found = self.store.task_definition(scope, ref.family, ref.revision)
        if found is None or found.status is TaskDefinitionStatus.DELETE_IN_PROGRESS:
            raise errors.task_definition_does_not_exist()
        return self.store.set_task_definition_status(
            found.arn, TaskDefinitionStatus.INACTIVE, at=self.clock()
        )

    def delete_task_definition(self, scope: Scope, reference: str) -> TaskDefinition | str:
        """DELETE_IN_PROGRESS for an INACTIVE revision; the failure reason otherwise."""
        ref = references.task_definition(reference, scope)
        if ref is None or ref.revision is None:
            return (
                "The specified task definition identifier is invalid. Specify a valid name or "
                "ARN and try again."
            )
        found = self.store.task_definition(scope, ref.family, ref.revision)
        if found is None:
            return "The specified task definition does not exist."
        if found.status is TaskDefinitionStatus.ACTIVE:
            return (
                "The specified task definition is still in ACTIVE status. Please deregister "
                "the target and try again."
            )
        deleted = self.store.set_task_definition_status(
            found.arn, TaskDefinitionStatus.DELETE_IN_PROGRESS, at=self.clock()
        )
        self.store.remove_unused_task_definitions()
        return deleted

    # -- container instances --------------------------------------------------------------

    def connected(self, instance: ContainerInstance) -> bool:
        return instance.connected(self.clock(), self.settings.connection_window)

    def instance(self, cluster: Cluster, reference: str) -> ContainerInstance | None:
        ident = references.in_cluster(reference, cluster.scope, "container-instance", cluster.name)
        if ident is None:
            return None
        return self.store.instance(cluster.arn, ident)

    def register_instance(
        self,
        cluster: Cluster,
        *,
        machine: str,
        hostname: str,
        resources: Resources,
        attributes: Sequence[Attribute],
        agent_version: str = "",
        agent_hash: str = "",
        docker_version: str = "",
        has_agent: bool,
        session: str = "",
        arn: str | None = None,
    ) -> ContainerInstance:
        """Register a machine, or re-register it: a machine that comes back to the same
        cluster keeps its container instance (unless it was deregistered)."""
        now = self.clock()
        existing = None
        if arn is not None:
            existing = self.store.instance_by_arn(arn)
        elif machine:
            existing = self.store.instance_by_machine(cluster.arn, machine)
        if existing is not None and (
            existing.status == "INACTIVE" or existing.cluster_arn != cluster.arn
        ):
            existing = None
        ident = existing.id if existing is not None else new_id()
        merged = {a.name: a for a in attributes}
        merged.setdefault("ecs.os-type", Attribute("ecs.os-type", "linux"))
        instance = ContainerInstance(
            arn=cluster.scope.arn(f"container-instance/{cluster.name}/{ident}"),
            id=ident,
            cluster_arn=cluster.arn,
            scope=cluster.scope,
            ec2_instance_id=machine or f"i-{ident[:17]}",
            hostname=hostname,
            status=existing.status if existing is not None else "ACTIVE",
            registered_at=existing.registered_at if existing is not None else now,
            last_seen=now,
            registered=resources,
            attributes=tuple(merged.values()),
            agent_version=agent_version,
            agent_hash=agent_hash,
            docker_version=docker_version,
            version=(existing.version + 1) if existing is not None else 1,
            session=session,
            has_agent=has_agent,
        )
        return self.store.register_instance(instance)

    def update_instance_state(self, instance: ContainerInstance, status: str) -> ContainerInstance:
        """ACTIVE or DRAINING. Draining stops no standalone task; it only keeps new tasks
        away (services, which would move tasks off it, come later)."""
        updated = self.store.set_instance_status(instance.arn, status)
        self.notify(instance.arn)
        return updated

    def deregister_instance(
        self, instance: ContainerInstance, *, force: bool, reason: str
    ) -> ContainerInstance:
        """The instance becomes INACTIVE and gets no task again.

        Its tasks that have not stopped are asked to stop (desiredStatus STOPPED), so an
        agent that is still there stops them and reports it; without ``force`` an instance
        that still runs tasks is refused, as ECS does.
        """
        tasks = self.store.instance_tasks(instance.arn)
        if tasks and not force:
            raise errors.invalid(
                "The container instance has tasks that are not stopped. Stop them first, or "
                "deregister with force."
            )
        now = self.clock()
        for task in tasks:
            self.store.update_task(
                task.arn,
                lambda t: request_stop(t, reason=reason, code="TerminationNotice", now=now),
            )
        updated = self.store.set_instance_status(instance.arn, "INACTIVE", reason=reason)
        self.notify(instance.arn)
        return replace(updated, has_agent=False)

    def put_attributes(self, items: Sequence[tuple[ContainerInstance, Attribute]]) -> None:
        self.store.put_attributes([(i.arn, a) for i, a in items], limit=MAX_CUSTOM_ATTRIBUTES)
