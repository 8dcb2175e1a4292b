"""Running and stopping tasks: RunTask, StartTask, StopTask and agents' reports.

Placement follows Nomad's plan/apply: build a snapshot from the store, plan with the pure
scheduler, then apply in one transaction that re-reads the cluster and re-checks the plan
with ``verify_plan``; if another change got there first, plan again (a few times). So
resources are never over-committed, whatever runs concurrently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Any

from cais.agent import protocol
from cais.aws.errors import AwsError
from cais.ecs import errors, scheduling, taskdef
from cais.ecs import scheduler as sched
from cais.ecs.lifecycle import (
    DEFAULT_STOP_REASON,
    USER_INITIATED,
    apply_report,
    request_stop,
)
from cais.ecs.model import Cluster, ContainerInstance, LiveTask, Task, TaskDefinition
from cais.ecs.store import ClientToken

if TYPE_CHECKING:
    from cais.ecs.service import EcsSettings
    from cais.ecs.store import EcsStore

log = logging.getLogger(__name__)

MAX_RUN_COUNT = 10
MAX_START_INSTANCES = 10
PLACEMENT_ATTEMPTS = 5
_STARTED_BY = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")
_GROUP = re.compile(r"^[a-zA-Z0-9_:.-]{1,255}$")
_CLIENT_TOKEN = re.compile(r"^[!-~]{1,64}$")


@dataclass(frozen=True)
class Launch:
    """What RunTask / StartTask asked for, checked."""

    definition: TaskDefinition
    overrides: Mapping[str, Any]
    group: str | None
    started_by: str | None
    launch_type: str
    access_key_id: str
    client_token: str | None = None


@dataclass(frozen=True)
class Placed:
    """The tasks placed, and the failures in the API's shape (``arn``, ``reason``)."""

    tasks: tuple[Task, ...]
    failures: tuple[Mapping[str, str], ...]


