"""The task state machine: how agents' reports and StopTask change a task.

The control plane never invents a container state: ``lastStatus``, exit codes, health and
network bindings come only from the agent's reports. What the control plane decides is the
*desired* status (RUNNING until StopTask, a deregistration or the task's own end) and the
stop code when it asks for the stop.

Reports are applied *monotonically*, which makes them idempotent and keeps them ordered
even when a retried report arrives after a newer one: a task's lastStatus only moves forward
along PROVISIONING → PENDING → ACTIVATING → RUNNING → DEACTIVATING → STOPPING →
DEPROVISIONING → STOPPED, a container's along PENDING → RUNNING → STOPPED, a timestamp once
set stays, an exit code once known stays, and a report that changes nothing leaves the task
(and its ``version``) as it was.
"""

from __future__ import annotations

from dataclasses import replace

from cais.agent import protocol
from cais.ecs.model import Container, NetworkBinding, Task

TASK_ORDER = {status: rank for rank, status in enumerate(protocol.TASK_STATUSES)}
CONTAINER_ORDER = {status: rank for rank, status in enumerate(protocol.CONTAINER_STATUSES)}
PENDING_STATUSES = ("PROVISIONING", "PENDING", "ACTIVATING")
STOPPING_STATUSES = ("DEACTIVATING", "STOPPING", "DEPROVISIONING")
HEALTH = ("HEALTHY", "UNHEALTHY", "UNKNOWN")

USER_INITIATED = "UserInitiated"
ESSENTIAL_EXITED = "EssentialContainerExited"
FAILED_TO_START = "TaskFailedToStart"
DEFAULT_STOP_REASON = "Task stopped by user"


class ReportError(ValueError):
    """A report that names a status the protocol does not have."""


def request_stop(task: Task, *, reason: str, code: str, now: float) -> Task:
    """The control plane wants the task stopped (StopTask, deregistration…).

    The first stop request wins: a second StopTask does not change the code or reason.
    """
    if task.desired_status == "STOPPED":
        return task
    return replace(
        task,
        desired_status="STOPPED",
        stopping_at=task.stopping_at or now,
        stop_code=task.stop_code or code,
        stopped_reason=task.stopped_reason or reason,
        version=task.version + 1,
    )


def apply_report(task: Task, state: protocol.TaskState, *, now: float) -> Task:
    """The task after one agent report; the same task (same version) if nothing changed."""
    if state.last_status not in TASK_ORDER:
        raise ReportError(f"unknown task status {state.last_status!r}")
    containers = tuple(_container(c, state) for c in task.containers)
    last = task.last_status
    if TASK_ORDER[state.last_status] > TASK_ORDER[last]:
        last = state.last_status
    changes: dict[str, object] = {"containers": containers, "last_status": last}
    _stamp(changes, task, "pull_started_at", state.pull_started_at)
    _stamp(changes, task, "pull_stopped_at", state.pull_stopped_at)
    _stamp(changes, task, "execution_stopped_at", state.execution_stopped_at)
    if (
        TASK_ORDER[last] >= TASK_ORDER["RUNNING"]
        and task.started_at is None
        and (last == "RUNNING" or state.started_at is not None)
    ):
        changes["started_at"] = state.started_at or now
    if last in STOPPING_STATUSES or last == "STOPPED":
        changes["stopping_at"] = task.stopping_at or now
        if task.desired_status != "STOPPED":
            changes["desired_status"] = "STOPPED"
        if state.stop_code and not task.stop_code:
            changes["stop_code"] = state.stop_code
        if state.stopped_reason and not task.stopped_reason:
            changes["stopped_reason"] = state.stopped_reason
    if last == "STOPPED" and task.stopped_at is None:
        changes["stopped_at"] = now
        changes["execution_stopped_at"] = task.execution_stopped_at or (
            state.execution_stopped_at or now
        )
    if state.private_ipv4 and not task.private_ipv4:
        changes["private_ipv4"] = state.private_ipv4
    if last == "RUNNING" and task.connectivity_at is None:
        changes["connectivity_at"] = now
    candidate = replace(task, **changes)  # type: ignore[arg-type]
    candidate = replace(candidate, health_status=task_health(candidate))
    if candidate == task:
        return task
    return replace(candidate, version=task.version + 1)


def _stamp(changes: dict[str, object], task: Task, name: str, value: float | None) -> None:
    if value is not None and getattr(task, name) is None:
        changes[name] = value


def _container(container: Container, state: protocol.TaskState) -> Container:
    report = next((c for c in state.containers if c.name == container.name), None)
    if report is None:
        return container
    if report.last_status not in CONTAINER_ORDER:
        raise ReportError(f"unknown container status {report.last_status!r}")
    changes: dict[str, object] = {}
    if CONTAINER_ORDER[report.last_status] > CONTAINER_ORDER[container.last_status]:
        changes["last_status"] = report.last_status
    stopped = container.last_status == "STOPPED"
    if report.exit_code is not None and container.exit_code is None:
        changes["exit_code"] = report.exit_code
    if report.reason and not container.reason:
        changes["reason"] = report.reason
    if report.runtime_id and not container.runtime_id:
        changes["runtime_id"] = report.runtime_id
    if report.image_digest and not container.image_digest:
        changes["image_digest"] = report.image_digest
    if not stopped:
        if report.health_status in HEALTH and report.health_status != container.health_status:
            changes["health_status"] = report.health_status
        if report.network_bindings:
            changes["network_bindings"] = tuple(
                NetworkBinding(b.container_port, b.host_port, b.protocol, b.bind_ip)
                for b in report.network_bindings
            )
    return replace(container, **changes) if changes else container  # type: ignore[arg-type]


def task_health(task: Task) -> str:
    """ECS's task health: from the essential containers that have a health check.

    All of them HEALTHY → HEALTHY; any UNHEALTHY → UNHEALTHY; otherwise UNKNOWN (also when
    no essential container has a health check).
    """
    checked = [c for c in task.containers if c.essential and c.has_health_check]
    if not checked:
        return "UNKNOWN"
    statuses = {c.health_status for c in checked}
    if "UNHEALTHY" in statuses:
        return "UNHEALTHY"
    if statuses == {"HEALTHY"}:
        return "HEALTHY"
    return "UNKNOWN"


def is_pending(task: Task) -> bool:
    return task.last_status in PENDING_STATUSES


def holds_resources(task: Task) -> bool:
    """A task reserves its resources on the instance until it has stopped."""
    return task.last_status != "STOPPED"
