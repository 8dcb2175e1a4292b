"""How instruction arguments are read: ``--flags``, quoted words, durations.

``--name=value`` flags follow BuildKit's rules: each instruction declares the flags it
takes, an unknown or repeated one is an error, booleans may stand alone. Words for ENV,
LABEL and ARG keep their quotes (substitution removes them later).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

BLANKS = re.compile(r"[\t\v\f\r ]+")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS_NS: Mapping[str, int] = MappingProxyType(
    {
        "ns": 1,
        "us": 1_000,
        "µs": 1_000,
        "μs": 1_000,
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60_000_000_000,
        "h": 3_600_000_000_000,
    }
)


class ArgumentError(Exception):
    """Raised while reading an instruction; the parser adds the file and line."""


@dataclass
class Flags:
    """``--name=value`` flags with Docker's rules: declared per instruction, checked once."""

    given: tuple[str, ...]
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)

    def parse(self, **kinds: str) -> Flags:
        """Declare flags (``name="string"|"bool"|"strings"``) and read the given ones."""
        self.declared = {k.replace("_", "-"): v for k, v in kinds.items()}
        for flag in self.given:
            if flag == "--":
                break
            if not flag.startswith("--"):
                raise ArgumentError(f"arg should start with -- : {flag}")
            name, eq, value = flag.partition("=")
            key = name[2:]
            kind = self.declared.get(key)
            if kind is None:
                raise ArgumentError(f"unknown flag: {name}")
            if kind != "strings" and key in self.values:
                raise ArgumentError(f"duplicate flag specified: {name}")
            if kind == "bool":
                if eq and not value:
                    raise ArgumentError(f"missing a value on flag: {name}")
                if value.lower() not in ("", "true", "false"):
                    raise ArgumentError(f"expecting boolean value for flag {name}, not: {value}")
                self.values[key] = "false" if value.lower() == "false" else "true"
            elif not eq:
                raise ArgumentError(f"missing a value on flag: {name}")
            elif kind == "strings":
                self.lists.setdefault(key, []).append(value)
                self.values[key] = value
            else:
                self.values[key] = value
        return self

    def string(self, name: str) -> str:
        return self.values.get(name, "")

    def boolean(self, name: str) -> bool | None:
        value = self.values.get(name)
        return None if value is None else value == "true"

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.lists.get(name, ()))


def split_blanks(text: str) -> list[str]:
    return [part for part in BLANKS.split(text) if part] if text else []


def parse_words(rest: str, escape: str) -> list[str]:
    """Blank-separated words, quotes kept (ENV, LABEL and ARG split their arguments so)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    blank_ok = False
    in_word = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if not in_word and not quote:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                current.append(ch)
                i += 1
                ch = rest[i]
            current.append(ch)
            i += 1
            continue
        if ch.isspace():
            if blank_ok or current:
                words.append("".join(current))
            current = []
            blank_ok = False
            in_word = False
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            blank_ok = True
        if ch == escape:
            if i + 1 == n:
                i += 1
                continue
            current.append(ch)
            i += 1
            ch = rest[i]
        current.append(ch)
        i += 1
    if in_word and (blank_ok or current):
        words.append("".join(current))
    return words


def parse_duration(text: str) -> int:
    """A Go duration (``1m30s``, ``500ms``, ``2h``) in nanoseconds."""
    value = text.strip()
    sign = 1
    if value.startswith(("+", "-")):
        sign = -1 if value[0] == "-" else 1
        value = value[1:]
    if value == "0":
        return 0
    if not value:
        raise ArgumentError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None or match.group(1) in ("", "."):
            if match is None and re.match(r"[0-9.]+$", value[pos:]):
                raise ArgumentError(f'time: missing unit in duration "{text}"')
            raise ArgumentError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    return sign * round(total)
