"""What to place: one task definition's needs, how many copies, and how to place them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

from cais.ecs.scheduler.placement import PlacementConstraint, PlacementStrategy

EXTERNAL_CAPABILITY = "ecs.capability.external"
"""The attribute ECS gives external (ECS Anywhere) instances."""


class LaunchType(enum.StrEnum):
    EC2 = "EC2"
    EXTERNAL = "EXTERNAL"
    FARGATE = "FARGATE"


class TransportProtocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True)
class PortRequest:
    """A host port the task binds; 0 asks for a dynamic port, which needs no reservation."""

    host_port: int
    protocol: TransportProtocol = TransportProtocol.TCP

    def __post_init__(self) -> None:
        if not 0 <= self.host_port <= 65535:
            raise ValueError(f"host port {self.host_port} is outside 0-65535")


@dataclass(frozen=True)
class RequiredAttribute:
    """An attribute the task definition requires (``requiresAttributes``): ECS's ATTRIBUTE."""

    name: str
    value: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskRequest:
    """``count`` identical tasks of one task definition to place.

    ``group`` defaults to ``family:<family>`` as ECS does for standalone tasks (a service's
    tasks use ``service:<name>``). ``container_instances`` is StartTask's explicit list;
    RunTask and services leave it empty and let the strategies choose.
    """

    task_definition_arn: str
    family: str
    cpu: int = 0
    memory: int = 0
    ports: tuple[PortRequest, ...] = ()
    launch_type: LaunchType = LaunchType.EC2
    count: int = 1
    group: str = ""
    started_by: str | None = None
    placement_constraints: tuple[PlacementConstraint, ...] = ()
    placement_strategy: tuple[PlacementStrategy, ...] = ()
    container_instances: tuple[str, ...] = ()
    required_attributes: tuple[RequiredAttribute, ...] = ()

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, not {self.count}")
        if self.cpu < 0 or self.memory < 0:
            raise ValueError("cpu and memory cannot be negative")
        if not self.group:
            object.__setattr__(self, "group", f"family:{self.family}")

    @cached_property
    def tcp_ports(self) -> frozenset[int]:
        """The fixed TCP host ports one task reserves."""
        return self._fixed(TransportProtocol.TCP)

    @cached_property
    def udp_ports(self) -> frozenset[int]:
        """The fixed UDP host ports one task reserves."""
        return self._fixed(TransportProtocol.UDP)

    def _fixed(self, protocol: TransportProtocol) -> frozenset[int]:
        return frozenset(p.host_port for p in self.ports if p.protocol is protocol and p.host_port)
