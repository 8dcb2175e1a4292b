"""Botocore's ``pattern`` constraints are Java regexes; this makes Python ``re`` take them.

What differs and is handled:

- ``\\p{L}``, ``\\p{N}``, ``\\p{Z}`` … (Unicode categories) and POSIX classes such as
  ``\\p{Print}`` or ``\\p{Alnum}``: expanded into explicit code point ranges;
- ``\\uD800\\uDC00``: Java reads a pair of UTF-16 surrogate escapes as one supplementary
  code point; Python needs ``\\U00010000``;
- ``[\\w-_]``: in Java a ``-`` next to a class escape is a literal, in Python an error;
- ``\\w``, ``\\d``, ``\\s`` are ASCII in Java: patterns compile with ``re.ASCII``;
- ``\\z`` → ``\\Z``, ``\\Z`` → end before a final line break, ``\\h`` → horizontal space.

Services match the *whole* value against the pattern (Java's ``Matcher.matches``), so callers
use ``fullmatch``.
"""

from __future__ import annotations

import re
import sys
import unicodedata

_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_SHORTHANDS = set("wWdDsShHvV")


class JavaRegexTranslator:
    """Translates and compiles patterns; keeps the Unicode category tables it built."""

    def __init__(self) -> None:
        self._categories: dict[str, str] = {}
        self._compiled: dict[str, re.Pattern[str]] = {}

    def compile(self, pattern: str) -> re.Pattern[str]:
        compiled = self._compiled.get(pattern)
        if compiled is None:
            compiled = re.compile(self.translate(pattern), re.ASCII)
            self._compiled[pattern] = compiled
        return compiled

    def translate(self, pattern: str) -> str:
        out: list[str] = []
        i = 0
        in_class = False
        n = len(pattern)
        while i < n:
            c = pattern[i]
            if c == "\\" and i + 1 < n:
                token, i = self._escape(pattern, i, in_class)
                out.append(token)
                continue
            if c == "[" and not in_class:
                in_class = True
                out.append(c)
                i += 1
                if i < n and pattern[i] == "^":
                    out.append("^")
                    i += 1
                if i < n and pattern[i] == "]":  # a leading ] is a literal
                    out.append("\\]")
                    i += 1
                continue
            if c == "]" and in_class:
                in_class = False
            elif c == "-" and in_class and self._dash_is_literal(pattern, i):
                out.append("\\-")
                i += 1
                continue
            elif c == "[" and in_class:  # nested classes (union) are rare; treat literally
                out.append("\\[")
                i += 1
                continue
            out.append(c)
            i += 1
        return "".join(out)

    def _dash_is_literal(self, pattern: str, i: int) -> bool:
        before = pattern[i - 2 : i]
        after = pattern[i + 1 : i + 3]
        return (
            (len(before) == 2 and before[0] == "\\" and before[1] in _SHORTHANDS)
            or (before.endswith("}") and "\\p{" in pattern[max(0, i - 16) : i])
            or (len(after) == 2 and after[0] == "\\" and after[1] in _SHORTHANDS | {"p"})
        )

    def _escape(self, pattern: str, i: int, in_class: bool) -> tuple[str, int]:
        c = pattern[i + 1]
        if c in "pP" and i + 2 < len(pattern):
            if pattern[i + 2] == "{":
                end = pattern.index("}", i + 2)
                name = pattern[i + 3 : end]
            else:
                end = i + 2
                name = pattern[i + 2]
            ranges = self._property(name)
            negate = c == "P"
            if in_class:
                if negate:
                    raise re.error(f"negated property \\P{{{name}}} inside a class")
                return ranges, end + 1
            return (f"[^{ranges}]" if negate else f"[{ranges}]"), end + 1
        if c == "u":
            code = int(pattern[i + 2 : i + 6], 16)
            nxt = pattern[i + 6 : i + 8]
            if 0xD800 <= code <= 0xDBFF and nxt == "\\u":
                low = int(pattern[i + 8 : i + 12], 16)
                if 0xDC00 <= low <= 0xDFFF:
                    full = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    return f"\\U{full:08x}", i + 12
            return f"\\u{code:04x}", i + 6
        if c == "x" and pattern[i + 2 : i + 3] == "{":
            end = pattern.index("}", i + 2)
            return f"\\U{int(pattern[i + 3 : end], 16):08x}", end + 1
        if c == "z":
            return "\\Z", i + 2
        if c == "Z":
            return "(?=\\n?\\Z)", i + 2
        if c == "h":
            return (" \\t\\xa0" if in_class else "[ \\t\\xa0]"), i + 2
        if c == "Q":
            end = pattern.find("\\E", i + 2)
            end = len(pattern) if end < 0 else end
            return re.escape(pattern[i + 2 : end]), end + 2
        return pattern[i : i + 2], i + 2

    def _property(self, name: str) -> str:
        if name.startswith("Is"):
            name = name[2:]
        if name in _POSIX:
            return _POSIX[name]
        if name.startswith("general_category="):
            name = name.split("=", 1)[1]
        ranges = self._categories.get(name)
        if ranges is None:
            ranges = _category_ranges(name)
            self._categories[name] = ranges
        return ranges


def _category_ranges(prefix: str) -> str:
    """Code point ranges, as class text, of the Unicode categories starting with ``prefix``."""
    if not prefix or not prefix[0].isupper() or len(prefix) > 2:
        raise re.error(f"unsupported Unicode property {prefix!r}")
    parts: list[str] = []
    start = -1
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and unicodedata.category(chr(cp)).startswith(prefix)
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            end = cp - 1
            parts.append(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}")
            start = -1
    if not parts:
        raise re.error(f"unknown Unicode property {prefix!r}")
    return "".join(parts)
