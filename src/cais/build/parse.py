"""Dockerfile text → :class:`~cais.build.instructions.Dockerfile` (pure, no I/O).

Every instruction's arguments are read the way BuildKit's frontend reads them: exec
(JSON) or shell form for RUN/CMD/ENTRYPOINT, ``key=value`` words or the legacy
``key value`` for ENV and LABEL, JSON or whitespace lists for COPY/ADD/VOLUME, and
``--flags`` checked per instruction. Errors name the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cais.build import instructions as ins
from cais.build.arguments import (
    BLANKS,
    ArgumentError,
    Flags,
    parse_duration,
    parse_words,
    split_blanks,
)
from cais.build.errors import DockerfileError
from cais.build.syntax import (
    RawInstruction,
    heredoc_marker,
    json_array,
    raw_instruction,
    read_dockerfile,
)

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


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
    except ArgumentError as exc:
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

    def flags(self, **kinds: str) -> Flags:
        return Flags(self.raw.flags).parse(**kinds)

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
        return split_blanks(self.rest), False


def _json(rest: str) -> list[str] | None:
    try:
        return json_array(rest)
    except ValueError as exc:
        raise ArgumentError(str(exc)) from None


def _key_values(req: _Request, keyword: str) -> tuple[ins.KeyValue, ...]:
    words = parse_words(req.rest, req.escape)
    if not words:
        raise ArgumentError(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = BLANKS.split(req.rest, maxsplit=1)
        if len(parts) < 2:
            raise ArgumentError(f"{keyword} must have two arguments")
        return (ins.KeyValue(parts[0], parts[1]),)
    pairs = []
    for word in words:
        if "=" not in word:
            raise ArgumentError(
                f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
            )
        key, _, value = word.partition("=")
        if not key:
            raise ArgumentError(f"{keyword} names can not be blank")
        pairs.append(ins.KeyValue(key, value))
    return tuple(pairs)


def _exactly_one(req: _Request, keyword: str) -> str:
    if not req.rest:
        raise ArgumentError(f"{keyword} requires exactly one argument")
    return req.rest


# one parser per instruction


def _from(req: _Request) -> ins.From:
    flags = req.flags(platform="string")
    args = split_blanks(req.rest)
    name = ""
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise ArgumentError(
                f"invalid name for build stage: {args[2]!r}, name can't start with a number "
                "or contain symbols"
            )
    elif len(args) != 1:
        raise ArgumentError("FROM requires either one or three arguments")
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
            raise ArgumentError(f"RUN --{unsupported} is not supported by cais")
    network = flags.string("network")
    if network and network not in ("none", "host", "default"):
        raise ArgumentError(f"unsupported network mode {network!r}: use none, host or default")
    command = _command(req)
    if not command.args:
        raise ArgumentError("RUN requires at least one argument")
    heredocs = req.raw.heredocs
    if heredocs and (len(command.args) != 1 or not command.shell_form):
        raise ArgumentError("parsing produced an invalid run command")
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
        raise ArgumentError("SHELL requires at least one argument")
    if not is_json:
        raise ArgumentError(f"SHELL requires the arguments to be in JSON form: {req.rest}")
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
        raise ArgumentError("ARG requires at least one argument")
    args = []
    for word in words:
        if "=" in word:
            name, _, default = word.partition("=")
            if not name:
                raise ArgumentError("ARG names can not be blank")
            args.append(ins.ArgDefinition(name, default))
        else:
            args.append(ins.ArgDefinition(word))
    return ins.Arg(req.location, tuple(args))


def _expose(req: _Request) -> ins.Expose:
    req.no_flags()
    ports = split_blanks(req.rest)
    if not ports:
        raise ArgumentError("EXPOSE requires at least one argument")
    return ins.Expose(req.location, tuple(ports))


def _volume(req: _Request) -> ins.Volume:
    req.no_flags()
    paths, _ = req.json_or_list()
    if not paths:
        raise ArgumentError("VOLUME requires at least one argument")
    cleaned = []
    for path in paths:
        if not path.strip():
            raise ArgumentError("VOLUME specified can not be an empty string")
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


def _interval(flags: Flags, name: str) -> int:
    text = flags.string(name)
    if not text:
        return 0
    ns = parse_duration(text)
    if ns == 0:
        return 0
    if ns < 1_000_000:
        raise ArgumentError(f'Interval "{name}" cannot be less than 1ms')
    return ns


def _healthcheck(req: _Request) -> ins.Healthcheck:
    rest = req.rest
    if not rest:
        raise ArgumentError("HEALTHCHECK requires at least one argument")
    parts = BLANKS.split(rest, maxsplit=1)
    kind = parts[0].upper()
    command = parts[1].strip() if len(parts) == 2 else ""
    if kind == "NONE":
        if command:
            raise ArgumentError("HEALTHCHECK NONE takes no arguments")
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
        raise ArgumentError(f'Unknown type "{parts[0]}" in HEALTHCHECK (try CMD)')
    array = _json(command) if command else None
    if array is not None:
        test: tuple[str, ...] = ("CMD", *array)
        empty = not array
    else:
        test = ("CMD-SHELL", command)
        empty = not command
    if empty:
        raise ArgumentError("Missing command after HEALTHCHECK CMD")
    retries = 0
    if flags.string("retries"):
        try:
            retries = int(flags.string("retries"))
        except ValueError:
            raise ArgumentError(
                f'strconv.ParseInt: parsing "{flags.string("retries")}": invalid syntax'
            ) from None
        if retries < 0:
            raise ArgumentError(f"--retries cannot be negative ({retries})")
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
        raise ArgumentError(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *sources, dest = args
    if heredoc_marker(dest) is not None:
        raise ArgumentError(f"{keyword} cannot accept a heredoc as a destination")
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
        raise ArgumentError("COPY --parents is not supported by cais")
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
        raise ArgumentError("ADD --keep-git-dir: git sources are not supported by cais")
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
        raise ArgumentError("ONBUILD requires at least one argument")
    inner = raw_instruction(req.rest, req.escape, req.raw.start, req.raw.end)
    keyword = inner.keyword.upper()
    if keyword == "ONBUILD":
        raise ArgumentError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if keyword in ("MAINTAINER", "FROM"):
        raise ArgumentError(f"{keyword} isn't allowed as an ONBUILD trigger")
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
        raise ArgumentError(f"unknown instruction: {inner.keyword}")
    trigger = parser(_Request(inner, req.escape, req.filename))
    assert not isinstance(trigger, ins.From)
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", req.raw.original, count=1)
    for doc in req.raw.heredocs:
        expression += "\n" + doc.content + doc.name
    return ins.Onbuild(req.location, expression, trigger)


_PARSERS: Mapping[str, Callable[[_Request], ins.Instruction | ins.From]] = MappingProxyType(
    {
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
)
