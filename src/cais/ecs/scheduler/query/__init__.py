"""The ECS cluster query language: placement ``memberOf`` constraints and instance filters.

``parse_expression`` turns text into a tree (or raises ExpressionError naming the column);
``evaluate`` answers it for one instance of a snapshot.
"""

from cais.ecs.scheduler.query.evaluate import InstanceFacts, evaluate, select_instances
from cais.ecs.scheduler.query.nodes import (
    And,
    Comparison,
    Expression,
    Not,
    Operator,
    Or,
    QuerySubject,
    SubjectKind,
)
from cais.ecs.scheduler.query.parser import MAX_LENGTH, parse_expression

__all__ = [
    "MAX_LENGTH",
    "And",
    "Comparison",
    "Expression",
    "InstanceFacts",
    "Not",
    "Operator",
    "Or",
    "QuerySubject",
    "SubjectKind",
    "evaluate",
    "parse_expression",
    "select_instances",
]
