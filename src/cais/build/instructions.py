"""Typed Dockerfile instructions, as the parser yields them.

Values are as written (variables not yet substituted: that needs the build's
environment); ``text`` is the instruction's source with continuations joined and
``line`` its first line. A Dockerfile is global ARGs plus stages, each opened by FROM.
"""

from __future__ import annotations

from dataclasses import dataclass

from cais.build.syntax import Heredoc


@dataclass(frozen=True)
class Location:
    line: int
    end: int
    text: str


@dataclass(frozen=True)
class CommandLine:
    """What RUN, CMD and ENTRYPOINT run: exec form (``["a", "b"]``) or shell form."""

    args: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True)
class ArgDefinition:
    name: str
    default: str | None = None


@dataclass(frozen=True)
class InlineFile:
    """A heredoc used as a COPY/ADD source: a file named ``name`` holding ``data``."""

    name: str
    data: str
    expand: bool


@dataclass(frozen=True)
class From:
    location: Location
    base: str
    stage_name: str = ""
    platform: str = ""


@dataclass(frozen=True)
class Run:
    location: Location
    command: CommandLine
    heredocs: tuple[Heredoc, ...] = ()
    network: str = ""


@dataclass(frozen=True)
class Cmd:
    location: Location
    command: CommandLine


@dataclass(frozen=True)
class Entrypoint:
    location: Location
    command: CommandLine


@dataclass(frozen=True)
class Shell:
    location: Location
    shell: tuple[str, ...]


@dataclass(frozen=True)
class Env:
    location: Location
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True)
class Label:
    location: Location
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True)
class Arg:
    location: Location
    args: tuple[ArgDefinition, ...]


@dataclass(frozen=True)
class Expose:
    location: Location
    ports: tuple[str, ...]


@dataclass(frozen=True)
class Volume:
    location: Location
    paths: tuple[str, ...]


@dataclass(frozen=True)
class User:
    location: Location
    user: str


@dataclass(frozen=True)
class Workdir:
    location: Location
    path: str


@dataclass(frozen=True)
class StopSignal:
    location: Location
    signal: str


@dataclass(frozen=True)
class Maintainer:
    location: Location
    name: str


@dataclass(frozen=True)
class HealthcheckSpec:
    """``test`` is ``("CMD", …)`` or ``("CMD-SHELL", cmd)``; durations in nanoseconds."""

    test: tuple[str, ...]
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Healthcheck:
    """HEALTHCHECK; ``check`` None is ``HEALTHCHECK NONE`` (turn off the base's check)."""

    location: Location
    check: HealthcheckSpec | None


@dataclass(frozen=True)
class FileSources:
    """What COPY and ADD take: paths or URLs, heredoc files, and one destination."""

    paths: tuple[str, ...]
    inline: tuple[InlineFile, ...]
    dest: str


@dataclass(frozen=True)
class Copy:
    location: Location
    sources: FileSources
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Add:
    location: Location
    sources: FileSources
    chown: str = ""
    chmod: str = ""
    link: bool = False
    checksum: str = ""
    unpack: bool | None = None
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Onbuild:
    """ONBUILD: ``expression`` goes into the image config; ``trigger`` is it parsed."""

    location: Location
    expression: str
    trigger: Instruction


Instruction = (
    Run
    | Cmd
    | Entrypoint
    | Shell
    | Env
    | Label
    | Arg
    | Expose
    | Volume
    | User
    | Workdir
    | StopSignal
    | Maintainer
    | Healthcheck
    | Copy
    | Add
    | Onbuild
)

# instructions that change files (each gets a layer); the others change only the config
FILE_INSTRUCTIONS = (Run, Copy, Add, Workdir)


@dataclass(frozen=True)
class Stage:
    """``FROM base [AS name]`` and the instructions up to the next FROM."""

    index: int
    from_: From
    instructions: tuple[Instruction, ...]

    @property
    def name(self) -> str:
        return self.from_.stage_name

    @property
    def label(self) -> str:
        """How progress names the stage: its name, or ``stage-N``."""
        return self.name or f"stage-{self.index}"


@dataclass(frozen=True)
class Dockerfile:
    filename: str
    escape: str
    syntax: str | None
    global_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]

    def stage(self, name: str) -> Stage | None:
        """A stage by name (case-insensitive) or by index."""
        lowered = name.lower()
        for stage in self.stages:
            if stage.name and stage.name == lowered:
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None
