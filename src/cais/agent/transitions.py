"""The task transition table: from (desired, known) status to the action that moves on.

Like the ECS agent, a task supervisor never improvises: it looks up its desired and known
status here, runs the named action, and on success takes the next known status. An action
that cannot finish (the desired status changed meanwhile, a start failed) leaves the known
status as it is, and the next lookup, with the new desired status, says what to do.

::

    desired RUNNING:  PROVISIONING ─provision→ PENDING ─pull→ ACTIVATING ─activate→ RUNNING
                      RUNNING: watch (containers exit, health changes)
    desired STOPPED:  PROVISIONING … RUNNING ─deactivate→ DEACTIVATING ─stop→ STOPPING
                      STOPPING ─deprovision→ DEPROVISIONING ─finish→ STOPPED
"""

from __future__ import annotations

from dataclasses import dataclass

from cais.agent.protocol import TASK_STATUSES


@dataclass(frozen=True)
class Step:
    action: str  # the supervisor's method to run
    next: str | None  # the known status once it succeeded (None: stay, e.g. watching)


_STARTING = {
    "PROVISIONING": Step("provision", "PENDING"),
    "PENDING": Step("pull", "ACTIVATING"),
    "ACTIVATING": Step("activate", "RUNNING"),
    "RUNNING": Step("watch", None),
}
_STOPPING = {
    **{status: Step("deactivate", "DEACTIVATING") for status in TASK_STATUSES[:4]},
    "DEACTIVATING": Step("stop_containers", "STOPPING"),
    "STOPPING": Step("deprovision", "DEPROVISIONING"),
    "DEPROVISIONING": Step("finish", "STOPPED"),
}

TABLE: dict[tuple[str, str], Step] = {
    **{("RUNNING", known): step for known, step in _STARTING.items()},
    **{("STOPPED", known): step for known, step in _STOPPING.items()},
}


def next_step(desired: str, known: str) -> Step | None:
    """What to do now; None once nothing is left to do (the task is STOPPED).

    A task whose desired status is RUNNING again after it started stopping goes on
    stopping: ECS never brings a stopping task back (the control plane starts a new one).
    """
    if known in ("DEACTIVATING", "STOPPING", "DEPROVISIONING"):
        desired = "STOPPED"
    return TABLE.get((desired, known))


def rank(status: str) -> int:
    """Position in the lifecycle (known statuses only move forward)."""
    return TASK_STATUSES.index(status)
