"""Placement strategies and constraints as values, and their ECS API spelling.

A *strategy* ranks the instances that can take a task (``binpack``, ``spread``,
``random``); strategies are applied in order, each breaking the ties of the one before.
A *constraint* removes instances (``distinctInstance``, ``memberOf``); constraints are
binding, strategies are best effort.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cais.ecs.scheduler.errors import PlacementError
from cais.ecs.scheduler.query import Expression, parse_expression

MAX_STRATEGIES = 5
MAX_CONSTRAINTS = 10


class BinpackField(enum.StrEnum):
    CPU = "cpu"
    MEMORY = "memory"


@dataclass(frozen=True)
class BinpackStrategy:
    """Prefer the instance with the least remaining ``field`` that still fits the task."""

    field: BinpackField

    def to_api(self) -> dict[str, str]:
        return {"type": "binpack", "field": self.field.value}


INSTANCE_FIELDS = frozenset({"instanceId", "host"})


@dataclass(frozen=True)
class SpreadStrategy:
    """Prefer instances whose ``field`` value has the fewest tasks of the request's group.

    ``field`` is ``instanceId`` (or ``host``, the same) to balance across instances, or
    ``attribute:<name>`` to balance across the values of an attribute, such as zones.
    """

    field: str

    @property
    def attribute(self) -> str | None:
        """The attribute spread over, or None when spreading over instances."""
        if self.field in INSTANCE_FIELDS:
            return None
        return self.field.removeprefix("attribute:")

    def to_api(self) -> dict[str, str]:
        return {"type": "spread", "field": self.field}


@dataclass(frozen=True)
class RandomStrategy:
    """Place on a random instance (drawn from the seeded generator the caller passes)."""

    def to_api(self) -> dict[str, str]:
        return {"type": "random"}


PlacementStrategy = BinpackStrategy | SpreadStrategy | RandomStrategy


@dataclass(frozen=True)
class DistinctInstance:
    """No two tasks of the same group on one instance."""

    def to_api(self) -> dict[str, str]:
        return {"type": "distinctInstance"}


@dataclass(frozen=True)
class MemberOf:
    """Only instances that satisfy a cluster query language expression."""

    expression: Expression
    text: str

    @classmethod
    def parse(cls, text: str) -> MemberOf:
        return cls(parse_expression(text), text)

    def to_api(self) -> dict[str, str]:
        return {"type": "memberOf", "expression": self.text}


PlacementConstraint = DistinctInstance | MemberOf

AVAILABILITY_ZONE_SPREAD = SpreadStrategy("attribute:ecs.availability-zone")
"""What ECS uses for a service's tasks when no strategy is given."""


def strategy_from_api(shape: Mapping[str, object]) -> PlacementStrategy:
    """A PlacementStrategy from its API shape ``{"type": ..., "field": ...}``."""
    kind = shape.get("type")
    field = shape.get("field")
    if kind == "random":
        return RandomStrategy()
    if kind == "binpack":
        if field not in ("cpu", "memory"):
            raise PlacementError(
                f"Invalid binpack field {field!r}: the field must be cpu or memory."
            )
        return BinpackStrategy(BinpackField(field))
    if kind == "spread":
        if not isinstance(field, str) or not field:
            raise PlacementError("A spread placement strategy requires a field.")
        if field not in INSTANCE_FIELDS and (
            not field.startswith("attribute:") or field == "attribute:"
        ):
            raise PlacementError(
                f"Invalid spread field {field!r}: use instanceId, host or attribute:<name>."
            )
        return SpreadStrategy(field)
    raise PlacementError(
        f"Invalid placement strategy type {kind!r}: valid types are random, spread, binpack."
    )


def constraint_from_api(shape: Mapping[str, object]) -> PlacementConstraint:
    """A PlacementConstraint from its API shape ``{"type": ..., "expression": ...}``."""
    kind = shape.get("type")
    expression = shape.get("expression")
    if kind == "distinctInstance":
        if expression is not None:
            raise PlacementError("distinctInstance expression should not be specified.")
        return DistinctInstance()
    if kind == "memberOf":
        if not isinstance(expression, str) or not expression.strip():
            raise PlacementError("memberOf expression must be specified.")
        return MemberOf.parse(expression)
    raise PlacementError(
        f"Invalid placement constraint type {kind!r}: valid types are distinctInstance, memberOf."
    )


def strategies_from_api(shapes: Iterable[Mapping[str, object]]) -> tuple[PlacementStrategy, ...]:
    strategies = tuple(strategy_from_api(s) for s in shapes)
    if len(strategies) > MAX_STRATEGIES:
        raise PlacementError(
            f"You can specify a maximum of {MAX_STRATEGIES} placement strategy rules."
        )
    return strategies


def constraints_from_api(
    shapes: Iterable[Mapping[str, object]],
) -> tuple[PlacementConstraint, ...]:
    constraints = tuple(constraint_from_api(s) for s in shapes)
    if len(constraints) > MAX_CONSTRAINTS:
        raise PlacementError(
            f"You can specify a maximum of {MAX_CONSTRAINTS} placement constraints."
        )
    return constraints
