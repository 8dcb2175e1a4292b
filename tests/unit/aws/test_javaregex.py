from __future__ import annotations

import pytest

from cais.aws.javaregex import JavaRegexTranslator


@pytest.fixture(scope="module")
def t() -> JavaRegexTranslator:
    return JavaRegexTranslator()


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        ("[\\w-_]*", "a-b_c9", "a.b"),
        ("\\p{Print}+", "Hello, world!", "tab\there"),
        ("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$", "Ünïcode 42", "star*"),
        (
            "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*",
            "a😀\n",
            "\x00",
        ),
        ("\\w+", "abc_1", "é"),
        ("\\QA.B\\E", "A.B", "AxB"),
    ],
)
def test_java_pattern_semantics(t: JavaRegexTranslator, pattern: str, good: str, bad: str) -> None:
    regex = t.compile(pattern)
    assert regex.fullmatch(good)
    assert not regex.fullmatch(bad)


def test_whole_value_must_match(t: JavaRegexTranslator) -> None:
    regex = t.compile("[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*")
    assert regex.fullmatch("my-repo")
    assert not regex.fullmatch("My-repo")
