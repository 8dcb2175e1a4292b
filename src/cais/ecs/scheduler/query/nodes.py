"""The syntax tree of a cluster query language expression.

An expression is a boolean tree (:class:`And`, :class:`Or`, :class:`Not`) over
:class:`Comparison` leaves of the form ``subject operator [argument]``. Each comparison is
compiled to a predicate when it is parsed (dates, numbers and regexes are converted once),
so evaluating a tree against many instances only calls small functions.

A tree is evaluated against a :class:`QuerySubject`: a container instance together with
what runs on it. During planning the subject is the instance *as the plan leaves it*, so
``task:group`` and ``runningTasksCount`` see the tasks placed earlier in the same plan.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import Protocol

from cais.ecs.scheduler.state import ContainerInstance


class QuerySubject(Protocol):
    """What an expression can ask about one container instance."""

    @property
    def instance(self) -> ContainerInstance: ...

    @property
    def running_tasks_count(self) -> int: ...

    @property
    def task_groups(self) -> Set[str]: ...


class SubjectKind(enum.StrEnum):
    """The left-hand side of a comparison (``attribute`` carries a name)."""

    AGENT_CONNECTED = "agentConnected"
    AGENT_VERSION = "agentVersion"
    ATTRIBUTE = "attribute"
    EC2_INSTANCE_ID = "ec2InstanceId"
    REGISTERED_AT = "registeredAt"
    RUNNING_TASKS_COUNT = "runningTasksCount"
    TASK_GROUP = "task:group"


class Operator(enum.StrEnum):
    """Comparison operators, by their symbolic spelling."""

    EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER = ">"
    GREATER_EQUAL = ">="
    LESS = "<"
    LESS_EQUAL = "<="
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    IN = "in"
    NOT_IN = "not_in"
    MATCHES = "=~"
    NOT_MATCHES = "!~"

    @property
    def takes_list(self) -> bool:
        return self in (Operator.IN, Operator.NOT_IN)

    @property
    def takes_argument(self) -> bool:
        return self not in (Operator.EXISTS, Operator.NOT_EXISTS)


Predicate = Callable[[QuerySubject], bool]

_BARE = re.compile(r"[^\s()\[\],'\"=!<>~&|]+")


def render_value(value: str) -> str:
    """A value as it would be written back: bare when the lexer reads it back as one word."""
    if _BARE.fullmatch(value):
        return value
    return "'" + value.replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Comparison:
    """``subject operator [argument]``; ``position`` is where the subject starts."""

    subject: SubjectKind
    operator: Operator
    arguments: tuple[str, ...] = ()
    attribute: str | None = None
    position: int = field(default=0, compare=False)
    test: Predicate = field(default=lambda _: False, compare=False, repr=False)

    @property
    def subject_text(self) -> str:
        if self.subject is SubjectKind.ATTRIBUTE:
            return f"attribute:{self.attribute}"
        return self.subject.value

    @property
    def reads_tasks(self) -> bool:
        """Whether the answer depends on the tasks on the instance (changes while planning)."""
        return self.subject in (SubjectKind.TASK_GROUP, SubjectKind.RUNNING_TASKS_COUNT)

    def holds(self, subject: QuerySubject) -> bool:
        return self.test(subject)

    def __str__(self) -> str:
        head = f"{self.subject_text} {self.operator.value}"
        if not self.operator.takes_argument:
            return head
        if self.operator.takes_list:
            return f"{head} [{', '.join(render_value(a) for a in self.arguments)}]"
        return f"{head} {render_value(self.arguments[0])}"


@dataclass(frozen=True)
class Not:
    operand: Expression

    @property
    def reads_tasks(self) -> bool:
        return self.operand.reads_tasks

    def holds(self, subject: QuerySubject) -> bool:
        return not self.operand.holds(subject)

    def __str__(self) -> str:
        return f"not ({self.operand})"


@dataclass(frozen=True)
class And:
    left: Expression
    right: Expression

    @property
    def reads_tasks(self) -> bool:
        return self.left.reads_tasks or self.right.reads_tasks

    def holds(self, subject: QuerySubject) -> bool:
        return self.left.holds(subject) and self.right.holds(subject)

    def __str__(self) -> str:
        return f"{_operand(self.left)} and {_operand(self.right)}"


@dataclass(frozen=True)
class Or:
    left: Expression
    right: Expression

    @property
    def reads_tasks(self) -> bool:
        return self.left.reads_tasks or self.right.reads_tasks

    def holds(self, subject: QuerySubject) -> bool:
        return self.left.holds(subject) or self.right.holds(subject)

    def __str__(self) -> str:
        return f"{self.left} or {self.right}"


def _operand(expression: Expression) -> str:
    """An ``and`` operand, parenthesised when it is an ``or`` (which binds looser)."""
    return f"({expression})" if isinstance(expression, Or) else str(expression)


Expression = Comparison | Not | And | Or
