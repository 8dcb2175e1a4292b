"""What each instruction does to a stage's configuration (pure, no I/O).

A stage's :class:`StageState` is the image config so far plus what exists only while
building: the environment RUN sees and ``$VAR`` expands against (the config's ENV plus
the values of ARGs in scope; the last assignment wins, ENV or ARG), and the ARGs
declared in the stage. Metadata instructions (ENV, LABEL, CMD …) only change the
state; their history text is what ``docker history`` shows.
"""

from __future__ import annotations

import json
import posixpath
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cais.build import instructions as ins
from cais.build.words import Lexer, WordError
from cais.errors import InvalidArgumentError
from cais.oci.config import ContainerConfig, HealthConfig
from cais.oci.platform import Platform

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
# build args usable without an ARG line; never recorded in history or cache keys
PROXY_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    }
)
_PROTOCOLS = ("tcp", "udp", "sctp")


class InstructionError(InvalidArgumentError):
    """An instruction whose values are wrong once expanded (bad port, bad signal …)."""


@dataclass(frozen=True)
class StageState:
    config: ContainerConfig
    author: str = ""
    env: tuple[tuple[str, str], ...] = ()
    args: tuple[tuple[str, str | None], ...] = ()
    cmd_set: bool = False

    def environment(self) -> dict[str, str]:
        return dict(self.env)

    def with_env(self, key: str, value: str) -> StageState:
        return replace(self, env=_set_pair(self.env, key, value))

    def run_env(self, proxies: Mapping[str, str]) -> tuple[str, ...]:
        """The environment of a RUN: the build environment plus proxy build args."""
        merged = dict(self.env)
        for key, value in proxies.items():
            merged.setdefault(key, value)
        return tuple(f"{k}={v}" for k, v in merged.items())

    def shell(self) -> tuple[str, ...]:
        return self.config.shell or DEFAULT_SHELL

    def visible_args(self) -> tuple[tuple[str, str], ...]:
        """ARGs of this stage that have values, as RUN's history records them (``|N k=v``)."""
        env = self.environment()
        seen: dict[str, str] = {}
        for name, value in self.args:
            if name in PROXY_ARGS:
                continue
            seen[name] = env.get(name, value or "")
        return tuple(seen.items())


def _set_pair(
    pairs: tuple[tuple[str, str], ...], key: str, value: str
) -> tuple[tuple[str, str], ...]:
    if any(k == key for k, _ in pairs):
        return tuple((k, value if k == key else v) for k, v in pairs)
    return (*pairs, (key, value))


def _set_env(env: tuple[str, ...], key: str, value: str) -> tuple[str, ...]:
    out = []
    found = False
    for item in env:
        name, _, _ = item.partition("=")
        if name == key:
            out.append(f"{key}={value}")
            found = True
        else:
            out.append(item)
    if not found:
        out.append(f"{key}={value}")
    return tuple(out)


def start_stage(config: ContainerConfig, *, author: str = "") -> StageState:
    """A stage's state right after FROM: the base's environment (PATH always set)."""
    env = config.env
    if not any(item.startswith("PATH=") for item in env):
        env = (*env, f"PATH={DEFAULT_PATH}")
    pairs: tuple[tuple[str, str], ...] = ()
    for item in env:
        key, _, value = item.partition("=")
        pairs = _set_pair(pairs, key, value)
    return StageState(config=replace(config, env=env, on_build=()), author=author, env=pairs)


def platform_args(platform: Platform, target: str) -> dict[str, str]:
    """BuildKit's predefined global ARGs (TARGETARCH …), from this machine's platform."""
    formatted = f"{platform.os}/{platform.architecture}" + (
        f"/{platform.variant}" if platform.variant else ""
    )
    return {
        "BUILDPLATFORM": formatted,
        "BUILDOS": platform.os,
        "BUILDARCH": platform.architecture,
        "BUILDVARIANT": platform.variant,
        "TARGETPLATFORM": formatted,
        "TARGETOS": platform.os,
        "TARGETARCH": platform.architecture,
        "TARGETVARIANT": platform.variant,
        "TARGETSTAGE": target or "default",
    }


