""".dockerignore patterns as Docker reads and matches them."""

from __future__ import annotations

import pytest

from cais.build.ignore import IgnorePatternError, IgnoreRules, read_patterns


def test_reading_cleans_patterns() -> None:
    text = "# comment\n\n  *.log  \n/build\n!/build/keep\n./a/../b\n #not a comment\n"
    assert read_patterns(text) == ["*.log", "build", "!build/keep", "b", "#not a comment"]


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["*.md"], "README.md", True),
        (["*.md"], "docs/README.md", False),  # * does not cross /
        (["*/*.md"], "docs/README.md", True),
        (["**/*.md"], "docs/a/b/README.md", True),
        (["**/*.md"], "README.md", True),
        (["docs/**"], "docs/a/b", True),
        (["docs/**"], "docs", False),
        (["**"], "anything/at/all", True),
        (["a?c"], "abc", True),
        (["a?c"], "a/c", False),
        (["[a-c]x"], "bx", True),
        (["[!a-c]x"], "bx", False),
        (["[!a-c]x"], "dx", True),
        (["build"], "build/out/bin", True),  # a directory pattern covers what it holds
        (["/build"], "build", True),
        (["build"], "src/build", False),
        (["*.log", "!keep.log"], "keep.log", False),
        (["*.log", "!keep.log"], "other.log", True),
        (["*", "!src"], "src/main.c", False),
        (["*", "!src", "src/*.o"], "src/main.o", True),
        (["!x", "*"], "x", True),  # the last matching pattern decides
        (["a\\*b"], "a*b", True),
        (["a\\*b"], "axb", False),
        (["file.txt"], "file_txt", False),  # . is literal
    ],
)
def test_matching(patterns: list[str], path: str, ignored: bool) -> None:
    assert IgnoreRules(patterns).ignored(path) is ignored


def test_exceptions_inside_ignored_directories() -> None:
    rules = IgnoreRules.from_text("vendor\n!vendor/keep\n")
    assert rules.ignored("vendor/other")
    assert not rules.ignored("vendor/keep")
    assert rules.may_hold_exceptions("vendor")
    assert not IgnoreRules(["vendor"]).may_hold_exceptions("vendor")
    assert not rules.may_hold_exceptions("elsewhere")


def test_bad_patterns() -> None:
    with pytest.raises(IgnorePatternError):
        IgnoreRules(["!"])
    with pytest.raises(IgnorePatternError):
        IgnoreRules(["[unclosed"])


def test_empty_rules_ignore_nothing() -> None:
    rules = IgnoreRules()
    assert not rules
    assert not rules.ignored("anything")
