"""Tokens of the cluster query language.

The lexer only cuts the text; what a word *means* (subject, operator word, value,
``and``/``or``/``not``) depends on where it stands, so the parser decides. That keeps
values such as ``and`` or ``in`` usable as plain arguments.

Bare words run until whitespace, a bracket, a comma, a quote or an operator character
(``= ! < > ~ & |``); anything else (a regex with brackets, a value with spaces) must be
quoted with ``'`` or ``"``. Inside quotes a backslash escapes the quote character only, so
regex escapes such as ``\\.`` pass through untouched.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cais.ecs.scheduler.errors import ExpressionError


class TokenKind(enum.Enum):
    WORD = "word"
    STRING = "string"
    SYMBOL = "symbol"
    END = "end of expression"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    position: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is TokenKind.END:
            return "end of expression"
        if self.kind is TokenKind.STRING:
            return f"string {self.text!r}"
        return f"'{self.text}'"


# Longest first, so "!=" wins over "!".
_SYMBOLS = ("==", "!=", ">=", "<=", "=~", "!~", "&&", "||", ">", "<", "!", "(", ")", "[", "]", ",")
_OPERATOR_CHARS = frozenset("=!<>~&|")
_DELIMITERS = frozenset("()[],'\"") | _OPERATOR_CHARS


def tokenize(text: str) -> list[Token]:
    """Cut ``text`` into tokens, ending with an END token at ``len(text)``."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in "'\"":
            value, end = _quoted(text, i)
            tokens.append(Token(TokenKind.STRING, value, i))
            i = end
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
        if symbol is not None:
            tokens.append(Token(TokenKind.SYMBOL, symbol, i))
            i += len(symbol)
            continue
        if char in _OPERATOR_CHARS:
            hint = {"=": "'=='", "&": "'&&' or 'and'", "|": "'||' or 'or'", "~": "'=~'"}[char]
            raise ExpressionError(
                f"unexpected '{char}'; did you mean {hint}?", expression=text, position=i
            )
        start = i
        while i < n and not text[i].isspace() and text[i] not in _DELIMITERS:
            i += 1
        tokens.append(Token(TokenKind.WORD, text[start:i], start))
    tokens.append(Token(TokenKind.END, "", n))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] == quote:
            out.append(quote)
            i += 2
            continue
        if char == quote:
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise ExpressionError("unterminated quoted string", expression=text, position=start)
