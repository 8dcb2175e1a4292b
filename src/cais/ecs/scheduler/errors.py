"""Errors the scheduler raises for bad input, each naming the AWS error type to answer with.

The scheduler is pure and knows nothing of the wire; the ECS provider turns these into
AWS errors by reading ``aws_type`` (ECS answers bad placement input and an empty cluster
with ``InvalidParameterException``).
"""

from __future__ import annotations

from typing import ClassVar

from cais.errors import InvalidArgumentError


class SchedulingInputError(InvalidArgumentError):
    """Input the scheduler cannot work with; ``aws_type`` is the ECS exception name."""

    aws_type: ClassVar[str] = "InvalidParameterException"


class ExpressionError(SchedulingInputError):
    """A cluster query language expression that does not parse or does not type-check.

    ``position`` is the 0-based offset of the offending character in ``expression``; the
    message says it 1-based, as a column, because people count from one.
    """

    def __init__(self, detail: str, *, expression: str, position: int) -> None:
        self.detail = detail
        self.expression = expression
        self.position = position
        super().__init__(f"Invalid expression at column {position + 1}: {detail}")


class PlacementError(SchedulingInputError):
    """A placement strategy or constraint that ECS would refuse (unknown type, bad field)."""


class NoContainerInstancesError(SchedulingInputError):
    """RunTask on a cluster with no container instance that could ever take a task."""

    def __init__(self) -> None:
        super().__init__("No Container Instances were found in your cluster.")
