"""The first pass over a Dockerfile: lines become raw instructions.

It handles what is the same for every instruction: parser directives at the top
(``# escape=`` and ``# syntax=``), comments, line continuations with the escape
character, ``--flags`` after the keyword, and heredoc bodies following RUN, COPY and
ADD lines. What the arguments mean is :mod:`cais.build.parse`'s business.

Line numbers are 1-based and name the physical lines of the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cais.build.errors import DockerfileError
from cais.build.words import Lexer, WordError

DEFAULT_ESCAPE = "\\"
KNOWN_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_BLANKS = re.compile(r"[\t\v\f\r ]+")
_BOM = "\ufeff"


@dataclass(frozen=True)
class Heredoc:
    """A here-document: ``<<NAME`` (``<<-`` strips leading tabs; a quoted name, no $)."""

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    @property
    def text(self) -> str:
        """The content as the instruction uses it (leading tabs gone for ``<<-``)."""
        if self.chomp:
            return re.sub(r"(?m)^\t+", "", self.content)
        return self.content


@dataclass(frozen=True)
class RawInstruction:
    """One logical line: its keyword, ``--flags``, argument text and heredoc bodies."""

    keyword: str
    flags: tuple[str, ...]
    rest: str
    original: str
    start: int
    end: int
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class RawDockerfile:
    directives: tuple[tuple[str, str], ...]
    escape: str
    instructions: tuple[RawInstruction, ...]

    def directive(self, name: str) -> str | None:
        for key, value in self.directives:
            if key == name:
                return value
        return None


class _Directives:
    """Parser directives are only read before the first line that is not one."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.done = False
        self.found: list[tuple[str, str]] = []

    def read(self, line: str, number: int) -> tuple[str, str] | None:
        if self.done:
            return None
        if not line.startswith("#"):
            self.done = True
            return None
        match = _DIRECTIVE.match(line[1:].lstrip())
        if match is None or match.group(1).lower() not in KNOWN_DIRECTIVES:
            self.done = True
            return None
        key = match.group(1).lower()
        if any(k == key for k, _ in self.found):
            raise DockerfileError(
                number, f"only one {key} parser directive can be used", self.filename
            )
        self.found.append((key, match.group(2)))
        return key, match.group(2)


def _continuation(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def split_lines(text: str) -> list[str]:
    """Physical lines without their line endings (``\\r\\n`` or ``\\n``)."""
    if text.startswith(_BOM):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r\n") for line in lines]


def read_dockerfile(text: str, *, filename: str = "Dockerfile") -> RawDockerfile:
    """Split ``text`` into raw instructions; raises :class:`DockerfileError` naming the line."""
    lines = split_lines(text)
    directives = _Directives(filename)
    escape = DEFAULT_ESCAPE
    continuation = _continuation(escape)
    out: list[RawInstruction] = []
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].lstrip()
        i += 1
        found = directives.read(line, number)
        if found is not None:
            key, value = found
            if key == "escape":
                if value not in ("\\", "`"):
                    raise DockerfileError(
                        number, f"invalid escape token '{value}' does not match ` or \\", filename
                    )
                escape = value
                continuation = _continuation(escape)
            continue
        if _is_comment(line):
            continue
        joined, ended = _trim_continuation(line, continuation)
        if ended and not joined:
            continue
        parts = [joined]
        while not ended and i < len(lines):
            following = lines[i]
            i += 1
            if _is_comment(following) or not following.strip():
                continue
            piece, ended = _trim_continuation(following, continuation)
            parts.append(piece)
        logical = "".join(parts)
        raw = raw_instruction(logical, escape, number, i)
        if _may_have_heredocs(raw, escape):
            heredocs, i = _read_heredocs(raw, lines, i, filename)
            raw = RawInstruction(
                raw.keyword, raw.flags, raw.rest, raw.original, raw.start, i, heredocs
            )
        out.append(raw)
    if not out:
        raise DockerfileError(max(len(lines), 1), "file with no instructions", filename)
    return RawDockerfile(tuple(directives.found), escape, tuple(out))


def _trim_continuation(line: str, continuation: re.Pattern[str]) -> tuple[str, bool]:
    if continuation.search(line):
        return continuation.sub(r"\1", line, count=1), False
    return line, True


def raw_instruction(line: str, escape: str, start: int, end: int) -> RawInstruction:
    """One logical line split into keyword, flags and the rest."""
    fields = _BLANKS.split(line.strip(), maxsplit=1)
    keyword = fields[0]
    rest = ""
    flags: tuple[str, ...] = ()
    if len(fields) == 2:
        rest, flags = split_flags(fields[1], escape)
    return RawInstruction(keyword, flags, rest.strip(), line, start, end)


def split_flags(line: str, escape: str) -> tuple[str, tuple[str, ...]]:
    """Leading ``--name=value`` words (quotes and escapes allowed) and the rest of the line."""
    words: list[str] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos].isspace():
            pos += 1
        if pos >= n:
            return "", tuple(words)
        if not line.startswith("--", pos):
            return line[pos:], tuple(words)
        word: list[str] = []
        quote = ""
        quoted_empty = False
        while pos < n:
            ch = line[pos]
            if not quote and ch.isspace():
                break
            if not quote and ch in "'\"":
                quote = ch
                quoted_empty = True
            elif quote and ch == quote:
                quote = ""
            elif ch == escape:
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
                elif quote:
                    quote = ""
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return line[pos:], tuple(words)
        if text or quoted_empty:
            words.append(text)


def _may_have_heredocs(raw: RawInstruction, escape: str) -> bool:
    keyword = raw.keyword.lower()
    rest = raw.rest
    if keyword == "onbuild":
        fields = _BLANKS.split(rest.strip(), maxsplit=1)
        keyword = fields[0].lower()
        rest = split_flags(fields[1], escape)[0] if len(fields) == 2 else ""
    if keyword not in HEREDOC_KEYWORDS or "<<" not in raw.original:
        return False
    try:
        return json_array(rest) is None
    except ValueError:
        return False


def json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array argument (exec form), or None when it is not one.

    An array holding anything but strings is an error, as in Docker.
    """
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ValueError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def heredoc_marker(word: str) -> Heredoc | None:
    """The heredoc a word such as ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` opens, if any."""
    match = _HEREDOC.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    try:
        plain = Lexer(skip_unset=True).words(rest, {})
        if len(plain) != 1:
            return None
        raw = Lexer(skip_unset=True, raw_quotes=True).words(rest, {})
    except WordError:
        return None
    if len(raw) != 1:
        return None
    name = plain[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=name,
        expand=quotes == raw_quotes,
        chomp=match.group(2) == "-",
        fd=int(match.group(1) or 0),
    )


def _read_heredocs(
    raw: RawInstruction, lines: list[str], i: int, filename: str
) -> tuple[tuple[Heredoc, ...], int]:
    try:
        words = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True).words(raw.original, {})
    except WordError:
        words = []
    docs: list[Heredoc] = []
    for word in words:
        marker = heredoc_marker(word)
        if marker is None:
            continue
        body: list[str] = []
        terminated = False
        while i < len(lines):
            line = lines[i]
            i += 1
            candidate = line.lstrip("\t") if marker.chomp else line
            if candidate == marker.name:
                terminated = True
                break
            body.append(line + "\n")
        if not terminated:
            raise DockerfileError(raw.start, "unterminated heredoc", filename)
        docs.append(Heredoc(marker.name, "".join(body), marker.expand, marker.chomp, marker.fd))
    return tuple(docs), i
