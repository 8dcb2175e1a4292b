"""The cluster query language: parsing, rendering, evaluation and error messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cais.ecs.scheduler import (
    ClusterState,
    ContainerInstance,
    ExpressionError,
    PlacedTask,
    evaluate,
    make_instance,
    parse_expression,
    select_instances,
)
from cais.ecs.scheduler.query import And, Comparison, Not, Operator, Or, SubjectKind


def _task(instance: ContainerInstance, group: str, n: int) -> PlacedTask:
    return PlacedTask(
        arn=f"task-{n}",
        container_instance_arn=instance.arn,
        task_definition_arn="arn:td/web:1",
        family="web",
        group=group,
    )


SMALL = make_instance(
    "small",
    zone="us-east-1a",
    instance_type="t2.small",
    attributes={"stack": "prod", "gpu": None, "size": "8"},
    registered_at=datetime(2018, 6, 18, 22, 28, 28, tzinfo=UTC),
    agent_version="1.14.5",
)
LARGE = make_instance(
    "large",
    zone="us-east-1b",
    instance_type="g2.2xlarge",
    attributes={"stack": "dev", "size": "16"},
    registered_at=datetime(2020, 1, 1, tzinfo=UTC),
    agent_version="1.80.0",
)
GONE = make_instance(
    "gone",
    zone="us-east-1d",
    instance_type="t2.medium",
    agent_connected=False,
    registered_at=datetime(2017, 1, 1, tzinfo=UTC),
    agent_version="1.9.0",
)
STATE = ClusterState.of(
    [SMALL, LARGE, GONE],
    [
        _task(SMALL, "service:production", 1),
        _task(SMALL, "database", 2),
        _task(LARGE, "service:production", 3),
    ],
)


def names(text: str) -> list[str]:
    """The names of the instances that match ``text``."""
    return [i.id for i in select_instances(parse_expression(text), STATE)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # string equality and its word forms
        ("attribute:ecs.instance-type == t2.small", ["small"]),
        ("attribute:ecs.instance-type equals t2.small", ["small"]),
        ("attribute:ecs.instance-type != t2.small", ["large", "gone"]),
        ("attribute:ecs.instance-type not_equals t2.small", ["large", "gone"]),
        # != needs the attribute: "instances with stack unless it is prod"
        ("attribute:stack != prod", ["large"]),
        # existence, including a name-only attribute
        ("attribute:gpu exists", ["small"]),
        ("attribute:gpu !exists", ["large", "gone"]),
        ("attribute:gpu not_exists", ["large", "gone"]),
        # lists
        ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", ["small", "large"]),
        ("attribute:ecs.availability-zone not_in [us-east-1a, us-east-1b]", ["gone"]),
        ("attribute:ecs.availability-zone !in [us-east-1a]", ["large", "gone"]),
        ("attribute:stack not_in [prod]", ["large"]),
        # patterns match the whole value
        ("attribute:ecs.instance-type =~ t2.*", ["small", "gone"]),
        ("attribute:ecs.instance-type matches g2", []),
        ("attribute:ecs.instance-type !~ t2.*", ["large"]),
        ("attribute:ecs.instance-type not_matches t2.*", ["large"]),
        ("attribute:gpu =~ .*", []),
        # ordering on attributes: numeric when both sides are numbers
        ("attribute:size > 10", ["large"]),
        ("attribute:size <= 8", ["small"]),
        ("attribute:stack >= e", ["small"]),
        # registeredAt with each date format
        ("registeredAt < 2018-06-19", ["small", "gone"]),
        ("registeredAt > 2018-06-18T22:28:27Z", ["small", "large"]),
        ("registeredAt >= 2018-06-18T22:28:28+00:00", ["small", "large"]),
        ("registeredAt <= 2018-06-18T22:28:28", ["small", "gone"]),
        ("registeredAt == 2018-06-18", ["small"]),
        ("registeredAt != 2018-06-18", ["large", "gone"]),
        ("registeredAt greater_than 2019-01-01", ["large"]),
        # the other subjects
        ("ec2InstanceId in ['i-small', 'i-gone']", ["small", "gone"]),
        ("ec2InstanceId == i-large", ["large"]),
        ("ec2InstanceId =~ i-.*l.*", ["small", "large"]),
        ("agentConnected == true", ["small", "large"]),
        ("agentConnected != true", ["gone"]),
        ("agentConnected == FALSE", ["gone"]),
        ("agentVersion < 1.14.6", ["small", "gone"]),
        ("agentVersion >= 1.14.5", ["small", "large"]),
        ("runningTasksCount == 0", ["gone"]),
        ("runningTasksCount > 1", ["small"]),
        ("task:group == service:production", ["small", "large"]),
        ("task:group != database", ["large", "gone"]),
        ("task:group in [database, other]", ["small"]),
        ("task:group =~ service:.*", ["small", "large"]),
        ("task:group exists", ["small", "large"]),
        ("task:group !exists", ["gone"]),
        # compound expressions and precedence
        (
            "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
            ["large"],
        ),
        ("not(task:group == database)", ["large", "gone"]),
        ("!(task:group == database)", ["large", "gone"]),
        ("not task:group == database", ["large", "gone"]),
        ("attribute:stack == prod or attribute:stack == dev", ["small", "large"]),
        ("attribute:stack == prod || attribute:stack == dev", ["small", "large"]),
        ("agentConnected == true && attribute:size > 8", ["large"]),
        # and binds tighter than or
        ("attribute:stack == prod or attribute:stack == dev and attribute:size > 100", ["small"]),
        ("(attribute:stack == prod or attribute:stack == dev) and attribute:size > 8", ["large"]),
        ("not not agentConnected == false", ["gone"]),
        # quoted values may hold spaces and delimiters
        ("attribute:stack == 'prod'", ["small"]),
        ('attribute:ecs.instance-type =~ "t2\\.(small|large)"', ["small"]),
        # a value that looks like a keyword is still a value
        ("attribute:stack != and", ["small", "large"]),
    ],
)
def test_expressions_select_the_expected_instances(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_the_tree_follows_precedence() -> None:
    tree = parse_expression("not attribute:x exists or attribute:a == 1 and attribute:b in [2, 3]")
    assert isinstance(tree, Or)
    assert isinstance(tree.left, Not)
    assert isinstance(tree.right, And)
    right = tree.right.right
    assert isinstance(right, Comparison)
    assert right.subject is SubjectKind.ATTRIBUTE
    assert right.attribute == "b"
    assert right.operator is Operator.IN
    assert right.arguments == ("2", "3")


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("attribute:a equals 1", "attribute:a == 1"),
        ("attribute:a !in [x,y]", "attribute:a not_in [x, y]"),
        (
            "(attribute:a == 1 or attribute:b == 2) and agentConnected == true",
            "(attribute:a == 1 or attribute:b == 2) and agentConnected == true",
        ),
        ("!(attribute:a exists)", "not (attribute:a exists)"),
        ("attribute:a == 'two words'", "attribute:a == 'two words'"),
    ],
)
def test_expressions_render_back_to_equivalent_text(text: str, rendered: str) -> None:
    tree = parse_expression(text)
    assert str(tree) == rendered
    assert parse_expression(str(tree)) == tree


def test_evaluate_sees_the_tasks_of_the_snapshot() -> None:
    expression = parse_expression("task:group == database")
    assert evaluate(expression, SMALL, STATE)
    assert not evaluate(expression, LARGE, STATE)
    empty = ClusterState.of([SMALL])
    assert not evaluate(expression, SMALL, empty)


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", 1, "expression is empty"),
        ("   ", 1, "expression is empty"),
        ("attribute:x = 1", 13, "unexpected '='; did you mean '=='?"),
        ("attribute:x & attribute:y exists", 13, "unexpected '&'"),
        ("attribute:x == ", 16, "expected a value after '==', found end of expression"),
        ("foo == 1", 1, "unknown subject 'foo'"),
        ("attribute: == 1", 1, "attribute: needs a name"),
        ("== 1", 1, "expected a subject"),
        ("attribute:x >> 1", 14, "expected a value after '>', found '>'"),
        ("attribute:x 1", 13, "expected an operator after 'attribute:x', found '1'"),
        ("(attribute:x == 1", 1, "unbalanced '(': missing ')'"),
        ("(attribute:x == 1 attribute:y == 2)", 19, "expected 'and', 'or' or ')'"),
        ("attribute:x == 1)", 17, "unbalanced ')': no '(' to close"),
        ("attribute:x == a b", 18, "expected 'and', 'or' or end of expression, found 'b'"),
        ("attribute:x in a", 16, "operator 'in' takes a list such as [a, b]"),
        ("attribute:x in [a b]", 19, "expected ',' or ']' in the list, found 'b'"),
        ("attribute:x in [a", 16, "unbalanced '[': missing ']'"),
        ("attribute:x in []", 17, "expected a value after 'in', found ']'"),
        ("attribute:x == [a]", 16, "operator '==' takes one value, not a list"),
        ("attribute:x == 'abc", 16, "unterminated quoted string"),
        ("attribute:x =~ '('", 16, "invalid regular expression '('"),
        ("ec2InstanceId > i-1", 15, "operator '>' cannot be used with ec2InstanceId"),
        ("registeredAt exists", 14, "operator 'exists' cannot be used with registeredAt"),
        ("registeredAt > yesterday", 16, "registeredAt compares with a date"),
        ("agentConnected == yes", 19, "agentConnected compares with true or false"),
        ("runningTasksCount > many", 21, "runningTasksCount compares with a whole number"),
        ("agentVersion < latest", 16, "agentVersion compares with a version"),
        ("attribute:x exists and", 23, "expected a subject"),
        ("not", 4, "expected a subject"),
    ],
)
def test_errors_name_the_column_and_the_problem(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(text)
    error = raised.value
    assert error.position == column - 1
    assert str(error).startswith(f"Invalid expression at column {column}: ")
    assert message in str(error)
    assert error.aws_type == "InvalidParameterException"


def test_expressions_longer_than_ecs_allows_are_refused() -> None:
    with pytest.raises(ExpressionError, match="longer than 2000 characters"):
        parse_expression("attribute:x == " + "a" * 2000)
