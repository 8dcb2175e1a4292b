from __future__ import annotations

import pytest

from cais.aws.errors import AwsError
from cais.logs.filterpattern import FilterPattern

LINES = [
    "ERROR disk full on /var",
    "WARN disk almost full",
    "INFO started in 3s",
    "ERROR out of memory: killed process 12",
    "DEBUG health check ok",
]


def matching(pattern: str) -> list[str]:
    parsed = FilterPattern.parse(pattern)
    return [line for line in LINES if parsed.matches(line)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", LINES),
        ("ERROR", [LINES[0], LINES[3]]),
        ("ERROR disk", [LINES[0]]),
        ('"out of memory"', [LINES[3]]),
        ("?WARN ?INFO", [LINES[1], LINES[2]]),
        ("disk -ERROR", [LINES[1]]),
        ('-"health check" -ERROR', [LINES[1], LINES[2]]),
        ("error", []),
        ('?"almost full" ?"killed process"', [LINES[1], LINES[3]]),
    ],
)
def test_term_syntax(pattern: str, expected: list[str]) -> None:
    assert matching(pattern) == expected


@pytest.mark.parametrize("pattern", ['{ $.level = "ERROR" }', "[ip, user]", '"unbalanced'])
def test_unsupported_or_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(AwsError) as info:
        FilterPattern.parse(pattern)
    assert info.value.type == "InvalidParameterException"