def global_scope(
    args: tuple[ins.Arg, ...],
    build_args: Mapping[str, str],
    *,
    defaults: Mapping[str, str],
    lexer: Lexer,
    used: set[str] | None = None,
) -> dict[str, str]:
    """The values of ARGs before the first FROM (what FROM lines may use)."""
    scope = dict(defaults)
    for key in defaults:
        if key in build_args:
            scope[key] = build_args[key]
    for arg in args:
        for definition in arg.args:
            if used is not None:
                used.add(definition.name)
            if definition.name in build_args:
                scope[definition.name] = build_args[definition.name]
            elif definition.default is not None:
                scope[definition.name] = lexer.word(definition.default, scope)
    return scope


@dataclass(frozen=True)
class Applied:
    """A metadata instruction's effect: the new state and the history line."""

    state: StageState
    history: str
    used_args: frozenset[str] = field(default_factory=frozenset)


def apply_arg(
    state: StageState,
    arg: ins.Arg,
    *,
    build_args: Mapping[str, str],
    global_args: Mapping[str, str],
    lexer: Lexer,
) -> Applied:
    """ARG: a value from ``--build-arg``, else the default, else the global ARG's value.

    The history line (and so the step's cache key) is the definition, the default expanded
    as Docker's builder does, never the ``--build-arg`` value: a changed value misses where
    it is first used (RUN, or text that expands it), not at the ARG itself.
    """
    parts = []
    used = set()
    for definition in arg.args:
        name = definition.name
        used.add(name)
        env = state.environment()
        default: str | None = None
        if definition.default is not None:
            try:
                default = lexer.word(definition.default, env)
            except WordError:
                if name not in build_args:
                    raise
                default = definition.default  # unused: the build arg replaces it
        value: str | None
        if name in build_args:
            value = build_args[name]
        elif default is not None:
            value = default
        else:
            value = global_args.get(name)
        if value is not None:
            state = state.with_env(name, value)
        state = replace(state, args=(*[a for a in state.args if a[0] != name], (name, value)))
        parts.append(name if default is None else f"{name}={default}")
    return Applied(state, "ARG " + " ".join(parts), frozenset(used))


def apply_metadata(state: StageState, instruction: ins.Instruction, *, lexer: Lexer) -> Applied:
    """ENV, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
    MAINTAINER and ONBUILD (ARG has :func:`apply_arg`; WORKDIR is a file step too)."""
    env = state.environment()
    cfg = state.config

    def word(text: str) -> str:
        return lexer.word(text, env)

    if isinstance(instruction, ins.Env):
        new_env = cfg.env
        parts = []
        for pair in instruction.pairs:
            key, value = word(pair.key), word(pair.value)
            new_env = _set_env(new_env, key, value)
            state = state.with_env(key, value)
            parts.append(f"{key}={value}")
        return Applied(replace(state, config=replace(cfg, env=new_env)), "ENV " + " ".join(parts))
    if isinstance(instruction, ins.Label):
        labels = dict(cfg.labels)
        parts = []
        for pair in instruction.pairs:
            key, value = word(pair.key), word(pair.value)
            labels[key] = value
            parts.append(f"{key}={value}")
        return Applied(
            replace(state, config=replace(cfg, labels=labels)), "LABEL " + " ".join(parts)
        )
    if isinstance(instruction, ins.Expose):
        ports = [p for text in instruction.ports for w in lexer.words(text, env) for p in _ports(w)]
        merged = tuple(sorted(set(cfg.exposed_ports) | set(ports)))
        return Applied(
            replace(state, config=replace(cfg, exposed_ports=merged)),
            "EXPOSE " + " ".join(ports),
        )
    if isinstance(instruction, ins.Volume):
        paths = []
        for text in instruction.paths:
            path = word(text)
            if not path:
                raise InstructionError("VOLUME specified can not be an empty string")
            paths.append(path)
        volumes = tuple(sorted(set(cfg.volumes) | set(paths)))
        return Applied(
            replace(state, config=replace(cfg, volumes=volumes)), f"VOLUME [{' '.join(paths)}]"
        )
    if isinstance(instruction, ins.User):
        user = word(instruction.user)
        return Applied(replace(state, config=replace(cfg, user=user)), f"USER {user}")
    if isinstance(instruction, ins.StopSignal):
        sig = word(instruction.signal)
        check_signal(sig)
        return Applied(replace(state, config=replace(cfg, stop_signal=sig)), f"STOPSIGNAL {sig}")
    if isinstance(instruction, ins.Cmd):
        args = command_args(state, instruction.command)
        return Applied(
            replace(state, config=replace(cfg, cmd=args), cmd_set=True), f"CMD {_json(args)}"
        )
    if isinstance(instruction, ins.Entrypoint):
        entry = command_args(state, instruction.command)
        cmd = cfg.cmd if state.cmd_set else None
        config = replace(cfg, entrypoint=entry or None, cmd=cmd)
        return Applied(replace(state, config=config), f"ENTRYPOINT {_json(entry)}")
    if isinstance(instruction, ins.Shell):
        return Applied(
            replace(state, config=replace(cfg, shell=instruction.shell)),
            f"SHELL {_json(instruction.shell)}",
        )
    if isinstance(instruction, ins.Healthcheck):
        return _healthcheck(state, instruction)
    if isinstance(instruction, ins.Maintainer):
        return Applied(replace(state, author=instruction.name), f"MAINTAINER {instruction.name}")
    if isinstance(instruction, ins.Onbuild):
        on_build = (*cfg.on_build, instruction.expression)
        return Applied(
            replace(state, config=replace(cfg, on_build=on_build)),
            f"ONBUILD {instruction.expression}",
        )
    raise TypeError(f"{type(instruction).__name__} is not a metadata instruction")


