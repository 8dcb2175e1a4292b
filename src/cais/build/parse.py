"""Dockerfile text → :class:`~cais.build.instructions.Dockerfile` (pure, no I/O).

Every instruction's arguments are read the way BuildKit's frontend reads them: exec
(JSON) or shell form for RUN/CMD/ENTRYPOINT, ``key=value`` words or the legacy
``key value`` for ENV and LABEL, JSON or whitespace lists for COPY/ADD/VOLUME, and
``--flags`` checked per instruction. Errors name the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cais.build import instructions as ins
from cais.build.errors import DockerfileError
from cais.build.syntax import (
    RawInstruction,
    heredoc_marker,
    json_array,
    raw_instruction,
    read_dockerfile,
)

_BLANKS = re.compile(r"[\t\v\f\r ]+")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
KEYWORDS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
)  # fmt: skip


class _SyntaxError(Exception):
    """Raised inside an instruction's parser; becomes a DockerfileError with the line."""


def parse_dockerfile(text: str, *, filename: str = "Dockerfile") -> ins.Dockerfile:
    """Parse a whole Dockerfile: global ARGs, then stages opened by FROM."""
    if not text.strip():
        raise DockerfileError(1, "the Dockerfile cannot be empty", filename)
    raw = read_dockerfile(text, filename=filename)
    global_args: list[ins.Arg] = []
    stages: list[tuple[ins.From, list[ins.Instruction]]] = []
    names: set[str] = set()
    for item in raw.instructions:
        parsed = parse_instruction(item, escape=raw.escape, filename=filename)
        if isinstance(parsed, ins.From):
            if parsed.stage_name:
                if parsed.stage_name in names:
                    raise DockerfileError(
                        item.start, f"duplicate stage name {parsed.stage_name!r}", filename
                    )
                names.add(parsed.stage_name)
            stages.append((parsed, []))
        elif not stages:
            if isinstance(parsed, ins.Arg):
                global_args.append(parsed)
                continue
            raise DockerfileError(
                item.start,
                f"no build stage in current context: {item.keyword.upper()} before the "
                "first FROM (a Dockerfile must start with FROM; only ARG may come before it)",
                filename,
            )
        else:
            stages[-1][1].append(parsed)
    if not stages:
        raise DockerfileError(
            raw.instructions[-1].start,
            "dockerfile contains no stages to build (no FROM instruction)",
            filename,
        )
    return ins.Dockerfile(
        filename=filename,
        escape=raw.escape,
        syntax=raw.directive("syntax"),
        global_args=tuple(global_args),
        stages=tuple(
            ins.Stage(index, frm, tuple(body)) for index, (frm, body) in enumerate(stages)
        ),
    )


def parse_instruction(
    raw: RawInstruction, *, escape: str = "\\", filename: str = "Dockerfile"
) -> ins.Instruction | ins.From:
    """One raw instruction → its typed value."""
    keyword = raw.keyword.lower()
    parser = _PARSERS.get(keyword)
    if parser is None:
        raise DockerfileError(raw.start, f"unknown instruction: {raw.keyword}", filename)
    request = _Request(raw, escape, filename)
    try:
        return parser(request)
    except _SyntaxError as exc:
        raise DockerfileError(raw.start, str(exc), filename) from None


def parse_trigger(expression: str, *, line: int, filename: str = "Dockerfile") -> ins.Instruction:
    """An ONBUILD trigger from an image config, as an instruction (errors at ``line``)."""
    try:
        raw = read_dockerfile(expression, filename=filename).instructions
    except DockerfileError as exc:
        raise DockerfileError(line, f"ONBUILD trigger: {exc.message}", filename) from None
    if len(raw) != 1:
        raise DockerfileError(line, "onbuild trigger should be a single expression", filename)
    moved = RawInstruction(
        raw[0].keyword, raw[0].flags, raw[0].rest, raw[0].original, line, line, raw[0].heredocs
    )
    parsed = parse_instruction(moved, filename=filename)
    if isinstance(parsed, ins.From):
        raise DockerfileError(line, "FROM isn't allowed as an ONBUILD trigger", filename)
    return parsed