class TaskOperations:
    store: EcsStore
    settings: EcsSettings
    clock: Callable[[], float]
    rng: Random

    def notify(self, instance_arn: str) -> None:
        raise NotImplementedError

    def new_task_id(self) -> str:
        from cais.ecs.service import new_id

        return new_id()

    # -- placing ------------------------------------------------------------------------

    def launch(
        self,
        definition: TaskDefinition,
        *,
        overrides: Mapping[str, Any] | None,
        group: str | None,
        started_by: str | None,
        launch_type: str | None,
        access_key_id: str,
        client_token: str | None = None,
    ) -> Launch:
        """Check RunTask's / StartTask's parameters that the model cannot check."""
        if started_by is not None and not _STARTED_BY.match(started_by):
            raise errors.invalid(
                "startedBy may contain up to 36 letters (uppercase and lowercase), numbers, "
                "hyphens, and underscores."
            )
        if group is not None and not _GROUP.match(group):
            raise errors.invalid(f"Invalid group {group!r}.")
        kind = launch_type or "EC2"
        if kind not in ("EC2", "EXTERNAL"):
            raise errors.invalid(f"Launch type {kind} is not supported by cais yet.")
        if client_token is not None and not _CLIENT_TOKEN.match(client_token):
            raise errors.invalid("clientToken must be 1-64 characters in the range 33-126.")
        checked = _check_overrides(definition, dict(overrides or {}))
        return Launch(definition, checked, group, started_by, kind, access_key_id, client_token)

    def run_task(
        self,
        cluster: Cluster,
        launch: Launch,
        *,
        count: int,
        strategies: Sequence[Mapping[str, Any]] = (),
        constraints: Sequence[Mapping[str, Any]] = (),
    ) -> Placed:
        if not 1 <= count <= MAX_RUN_COUNT:
            raise errors.invalid(f"count must be between 1 and {MAX_RUN_COUNT}, got {count}.")
        request = _scheduling(
            lambda: scheduling.request_for(
                launch.definition,
                count=count,
                group=launch.group,
                started_by=launch.started_by,
                overrides=launch.overrides,
                launch_type=launch.launch_type,
                strategies=strategies,
                constraints=constraints,
            )
        )
        return self._place(
            cluster,
            launch,
            lambda state: sched.plan_run_task(state, request, rng=self.rng),
        )

    def start_task(self, cluster: Cluster, launch: Launch, *, instances: Sequence[str]) -> Placed:
        if not 1 <= len(instances) <= MAX_START_INSTANCES:
            raise errors.invalid(
                f"containerInstances must name between 1 and {MAX_START_INSTANCES} instances."
            )
        request = _scheduling(
            lambda: scheduling.request_for(
                launch.definition,
                count=len(instances),
                group=launch.group,
                started_by=launch.started_by,
                overrides=launch.overrides,
                launch_type=launch.launch_type,
                instances=instances,
            )
        )
        return self._place(cluster, launch, lambda state: sched.plan_start_task(state, request))

    def _place(
        self,
        cluster: Cluster,
        launch: Launch,
        plan_on: Callable[[sched.ClusterState], sched.Plan],
    ) -> Placed:
        for _ in range(PLACEMENT_ATTEMPTS):
            earlier = self._recorded(cluster, launch)
            if earlier is not None:
                return earlier
            placed = self._attempt(cluster, launch, plan_on)
            if placed is not None:
                for arn in dict.fromkeys(t.container_instance_arn for t in placed.tasks):
                    self.notify(arn)
                return placed
            log.info("placement in %s changed under the plan; planning again", cluster.arn)
        raise AwsError(
            "ServerException",
            "The cluster changed too often to place the tasks; retry.",
            status=500,
        )

    def _recorded(self, cluster: Cluster, launch: Launch) -> Placed | None:
        """What a call with the same client token placed, if there was one."""
        if launch.client_token is None:
            return None
        recorded = self.store.client_token(cluster.scope, launch.client_token)
        if recorded is None:
            return None
        found = (self.store.task_by_arn(arn) for arn in recorded.task_arns)
        return Placed(tuple(t for t in found if t is not None), recorded.failures)

    def _attempt(
        self,
        cluster: Cluster,
        launch: Launch,
        plan_on: Callable[[sched.ClusterState], sched.Plan],
    ) -> Placed | None:
        """Plan on a snapshot and apply if the store still allows it; None if it does not."""
        window = self.settings.connection_window
        now = self.clock()
        instances = self.store.instances(cluster.arn)
        state = scheduling.snapshot(
            cluster.arn, instances, self.store.live_tasks(cluster.arn), now=now, window=window
        )
        plan: sched.Plan = _scheduling(lambda: plan_on(state))
        by_arn = {i.arn: i for i in instances}
        tasks = tuple(
            scheduling.new_task(
                task_id=self.new_task_id(),
                cluster=cluster,
                definition=launch.definition,
                instance=by_arn[p.instance_arn],
                request=plan.request,
                overrides=launch.overrides,
                now=now,
                access_key_id=launch.access_key_id,
            )
            for p in plan.placements
        )

        def still_valid(current: Sequence[ContainerInstance], live: Sequence[LiveTask]) -> bool:
            fresh = scheduling.snapshot(cluster.arn, current, live, now=now, window=window)
            return not sched.verify_plan(fresh, plan)

        failures = tuple(f.to_api() for f in plan.failures)
        token = None
        if launch.client_token is not None:
            token = ClientToken(
                scope=cluster.scope, token=launch.client_token, created_at=now, failures=failures
            )
        if tasks and not self.store.place_tasks(
            tasks, cluster_arn=cluster.arn, check=still_valid, client_token=token
        ):
            return None
        return Placed(tasks, failures)

    # -- stopping and reports -------------------------------------------------------------

    def stop_task(self, task: Task, *, reason: str | None) -> Task:
        now = self.clock()
        updated = self.store.update_task(
            task.arn,
            lambda t: request_stop(
                t, reason=reason or DEFAULT_STOP_REASON, code=USER_INITIATED, now=now
            ),
        )
        if updated is None:
            raise errors.task_not_found()
        if task.desired_status != "STOPPED":
            self.notify(updated.container_instance_arn)
        return updated

    def report(
        self, instance: ContainerInstance, states: Sequence[protocol.TaskState]
    ) -> tuple[list[str], list[str]]:
        """Apply an agent's reports, in order; (accepted, unknown) task ARNs.

        A report about a task placed on another instance is treated as unknown: an agent
        speaks only for its own tasks. A status the protocol does not have raises
        ReportError (the reports before it are applied).
        """
        accepted: list[str] = []
        unknown: list[str] = []
        for state in states:
            now = self.clock()

            def change(task: Task, state: protocol.TaskState = state, now: float = now) -> Task:
                if task.container_instance_arn != instance.arn:
                    raise _Foreign()
                return apply_report(task, state, now=now)

            try:
                updated = self.store.update_task(state.task_arn, change)
            except _Foreign:
                updated = None
            (accepted if updated is not None else unknown).append(state.task_arn)
        return accepted, unknown


class _Foreign(Exception):
    """A report about a task of another instance (rolls the read back)."""


def _scheduling(make: Callable[[], Any]) -> Any:
    """Run scheduler code; its input errors become the AWS errors they name."""
    try:
        return make()
    except sched.SchedulingInputError as exc:
        raise AwsError(exc.aws_type, str(exc)) from None
    except AwsError:
        raise
    except ValueError as exc:
        raise errors.invalid(str(exc)) from None


def _check_overrides(definition: TaskDefinition, overrides: dict[str, Any]) -> dict[str, Any]:
    names = {c["name"] for c in definition.containers}
    for override in overrides.get("containerOverrides") or ():
        name = override.get("name")
        if name not in names:
            raise errors.invalid(
                f"Override for container named {name} is not a container in the TaskDefinition."
            )
        for member in ("memory", "memoryReservation"):
            value = override.get(member)
            if value is not None and value < taskdef.MIN_CONTAINER_MEMORY:
                raise errors.invalid(f"Invalid '{member}' override for container '{name}'.")
        if (override.get("cpu") or 0) < 0:
            raise errors.invalid(f"Invalid 'cpu' override for container '{name}'.")
    for member, parse in (("cpu", taskdef.parse_task_cpu), ("memory", taskdef.parse_task_memory)):
        if overrides.get(member) is not None:
            try:
                parse(str(overrides[member]))
            except AwsError:
                raise errors.invalid(f"Invalid '{member}' override for the task.") from None
    return {k: v for k, v in overrides.items() if v not in (None, [], {})}