def apply_workdir(state: StageState, workdir: ins.Workdir, *, lexer: Lexer) -> Applied:
    """WORKDIR: relative paths continue from the previous one (the directory is made too)."""
    path = lexer.word(workdir.path, state.environment())
    resolved = normalize_workdir(state.config.working_dir, path)
    return Applied(
        replace(state, config=replace(state.config, working_dir=resolved)), f"WORKDIR {resolved}"
    )


def normalize_workdir(current: str, requested: str) -> str:
    if not requested.startswith("/"):
        requested = posixpath.join(current or "/", requested)
    cleaned = posixpath.normpath(requested)
    return "/" if cleaned in ("//", ".") else cleaned


def command_args(state: StageState, command: ins.CommandLine) -> tuple[str, ...]:
    """Exec form as written; shell form wrapped in the stage's SHELL (``/bin/sh -c``)."""
    if command.shell_form:
        return (*state.shell(), " ".join(command.args)) if command.args else ()
    return command.args


def _healthcheck(state: StageState, instruction: ins.Healthcheck) -> Applied:
    spec = instruction.check
    if spec is None:
        health = HealthConfig(test=("NONE",))
    else:
        health = HealthConfig(
            test=spec.test,
            interval_ns=spec.interval_ns,
            timeout_ns=spec.timeout_ns,
            start_period_ns=spec.start_period_ns,
            start_interval_ns=spec.start_interval_ns,
            retries=spec.retries,
        )
    text = "HEALTHCHECK " + ("NONE" if spec is None else _json(health.test))
    return Applied(replace(state, config=replace(state.config, healthcheck=health)), text)


def _ports(text: str) -> list[str]:
    """``80``, ``80/udp``, ``8000-8002/tcp`` → ``["80/tcp"]`` … (ranges expanded)."""
    port, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in _PROTOCOLS:
        raise InstructionError(f"invalid proto: {proto}")
    if ":" in port:
        raise InstructionError(f"invalid containerPort: {text} (publishing is done at run time)")
    start_text, dash, end_text = port.partition("-")
    try:
        start = int(start_text)
        end = int(end_text) if dash else start
    except ValueError:
        raise InstructionError(f"invalid containerPort: {port}") from None
    if not (0 < start <= end <= 65535):
        raise InstructionError(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def check_signal(text: str) -> None:
    """A signal name (``SIGTERM``, ``TERM``, ``SIGRTMIN+3``) or number, as Docker accepts."""
    value = text.strip().upper()
    if value.isdigit():
        if 0 < int(value) < 65:
            return
        raise InstructionError(f"invalid signal: {text}")
    name = value if value.startswith("SIG") else "SIG" + value
    if name in signal.Signals.__members__:
        return
    for base in ("SIGRTMIN+", "SIGRTMAX-"):
        if name.startswith(base) and name[len(base) :].isdigit():
            return
    raise InstructionError(f"invalid signal: {text}")


def _json(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))