@dataclass
class _Flags:
    """``--name=value`` flags with Docker's rules: declared per instruction, checked once."""

    given: tuple[str, ...]
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)

    def parse(self, **kinds: str) -> _Flags:
        """Declare flags (``name="string"|"bool"|"strings"``) and read the given ones."""
        self.declared = {k.replace("_", "-"): v for k, v in kinds.items()}
        for flag in self.given:
            if flag == "--":
                break
            if not flag.startswith("--"):
                raise _SyntaxError(f"arg should start with -- : {flag}")
            name, eq, value = flag.partition("=")
            key = name[2:]
            kind = self.declared.get(key)
            if kind is None:
                raise _SyntaxError(f"unknown flag: {name}")
            if kind != "strings" and key in self.values:
                raise _SyntaxError(f"duplicate flag specified: {name}")
            if kind == "bool":
                if eq and not value:
                    raise _SyntaxError(f"missing a value on flag: {name}")
                if value.lower() not in ("", "true", "false"):
                    raise _SyntaxError(f"expecting boolean value for flag {name}, not: {value}")
                self.values[key] = "false" if value.lower() == "false" else "true"
            elif not eq:
                raise _SyntaxError(f"missing a value on flag: {name}")
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


@dataclass(frozen=True)
class _Request:
    raw: RawInstruction
    escape: str
    filename: str

    @property
    def location(self) -> ins.Location:
        return ins.Location(self.raw.start, self.raw.end, self.raw.original.strip())

    @property
    def rest(self) -> str:
        return self.raw.rest

    def flags(self, **kinds: str) -> _Flags:
        return _Flags(self.raw.flags).parse(**kinds)

    def no_flags(self) -> None:
        self.flags()

    def maybe_json(self) -> tuple[list[str], bool]:
        """Exec form (JSON array) or the whole rest as one shell-form string."""
        if not self.rest:
            return [], False
        array = _json(self.rest)
        if array is not None:
            return array, True
        return [self.rest], False

    def json_or_list(self) -> tuple[list[str], bool]:
        """A JSON array, or the rest split on blanks."""
        array = _json(self.rest)
        if array is not None:
            return array, True
        return _split_blanks(self.rest), False


def _json(rest: str) -> list[str] | None:
    try:
        return json_array(rest)
    except ValueError as exc:
        raise _SyntaxError(str(exc)) from None


def _split_blanks(text: str) -> list[str]:
    return [part for part in _BLANKS.split(text) if part] if text else []


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


