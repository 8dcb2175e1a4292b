"""Turning one comparison into a predicate, with the meaning each subject gives operators.

Decisions where the ECS documentation is silent:

- ``attribute:x`` with a negative operator (``!=``, ``not_in``, ``!~``) or an ordering
  operator needs the attribute to exist: ECS documents ``attribute:stack != prod`` as
  "instances with the attribute *stack* unless its value is *prod*".
  Ordering compares numerically when both sides are numbers, else as strings.
- ``task:group`` is a set (the groups of the tasks on the instance): ``==``/``in``/``=~``
  hold when *some* task matches, and their negations hold when *none* does; ``exists``
  holds when the instance runs any task.
- ``registeredAt`` against a date without a time: ``==``/``!=`` compare the day (UTC),
  ordering compares with midnight UTC of that day.
- ``=~`` matches the whole value (Java's ``String.matches``), with Python's ``re``.
- ``runningTasksCount`` and ``task:group`` count every task on the instance that is not
  STOPPED (a PENDING task occupies the instance as much as a RUNNING one), and during
  planning the tasks the plan itself has placed there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from datetime import UTC, date, datetime
from operator import eq, ge, gt, le, lt, ne
from typing import Any

from cais.ecs.scheduler.errors import ExpressionError
from cais.ecs.scheduler.query.nodes import Operator, Predicate, QuerySubject, SubjectKind

_EQUALITY = frozenset(
    {
        Operator.EQUALS,
        Operator.NOT_EQUALS,
        Operator.IN,
        Operator.NOT_IN,
        Operator.MATCHES,
        Operator.NOT_MATCHES,
    }
)
_ORDERING = frozenset(
    {
        Operator.EQUALS,
        Operator.NOT_EQUALS,
        Operator.GREATER,
        Operator.GREATER_EQUAL,
        Operator.LESS,
        Operator.LESS_EQUAL,
    }
)
_EXISTENCE = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})

VALID_OPERATORS: dict[SubjectKind, frozenset[Operator]] = {
    SubjectKind.AGENT_CONNECTED: _EQUALITY,
    SubjectKind.EC2_INSTANCE_ID: _EQUALITY,
    SubjectKind.AGENT_VERSION: _ORDERING,
    SubjectKind.REGISTERED_AT: _ORDERING,
    SubjectKind.RUNNING_TASKS_COUNT: _ORDERING,
    SubjectKind.ATTRIBUTE: _EQUALITY | _ORDERING | _EXISTENCE,
    SubjectKind.TASK_GROUP: _EQUALITY | _EXISTENCE,
}

_NEGATED = {
    Operator.NOT_EQUALS: Operator.EQUALS,
    Operator.NOT_IN: Operator.IN,
    Operator.NOT_MATCHES: Operator.MATCHES,
    Operator.NOT_EXISTS: Operator.EXISTS,
}


class Argument:
    """Where an argument came from, so a conversion error can point at it."""

    __slots__ = ("position", "text")

    def __init__(self, text: str, position: int) -> None:
        self.text = text
        self.position = position


def build_predicate(
    subject: SubjectKind,
    attribute: str | None,
    operator: Operator,
    arguments: list[Argument],
    *,
    expression: str,
) -> Predicate:
    """The predicate for ``subject operator arguments``; raises ExpressionError on bad input."""

    def fail(detail: str, position: int) -> ExpressionError:
        return ExpressionError(detail, expression=expression, position=position)

    pattern = None
    if operator in (Operator.MATCHES, Operator.NOT_MATCHES):
        pattern = _regex(arguments[0], fail)
    match subject:
        case SubjectKind.ATTRIBUTE:
            assert attribute is not None
            return _attribute(attribute, operator, arguments, pattern)
        case SubjectKind.TASK_GROUP:
            return _task_group(operator, arguments, pattern)
        case SubjectKind.EC2_INSTANCE_ID:
            return _scalar(lambda s: s.instance.ec2_instance_id, operator, arguments, pattern)
        case SubjectKind.AGENT_CONNECTED:
            if pattern is not None:
                return _scalar(_agent_connected_text, operator, arguments, pattern)
            wanted = frozenset(_boolean(a, fail) for a in arguments)
            positive = operator in (Operator.EQUALS, Operator.IN)
            return lambda s: (s.instance.agent_connected in wanted) is positive
        case SubjectKind.RUNNING_TASKS_COUNT:
            count = _integer(arguments[0], fail)
            return _ordered(lambda s: s.running_tasks_count, operator, count)
        case SubjectKind.AGENT_VERSION:
            version = _version(arguments[0].text)
            if version is None:
                raise fail(
                    f"agentVersion compares with a version such as 1.14.5, "
                    f"not {arguments[0].text!r}",
                    arguments[0].position,
                )
            return _ordered(lambda s: _version(s.instance.agent_version), operator, version)
        case SubjectKind.REGISTERED_AT:
            return _registered_at(operator, arguments[0], fail)
    raise AssertionError(subject)  # pragma: no cover - every kind is handled above


def _agent_connected_text(subject: QuerySubject) -> str:
    return "true" if subject.instance.agent_connected else "false"


# -- conversions -----------------------------------------------------------------------

Fail = Callable[[str, int], ExpressionError]


def _regex(argument: Argument, fail: Fail) -> re.Pattern[str]:
    try:
        return re.compile(argument.text)
    except re.error as error:
        raise fail(
            f"invalid regular expression {argument.text!r}: {error.msg}", argument.position
        ) from None


def _boolean(argument: Argument, fail: Fail) -> bool:
    lowered = argument.text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise fail(
        f"agentConnected compares with true or false, not {argument.text!r}", argument.position
    )


def _integer(argument: Argument, fail: Fail) -> int:
    try:
        return int(argument.text)
    except ValueError:
        raise fail(
            f"runningTasksCount compares with a whole number, not {argument.text!r}",
            argument.position,
        ) from None


_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")


def _version(text: str) -> tuple[int, ...] | None:
    found = _VERSION.fullmatch(text.strip())
    if found is None:
        return None
    return tuple(int(part) for part in found.group(1).split("."))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# -- predicates per subject ------------------------------------------------------------


_ORDERINGS: dict[Operator, Callable[[Any, Any], Any]] = {
    Operator.EQUALS: eq,
    Operator.NOT_EQUALS: ne,
    Operator.GREATER: gt,
    Operator.GREATER_EQUAL: ge,
    Operator.LESS: lt,
    Operator.LESS_EQUAL: le,
}


def _compare(left: object, op: Operator, right: object) -> bool:
    """``left op right`` for two values of one comparable type."""
    return bool(_ORDERINGS[op](left, right))


def _ordered(
    value_of: Callable[[QuerySubject], object | None], operator: Operator, argument: object
) -> Predicate:
    """An ordering comparison; an instance without a comparable value never matches."""

    def test(subject: QuerySubject) -> bool:
        value = value_of(subject)
        return value is not None and _compare(value, operator, argument)

    return test


def _scalar(
    value_of: Callable[[QuerySubject], str],
    operator: Operator,
    arguments: list[Argument],
    pattern: re.Pattern[str] | None,
) -> Predicate:
    """Equality, membership and matching on a value every instance has."""
    positive = _NEGATED.get(operator, operator)
    wanted = frozenset(a.text for a in arguments)
    negate = positive is not operator
    if positive is Operator.MATCHES:
        assert pattern is not None
        regex = pattern
        return lambda s: (regex.fullmatch(value_of(s)) is not None) is not negate
    return lambda s: (value_of(s) in wanted) is not negate


def _attribute(
    name: str, operator: Operator, arguments: list[Argument], pattern: re.Pattern[str] | None
) -> Predicate:
    if operator is Operator.EXISTS:
        return lambda s: name in s.instance.attributes
    if operator is Operator.NOT_EXISTS:
        return lambda s: name not in s.instance.attributes
    if pattern is not None:
        regex = pattern
        want = operator is Operator.MATCHES

        def matches(subject: QuerySubject) -> bool:
            attributes = subject.instance.attributes
            if name not in attributes:
                return False
            value = attributes[name]
            return (value is not None and regex.fullmatch(value) is not None) is want

        return matches
    if operator in (Operator.IN, Operator.NOT_IN):
        wanted = frozenset(a.text for a in arguments)
        inside = operator is Operator.IN

        def member(subject: QuerySubject) -> bool:
            attributes = subject.instance.attributes
            return name in attributes and (attributes[name] in wanted) is inside

        return member
    argument = arguments[0].text
    argument_number = _number(argument)

    def compare(subject: QuerySubject) -> bool:
        attributes = subject.instance.attributes
        if name not in attributes:
            return False
        value = attributes[name]
        if operator in (Operator.EQUALS, Operator.NOT_EQUALS):
            return _compare(value, operator, argument)
        if value is None:
            return False
        value_number = _number(value)
        if value_number is not None and argument_number is not None:
            return _compare(value_number, operator, argument_number)
        return _compare(value, operator, argument)

    return compare


def _task_group(
    operator: Operator, arguments: list[Argument], pattern: re.Pattern[str] | None
) -> Predicate:
    positive = _NEGATED.get(operator, operator)
    negate = positive is not operator
    test: Callable[[Set[str]], bool]
    if positive is Operator.EXISTS:
        test = bool
    elif pattern is not None:
        regex = pattern
        test = lambda groups: any(regex.fullmatch(g) for g in groups)  # noqa: E731
    else:
        wanted = frozenset(a.text for a in arguments)
        test = lambda groups: not wanted.isdisjoint(groups)  # noqa: E731
    return lambda s: test(s.task_groups) is not negate


def _registered_at(operator: Operator, argument: Argument, fail: Fail) -> Predicate:
    moment, day_only = _moment(argument, fail)
    if day_only and operator in (Operator.EQUALS, Operator.NOT_EQUALS):
        day = moment.date()
        same = operator is Operator.EQUALS
        return lambda s: (s.instance.registered_at.astimezone(UTC).date() == day) is same
    return _ordered(lambda s: s.instance.registered_at, operator, moment)


def _moment(argument: Argument, fail: Fail) -> tuple[datetime, bool]:
    """A date or date-time argument as an aware datetime, and whether it had no time."""
    text = argument.text
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC), True
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"registeredAt compares with a date such as 2018-06-18 or "
            f"2018-06-18T22:28:28Z, not {text!r}",
            argument.position,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, False
