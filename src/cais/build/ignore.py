"""``.dockerignore``: which files of the build context the build may not see.

Patterns as Docker reads them: one per line, ``#`` comments, blank lines skipped, paths
cleaned and made relative (a leading ``/`` means the context root), ``*`` and ``?``
within one path component, ``**`` across any number of them, ``[…]`` classes, ``\\``
escapes, and ``!`` for exceptions. The last pattern that matches a path decides; a
pattern that matches a directory matches everything below it.

Pure: the patterns come in as text.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cais.errors import InvalidArgumentError

_REGEX_ESCAPES = frozenset(".+()|{}$")


class IgnorePatternError(InvalidArgumentError):
    pass


@dataclass(frozen=True)
class IgnorePattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


def read_patterns(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file, cleaned as Docker cleans them."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern.lstrip("/") or "/"
        out.append(("!" if invert else "") + pattern)
    return out


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A cleaned pattern as an anchored regular expression over ``/``-separated paths."""
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in _REGEX_ESCAPES:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append("\\\\")
        elif ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                raise IgnorePatternError(f"invalid .dockerignore pattern {pattern!r}: bad [")
            out.append(_char_class(pattern[i:end]))
            i = end + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:
        raise IgnorePatternError(f"invalid .dockerignore pattern {pattern!r}: {exc}") from None


def _char_class(body: str) -> str:
    """``[…]`` as a regular expression class (``[!…]`` negates, as in shells)."""
    chars = []
    j = 0
    if body[:1] in ("!", "^"):
        chars.append("^")
        j = 1
    while j < len(body):
        c = body[j]
        if c == "\\" and j + 1 < len(body):
            chars.append(re.escape(body[j + 1]))
            j += 2
            continue
        chars.append("\\" + c if c in "[]\\^" else c)
        j += 1
    return "[" + "".join(chars) + "]"


def _class_end(pattern: str, start: int) -> int:
    i = start
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "]":
            return i
        i += 2 if pattern[i] == "\\" else 1
    return -1


class IgnoreRules:
    """A compiled ``.dockerignore``; :meth:`ignored` answers for one context path."""

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        compiled = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            if text == "!":
                raise IgnorePatternError('illegal exclusion pattern: "!"')
            exclusion = text.startswith("!")
            text = text.removeprefix("!")
            if len(text) > 1:
                text = text.lstrip("/") or "/"
            compiled.append(IgnorePattern(text, exclusion, compile_pattern(text)))
        self.patterns: tuple[IgnorePattern, ...] = tuple(compiled)
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> IgnoreRules:
        return cls(read_patterns(text))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def ignored(self, path: str) -> bool:
        """Whether ``path`` (relative to the context, ``/``-separated) is left out."""
        path = posixpath.normpath(path).lstrip("/")
        if not self.patterns or path in ("", "."):
            return False
        parents = _parents(path)
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path) or any(pattern.matches(p) for p in parents)
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_hold_exceptions(self, directory: str) -> bool:
        """Whether an ignored directory might still hold a path an exception brings back.

        Walking stops at an ignored directory unless this says otherwise.
        """
        if not self.has_exceptions:
            return False
        prefix = posixpath.normpath(directory).lstrip("/") + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            text = pattern.text
            if text.startswith(prefix) or any(c in text for c in "*?[\\"):
                return True
        return False


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def ignored_paths(rules: IgnoreRules, paths: Iterable[str]) -> list[str]:
    return [p for p in paths if rules.ignored(p)]
