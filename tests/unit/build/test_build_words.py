"""Variable substitution and quoting in Dockerfile words (BuildKit's shell lexer rules)."""

from __future__ import annotations

import pytest

from cais.build.words import Lexer, WordError

ENV = {"A": "apple", "EMPTY": "", "SPACED": "x y  z", "PATH": "/usr/bin:/bin", "F": "file.tar.gz"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "apple"),
        ("${A}", "apple"),
        ("pre-${A}-post", "pre-apple-post"),
        ("$A$A", "appleapple"),
        ("$UNSET", ""),
        ("${UNSET}", ""),
        ("$", "$"),
        ("a$", "a$"),
        ("$-x", "x"),  # a special parameter, unset
        ("$1x", "x"),
        # defaults and alternatives
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${A:-default}", "apple"),
        ("${UNSET-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-$A}", "apple"),
        ("${UNSET:-${A:+nested}}", "nested"),
        ("${UNSET:-a b}", "a b"),
        # patterns
        ("${F#*.}", "tar.gz"),
        ("${F##*.}", "gz"),
        ("${F%.*}", "file.tar"),
        ("${F%%.*}", "file"),
        ("${PATH/bin/sbin}", "/usr/sbin:/bin"),
        ("${PATH//bin/sbin}", "/usr/sbin:/sbin"),
        # escapes and quotes
        ("\\$A", "$A"),
        ("\\${A}", "${A}"),
        ("'$A'", "$A"),
        ('"$A"', "apple"),
        ('"\\$A"', "$A"),
        ('"a\\"b"', 'a"b'),
        ('"a\\nb"', "a\\nb"),  # inside double quotes \ escapes only " $ and \
        ("a\\ b", "a b"),
        ("'it''s'", "its"),
        ('"$SPACED"', "x y  z"),
        ("$SPACED", "x y  z"),
    ],
)
def test_word(text: str, expected: str) -> None:
    assert Lexer().word(text, ENV) == expected


def test_words_split_values_but_not_quoted_ones() -> None:
    lexer = Lexer()
    assert lexer.words("$SPACED", ENV) == ["x", "y", "z"]
    assert lexer.words('"$SPACED" b', ENV) == ["x y  z", "b"]
    assert lexer.words("a 'b c' d", ENV) == ["a", "b c", "d"]
    assert lexer.words('a "" b', ENV) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${A", "missing '}'"),
        ("${}", "bad substitution"),
        ("${:-x}", "bad substitution"),
        ("${A:x}", "unsupported modifier"),
        ("${UNSET?must be set}", "UNSET: must be set"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("'open", "single-quote"),
        ('"open', "double-quote"),
    ],
)
def test_word_errors(text: str, message: str) -> None:
    with pytest.raises(WordError, match=message):
        Lexer().word(text, ENV)


def test_backtick_escape() -> None:
    lexer = Lexer(escape="`")
    assert lexer.word("`$A", ENV) == "$A"
    assert lexer.word("C:\\dir", ENV) == "C:\\dir"


def test_raw_modes_keep_quotes_and_unset_references() -> None:
    raw = Lexer(raw_quotes=True, skip_unset=True)
    assert raw.word("'a' \"b\" $UNSET ${UNSET:-x}", {}) == "'a' \"b\" $UNSET ${UNSET:-x}"
    assert Lexer(skip_quotes=True).word("it's $A", ENV) == "it's apple"
