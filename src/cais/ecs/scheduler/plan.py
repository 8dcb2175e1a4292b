"""What the scheduler decides: placements for the tasks that fit, failures for the rest.

Failure reasons are ECS's: ``RESOURCE:CPU``, ``RESOURCE:MEMORY``, ``RESOURCE:PORTS``,
``RESOURCE:PORTS_UDP`` (instance short of a resource), ``AGENT`` (agent disconnected),
``ATTRIBUTE`` (a ``requiresAttributes`` entry missing), the placement-constraint messages
ECS uses (``MemberOf placement constraint unsatisfied.``, ``DistinctInstance placement
constraint unsatisfied.``), and for StartTask ``MISSING`` (unknown instance) and
``INACTIVE`` (deregistered instance). As ECS does, a failure names an instance, and each
(instance, reason) pair is reported once however many tasks it turned away.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cais.ecs.scheduler.request import TaskRequest


class FailureReason(enum.StrEnum):
    RESOURCE_CPU = "RESOURCE:CPU"
    RESOURCE_MEMORY = "RESOURCE:MEMORY"
    RESOURCE_PORTS = "RESOURCE:PORTS"
    RESOURCE_PORTS_UDP = "RESOURCE:PORTS_UDP"
    AGENT = "AGENT"
    ATTRIBUTE = "ATTRIBUTE"
    MEMBER_OF = "MemberOf placement constraint unsatisfied."
    DISTINCT_INSTANCE = "DistinctInstance placement constraint unsatisfied."
    MISSING = "MISSING"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class Failure:
    """An entry of the API's ``failures`` list."""

    arn: str
    reason: FailureReason
    detail: str | None = None

    def to_api(self) -> dict[str, str]:
        shape = {"arn": self.arn, "reason": self.reason.value}
        if self.detail is not None:
            shape["detail"] = self.detail
        return shape


@dataclass(frozen=True)
class Placement:
    """Task number ``task_index`` of the request goes on ``instance_arn``."""

    task_index: int
    instance_arn: str


@dataclass(frozen=True)
class Plan:
    """The decision for one request; the control plane applies it and re-checks it."""

    request: TaskRequest
    placements: tuple[Placement, ...]
    failures: tuple[Failure, ...]

    @property
    def unplaced(self) -> int:
        return self.request.count - len(self.placements)

    def instances(self) -> tuple[str, ...]:
        """The instance of each placement, in task order."""
        return tuple(p.instance_arn for p in self.placements)
