"""Shell-like words of a Dockerfile: quotes, escapes and ``$VAR`` substitution.

The builder, not a shell, expands variables in most instructions (FROM, COPY, ENV, LABEL,
WORKDIR, USER …), with the rules BuildKit's frontend applies: single quotes keep
everything literal, double quotes allow ``$`` and escape only ``" $ \\``, the escape
character (``\\`` or a backtick) escapes anything outside quotes, and ``${…}`` knows the
modifiers ``:-``, ``-``, ``:+``, ``+``, ``:?``, ``?``, ``#``, ``##``, ``%``, ``%%`` and
``/pattern/replacement`` (``//`` for every match).

Pure: the environment is a mapping handed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cais.errors import InvalidArgumentError

_SPECIAL_PARAMETERS = frozenset("@*#?-$!0")
_REGEX_SPECIALS = frozenset("[]{}.+()|^$")


class WordError(InvalidArgumentError):
    """A word that cannot be expanded (unterminated quote, bad substitution …)."""


@dataclass(frozen=True)
class Lexer:
    """How to read words; the flags mirror the places BuildKit reads words differently.

    ``raw_quotes`` keeps quote characters in the result, ``raw_escapes`` keeps escape
    characters, ``skip_quotes`` treats quotes as ordinary characters, and ``skip_unset``
    leaves references to unset variables as written (used to find heredoc markers).
    """

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_quotes: bool = False
    skip_unset: bool = False

    def word(self, text: str, env: Mapping[str, str]) -> str:
        """One word: quotes removed, variables substituted, spaces kept."""
        return _Scan(self, text, env).run()[0]

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """The words of ``text`` after substitution (values split on spaces as a shell does)."""
        return _Scan(self, text, env).run()[1]


class _Words:
    """Words being collected: whitespace ends a word unless it came from quotes."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.current: list[str] = []
        self.in_word = False

    def add(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and any(self.current):
                self.done.append("".join(self.current))
                self.current = []
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.current.append(text)
        self.in_word = True

    def add_split(self, text: str) -> None:
        for ch in text:
            self.add(ch)

    def result(self) -> list[str]:
        if any(self.current):
            self.done.append("".join(self.current))
            self.current = []
            self.in_word = False
        return self.done


class _Scan:
    def __init__(self, lexer: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lexer = lexer
        self.text = text
        self.env = env
        self.pos = 0
        self.raw_escapes = lexer.raw_escapes

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def run(self) -> tuple[str, list[str]]:
        try:
            return self.until("", raw_escapes=self.raw_escapes)
        except WordError as exc:
            raise WordError(f"failed to process {self.text!r}: {exc}") from None

    def until(self, stop: str, *, raw_escapes: bool) -> tuple[str, list[str]]:
        """Read up to ``stop`` (end of text when empty); returns the text and its words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        escape = self.lexer.escape
        while True:
            ch = self.peek()
            if not ch:
                break
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch == "$":
                value = self.dollar()
                result.append(value)
                words.add_split(value)
            elif ch == "<":
                value = self.angle()
                result.append(value)
                words.add_raw(value)
            elif ch in "'\"" and not self.lexer.skip_quotes:
                value = self.single_quoted() if ch == "'" else self.double_quoted()
                result.append(value)
                words.add_raw(value)
            else:
                self.next()
                if ch == escape:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        result.append(ch)
                    ch = self.next()
                    if not ch:
                        break
                    words.add_raw(ch)
                else:
                    words.add(ch)
                result.append(ch)
        if stop:
            raise WordError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def angle(self) -> str:
        """``<`` or a heredoc marker ``<<`` with the blanks that follow it."""
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        spaces = []
        while self.peek() and self.peek() in " \t\r":
            spaces.append(self.next())
        return "<<" + "".join(spaces)

    def single_quoted(self) -> str:
        raw = self.lexer.raw_quotes
        quote = self.next()
        out = [quote] if raw else []
        while True:
            ch = self.next()
            if not ch:
                raise WordError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if raw:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        raw = self.lexer.raw_quotes
        escape = self.lexer.escape
        first = self.next()
        out = [first] if raw else []
        while True:
            ch = self.peek()
            if not ch:
                raise WordError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                if raw:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        """A variable name: letters, digits and ``_``; all digits; or one special parameter."""
        first = self.peek()
        if first.isdigit():
            digits = []
            while self.peek().isdigit():
                digits.append(self.next())
            return "".join(digits)
        if first and first in _SPECIAL_PARAMETERS:
            return self.next()
        chars = []
        while True:
            ch = self.peek()
            if not ch or not (ch.isalnum() or ch == "_"):
                break
            chars.append(self.next())
        return "".join(chars)

    def lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def dollar(self) -> str:
        self.next()  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.lexer.skip_unset else ""
            return value
        self.next()  # the {
        if not self.peek():
            raise WordError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise WordError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if not ch:
            raise WordError("syntax error: missing '}'")
        if ch == "}":
            value = self.lookup(name)
            if value is None:
                return "${" + name + "}" if self.lexer.skip_unset else ""
            return value
        if ch == "/":
            return self.replace(name)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch not in "+-?#%" or not ch:
            raise WordError(f"unsupported modifier ({modifier}) in substitution")
        pattern_like = ch in "#%"
        if null_is_unset and pattern_like:
            raise WordError(f"unsupported modifier ({modifier}) in substitution")
        try:
            word, _ = self.until("}", raw_escapes=pattern_like)
        except WordError:
            if not self.peek():
                raise WordError("syntax error: missing '}'") from None
            raise
        value = self.lookup(name)
        if value is None and self.lexer.skip_unset:
            return "${" + name + modifier + word + "}"
        empty = value is None or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else str(value)
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if value is None:
                raise WordError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise WordError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(ch)
        if greedy:
            word = word[1:]
        if ch == "#":
            return _trim_prefix(word, value or "", greedy=greedy)
        return _trim_suffix(word, value or "", greedy=greedy)

    def replace(self, name: str) -> str:
        every = self.peek() == "/"
        if every:
            self.next()
        try:
            pattern, _ = self.until("/", raw_escapes=True)
        except WordError:
            if not self.peek():
                raise WordError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.until("}", raw_escapes=True)
        except WordError:
            if not self.peek():
                raise WordError("syntax error: missing '}'") from None
            raise
        value = self.lookup(name)
        if value is None and self.lexer.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = shell_pattern(pattern, greedy=True, anchored=False)
        return regex.sub(lambda _: replacement, value or "", count=0 if every else 1)


def shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard (``*``, ``?``, ``\\`` escapes; no brackets) as a regular expression."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise WordError(f"invalid pattern ({pattern}) in substitution: invalid escape")
            out.append(re.escape(following))
            i += 1
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    match = shell_pattern(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each escape in front of the character it escapes."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, *, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy=greedy)[::-1]
