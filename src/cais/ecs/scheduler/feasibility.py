"""Feasibility checkers: each asks one question of a candidate, in ECS's order.

ECS first keeps the instances with the CPU, memory and ports the task needs, then those
that satisfy the constraints. The first question an instance fails gives the reason it is
reported with. A checker is *static* when its answer cannot change while a plan is built
(agent, attributes, a ``memberOf`` that reads no task facts); those are asked once per
instance, the others again after each task placed on that instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cais.ecs.scheduler.candidate import Candidate
from cais.ecs.scheduler.placement import DistinctInstance, MemberOf
from cais.ecs.scheduler.plan import FailureReason
from cais.ecs.scheduler.query import Expression
from cais.ecs.scheduler.request import RequiredAttribute, TaskRequest


class FeasibilityCheck(Protocol):
    """One question about a candidate; ``reason`` is reported when the answer is no."""

    @property
    def reason(self) -> FailureReason: ...

    @property
    def static(self) -> bool: ...

    def holds(self, candidate: Candidate) -> bool: ...


@dataclass(frozen=True)
class AgentConnected:
    reason: FailureReason = FailureReason.AGENT
    static: bool = True

    def holds(self, candidate: Candidate) -> bool:
        return candidate.instance.agent_connected


@dataclass(frozen=True)
class EnoughCpu:
    cpu: int
    reason: FailureReason = FailureReason.RESOURCE_CPU
    static: bool = False

    def holds(self, candidate: Candidate) -> bool:
        return candidate.cpu >= self.cpu


@dataclass(frozen=True)
class EnoughMemory:
    memory: int
    reason: FailureReason = FailureReason.RESOURCE_MEMORY
    static: bool = False

    def holds(self, candidate: Candidate) -> bool:
        return candidate.memory >= self.memory


@dataclass(frozen=True)
class TcpPortsFree:
    ports: frozenset[int]
    reason: FailureReason = FailureReason.RESOURCE_PORTS
    static: bool = False

    def holds(self, candidate: Candidate) -> bool:
        return self.ports.isdisjoint(candidate.tcp_ports)


@dataclass(frozen=True)
class UdpPortsFree:
    ports: frozenset[int]
    reason: FailureReason = FailureReason.RESOURCE_PORTS_UDP
    static: bool = False

    def holds(self, candidate: Candidate) -> bool:
        return self.ports.isdisjoint(candidate.udp_ports)


@dataclass(frozen=True)
class HasAttributes:
    """The task definition's ``requiresAttributes``: name present (and value, if given)."""

    required: tuple[RequiredAttribute, ...]
    reason: FailureReason = FailureReason.ATTRIBUTE
    static: bool = True

    def holds(self, candidate: Candidate) -> bool:
        attributes = candidate.instance.attributes
        return all(
            r.name in attributes and (r.value is None or attributes[r.name] == r.value)
            for r in self.required
        )


@dataclass(frozen=True)
class SatisfiesExpression:
    expression: Expression
    reason: FailureReason = FailureReason.MEMBER_OF

    @property
    def static(self) -> bool:
        return not self.expression.reads_tasks

    def holds(self, candidate: Candidate) -> bool:
        return self.expression.holds(candidate)


@dataclass(frozen=True)
class NoTaskOfGroup:
    """``distinctInstance``: the instance runs no task of the group (the plan's included)."""

    reason: FailureReason = FailureReason.DISTINCT_INSTANCE
    static: bool = False

    def holds(self, candidate: Candidate) -> bool:
        return candidate.group_count == 0


def checks_for(request: TaskRequest) -> tuple[FeasibilityCheck, ...]:
    """The pipeline for a request, leaving out questions that cannot fail."""
    checks: list[FeasibilityCheck] = [AgentConnected()]
    if request.cpu:
        checks.append(EnoughCpu(request.cpu))
    if request.memory:
        checks.append(EnoughMemory(request.memory))
    if request.tcp_ports:
        checks.append(TcpPortsFree(request.tcp_ports))
    if request.udp_ports:
        checks.append(UdpPortsFree(request.udp_ports))
    if request.required_attributes:
        checks.append(HasAttributes(request.required_attributes))
    for constraint in request.placement_constraints:
        if isinstance(constraint, MemberOf):
            checks.append(SatisfiesExpression(constraint.expression))
    if any(isinstance(c, DistinctInstance) for c in request.placement_constraints):
        checks.append(NoTaskOfGroup())
    return tuple(checks)


class Feasibility:
    """The chained checkers for one request.

    ``prepare`` asks the static questions once and remembers the first that fails;
    ``failure`` then asks only the dynamic questions that come before it.
    """

    def __init__(self, checks: Sequence[FeasibilityCheck]) -> None:
        self.checks = tuple(checks)
        self._static = tuple((i, c) for i, c in enumerate(self.checks) if c.static)
        self._dynamic = tuple((i, c) for i, c in enumerate(self.checks) if not c.static)

    def prepare(self, candidate: Candidate) -> None:
        candidate.static_failure = next(
            (i for i, check in self._static if not check.holds(candidate)), None
        )

    def failure(self, candidate: Candidate) -> FailureReason | None:
        """The reason the candidate cannot take one more task, or None if it can."""
        limit = candidate.static_failure
        for index, check in self._dynamic:
            if limit is not None and index > limit:
                break
            if not check.holds(candidate):
                return check.reason
        if limit is not None:
            return self.checks[limit].reason
        return None