def _key_values(req: _Request, keyword: str) -> tuple[ins.KeyValue, ...]:
    words = parse_words(req.rest, req.escape)
    if not words:
        raise _SyntaxError(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = _BLANKS.split(req.rest, maxsplit=1)
        if len(parts) < 2:
            raise _SyntaxError(f"{keyword} must have two arguments")
        return (ins.KeyValue(parts[0], parts[1]),)
    pairs = []
    for word in words:
        if "=" not in word:
            raise _SyntaxError(
                f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
            )
        key, _, value = word.partition("=")
        if not key:
            raise _SyntaxError(f"{keyword} names can not be blank")
        pairs.append(ins.KeyValue(key, value))
    return tuple(pairs)


def _exactly_one(req: _Request, keyword: str) -> str:
    if not req.rest:
        raise _SyntaxError(f"{keyword} requires exactly one argument")
    return req.rest


# one parser per instruction


def _from(req: _Request) -> ins.From:
    flags = req.flags(platform="string")
    args = _split_blanks(req.rest)
    name = ""
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise _SyntaxError(
                f"invalid name for build stage: {args[2]!r}, name can't start with a number "
                "or contain symbols"
            )
    elif len(args) != 1:
        raise _SyntaxError("FROM requires either one or three arguments")
    return ins.From(req.location, args[0], name, flags.string("platform"))


def _command(req: _Request) -> ins.CommandLine:
    args, is_json = req.maybe_json()
    if not is_json and args:
        args = [" ".join(args)]
    return ins.CommandLine(tuple(args), shell_form=not is_json)


def _run(req: _Request) -> ins.Run:
    flags = req.flags(mount="strings", network="string", security="string", device="strings")
    for unsupported in ("mount", "security", "device"):
        if flags.values.get(unsupported):
            raise _SyntaxError(f"RUN --{unsupported} is not supported by cais")
    network = flags.string("network")
    if network and network not in ("none", "host", "default"):
        raise _SyntaxError(f"unsupported network mode {network!r}: use none, host or default")
    command = _command(req)
    if not command.args:
        raise _SyntaxError("RUN requires at least one argument")
    heredocs = req.raw.heredocs
    if heredocs and (len(command.args) != 1 or not command.shell_form):
        raise _SyntaxError("parsing produced an invalid run command")
    return ins.Run(req.location, command, heredocs, network)


def _cmd(req: _Request) -> ins.Cmd:
    req.no_flags()
    return ins.Cmd(req.location, _command(req))


def _entrypoint(req: _Request) -> ins.Entrypoint:
    req.no_flags()
    return ins.Entrypoint(req.location, _command(req))


def _shell(req: _Request) -> ins.Shell:
    req.no_flags()
    args, is_json = req.maybe_json()
    if not args:
        raise _SyntaxError("SHELL requires at least one argument")
    if not is_json:
        raise _SyntaxError(f"SHELL requires the arguments to be in JSON form: {req.rest}")
    return ins.Shell(req.location, tuple(args))


def _env(req: _Request) -> ins.Env:
    req.no_flags()
    return ins.Env(req.location, _key_values(req, "ENV"))


def _label(req: _Request) -> ins.Label:
    req.no_flags()
    return ins.Label(req.location, _key_values(req, "LABEL"))


def _arg(req: _Request) -> ins.Arg:
    req.no_flags()
    words = parse_words(req.rest, req.escape)
    if not words:
        raise _SyntaxError("ARG requires at least one argument")
    args = []
    for word in words:
        if "=" in word:
            name, _, default = word.partition("=")
            if not name:
                raise _SyntaxError("ARG names can not be blank")
            args.append(ins.ArgDefinition(name, default))
        else:
            args.append(ins.ArgDefinition(word))
    return ins.Arg(req.location, tuple(args))


def _expose(req: _Request) -> ins.Expose:
    req.no_flags()
    ports = _split_blanks(req.rest)
    if not ports:
        raise _SyntaxError("EXPOSE requires at least one argument")
    return ins.Expose(req.location, tuple(ports))


def _volume(req: _Request) -> ins.Volume:
    req.no_flags()
    paths, _ = req.json_or_list()
    if not paths:
        raise _SyntaxError("VOLUME requires at least one argument")
    cleaned = []
    for path in paths:
        if not path.strip():
            raise _SyntaxError("VOLUME specified can not be an empty string")
        cleaned.append(path.strip())
    return ins.Volume(req.location, tuple(cleaned))


def _user(req: _Request) -> ins.User:
    req.no_flags()
    return ins.User(req.location, _exactly_one(req, "USER"))


def _workdir(req: _Request) -> ins.Workdir:
    req.no_flags()
    return ins.Workdir(req.location, _exactly_one(req, "WORKDIR"))


def _stopsignal(req: _Request) -> ins.StopSignal:
    req.no_flags()
    return ins.StopSignal(req.location, _exactly_one(req, "STOPSIGNAL"))


def _maintainer(req: _Request) -> ins.Maintainer:
    req.no_flags()
    return ins.Maintainer(req.location, _exactly_one(req, "MAINTAINER"))


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
        raise _SyntaxError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None or match.group(1) in ("", "."):
            if match is None and re.match(r"[0-9.]+$", value[pos:]):
                raise _SyntaxError(f'time: missing unit in duration "{text}"')
            raise _SyntaxError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    return sign * round(total)


def _interval(flags: _Flags, name: str) -> int:
    text = flags.string(name)
    if not text:
        return 0
    ns = parse_duration(text)
    if ns == 0:
        return 0
    if ns < 1_000_000:
        raise _SyntaxError(f'Interval "{name}" cannot be less than 1ms')
    return ns


def _healthcheck(req: _Request) -> ins.Healthcheck:
    rest = req.rest
    if not rest:
        raise _SyntaxError("HEALTHCHECK requires at least one argument")
    parts = _BLANKS.split(rest, maxsplit=1)
    kind = parts[0].upper()
    command = parts[1].strip() if len(parts) == 2 else ""
    if kind == "NONE":
        if command:
            raise _SyntaxError("HEALTHCHECK NONE takes no arguments")
        req.no_flags()
        return ins.Healthcheck(req.location, None)
    flags = req.flags(
        interval="string",
        timeout="string",
        start_period="string",
        start_interval="string",
        retries="string",
    )
    if kind != "CMD":
        raise _SyntaxError(f'Unknown type "{parts[0]}" in HEALTHCHECK (try CMD)')
    array = _json(command) if command else None
    if array is not None:
        test: tuple[str, ...] = ("CMD", *array)
        empty = not array
    else:
        test = ("CMD-SHELL", command)
        empty = not command
    if empty:
        raise _SyntaxError("Missing command after HEALTHCHECK CMD")
    retries = 0
    if flags.string("retries"):
        try:
            retries = int(flags.string("retries"))
        except ValueError:
            raise _SyntaxError(
                f'strconv.ParseInt: parsing "{flags.string("retries")}": invalid syntax'
            ) from None
        if retries < 0:
            raise _SyntaxError(f"--retries cannot be negative ({retries})")
    return ins.Healthcheck(
        req.location,
        ins.HealthcheckSpec(
            test=test,
            interval_ns=_interval(flags, "interval"),
            timeout_ns=_interval(flags, "timeout"),
            start_period_ns=_interval(flags, "start-period"),
            start_interval_ns=_interval(flags, "start-interval"),
            retries=retries,
        ),
    )


def _file_sources(req: _Request, keyword: str) -> ins.FileSources:
    args, _ = req.json_or_list()
    if len(args) < 2:
        raise _SyntaxError(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *sources, dest = args
    if heredoc_marker(dest) is not None:
        raise _SyntaxError(f"{keyword} cannot accept a heredoc as a destination")
    docs = {doc.name: doc for doc in req.raw.heredocs}
    paths = []
    inline = []
    for source in sources:
        marker = heredoc_marker(source)
        if marker is None:
            paths.append(source)
            continue
        doc = docs.get(marker.name)
        inline.append(
            ins.InlineFile(marker.name, doc.text if doc else "", doc.expand if doc else True)
        )
    return ins.FileSources(tuple(paths), tuple(inline), dest)


def _copy(req: _Request) -> ins.Copy:
    kinds = {"from": "string", "chown": "string", "chmod": "string", "link": "bool"}
    flags = req.flags(**kinds, exclude="strings", parents="bool")
    if flags.boolean("parents"):
        raise _SyntaxError("COPY --parents is not supported by cais")
    return ins.Copy(
        req.location,
        _file_sources(req, "COPY"),
        from_=flags.string("from"),
        chown=flags.string("chown"),
        chmod=flags.string("chmod"),
        link=bool(flags.boolean("link")),
        excludes=flags.strings("exclude"),
    )


def _add(req: _Request) -> ins.Add:
    flags = req.flags(
        chown="string",
        chmod="string",
        link="bool",
        keep_git_dir="bool",
        checksum="string",
        unpack="bool",
        exclude="strings",
    )
    if flags.boolean("keep-git-dir") is not None:
        raise _SyntaxError("ADD --keep-git-dir: git sources are not supported by cais")
    return ins.Add(
        req.location,
        _file_sources(req, "ADD"),
        chown=flags.string("chown"),
        chmod=flags.string("chmod"),
        link=bool(flags.boolean("link")),
        checksum=flags.string("checksum"),
        unpack=flags.boolean("unpack"),
        excludes=flags.strings("exclude"),
    )


def _onbuild(req: _Request) -> ins.Onbuild:
    req.no_flags()
    if not req.rest:
        raise _SyntaxError("ONBUILD requires at least one argument")
    inner = raw_instruction(req.rest, req.escape, req.raw.start, req.raw.end)
    keyword = inner.keyword.upper()
    if keyword == "ONBUILD":
        raise _SyntaxError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if keyword in ("MAINTAINER", "FROM"):
        raise _SyntaxError(f"{keyword} isn't allowed as an ONBUILD trigger")
    inner = RawInstruction(
        inner.keyword,
        inner.flags,
        inner.rest,
        inner.original,
        inner.start,
        inner.end,
        req.raw.heredocs,
    )
    parser = _PARSERS.get(inner.keyword.lower())
    if parser is None:
        raise _SyntaxError(f"unknown instruction: {inner.keyword}")
    trigger = parser(_Request(inner, req.escape, req.filename))
    assert not isinstance(trigger, ins.From)
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", req.raw.original, count=1)
    for doc in req.raw.heredocs:
        expression += "\n" + doc.content + doc.name
    return ins.Onbuild(req.location, expression, trigger)


_PARSERS: dict[str, Callable[[_Request], ins.Instruction | ins.From]] = {
    "from": _from,
    "run": _run,
    "cmd": _cmd,
    "entrypoint": _entrypoint,
    "shell": _shell,
    "env": _env,
    "label": _label,
    "arg": _arg,
    "expose": _expose,
    "volume": _volume,
    "user": _user,
    "workdir": _workdir,
    "stopsignal": _stopsignal,
    "maintainer": _maintainer,
    "healthcheck": _healthcheck,
    "copy": _copy,
    "add": _add,
    "onbuild": _onbuild,
}
