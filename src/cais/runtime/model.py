"""What a container is: the configuration it was created with and the state it is in.

Both are frozen values stored as JSON in the containers table; changing state means
writing a new state value in one transaction.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cais.oci.runtime_spec import Resources

T = TypeVar("T")

# Docker's container states
CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, EXITED, DEAD = (
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
)


@dataclass(frozen=True)
class HealthCheck:
    """``test`` is ``("CMD", …)``, ``("CMD-SHELL", cmd)`` or ``("NONE",)``; times in seconds."""

    test: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    start_period: float = 0.0
    retries: int = 3


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # no, on-failure, always, unless-stopped
    max_retries: int = 0


@dataclass(frozen=True)
class MountRequest:
    """A bind mount, a named or anonymous volume, or a tmpfs, at ``target``."""

    type: str  # bind, volume, tmpfs
    target: str
    source: str = ""
    readonly: bool = False
    options: tuple[str, ...] = ()
    anonymous: bool = False


@dataclass(frozen=True)
class ContainerConfig:
    """What the user asked for, resolved against the image at create time."""

    image: str
    image_id: str
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    working_dir: str = "/"
    user: str = ""
    hostname: str = ""
    domainname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    stdin_open: bool = False
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    healthcheck: HealthCheck | None = None
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    init: bool = False
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    seccomp: str = ""  # "" default profile, "unconfined", or a profile path
    resources: Resources = field(default_factory=Resources)
    mounts: tuple[MountRequest, ...] = ()
    network: str = "none"
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    runtime: str = "crun"
    log_size_max: int = 0
    exposed_ports: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()
    publish_all: bool = False
    network_aliases: tuple[str, ...] = ()
    ip: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name as "nofile", soft, hard)
    cgroup_parent: str = ""  # Docker's --cgroup-parent: "" is the settings' parent


@dataclass(frozen=True)
class HealthResult:
    start: str
    end: str
    exit_code: int
    output: str


@dataclass(frozen=True)
class Health:
    status: str = "starting"  # starting, healthy, unhealthy
    failing_streak: int = 0
    log: tuple[HealthResult, ...] = ()


@dataclass(frozen=True)
class ContainerState:
    status: str = CREATED
    pid: int = 0
    conmon_pid: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    restart_count: int = 0
    stopped_by_user: bool = False
    health: Health | None = None

    @property
    def running(self) -> bool:
        return self.status in (RUNNING, PAUSED, RESTARTING)


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    created: float
    config: ContainerConfig
    state: ContainerState = field(default_factory=ContainerState)

    @property
    def short_id(self) -> str:
        return self.id[:12]


def to_json(value: Any) -> Any:
    """Plain JSON-able data from nested frozen dataclasses."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(cls: type[T], data: Any) -> T:
    """The inverse of :func:`to_json` for the dataclasses of this module (unknown keys ignored)."""
    return typing.cast(T, _convert(cls, data))


@functools.cache
def _field_types(tp: type) -> dict[str, Any]:
    """Resolved field types of a dataclass (memoised: ``get_type_hints`` is slow)."""
    return typing.get_type_hints(tp)


def _convert(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(options[0], data)
    if dataclasses.is_dataclass(tp):
        hints = _field_types(typing.cast(type, tp))
        kwargs = {
            f.name: _convert(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return typing.cast(Any, tp)(**kwargs)
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(_convert(inner, v) for v in data)
    if origin is dict:
        return dict(data)
    return data


def needs_monitor(container: Container) -> bool:
    """Whether something must act for ``container`` while no command runs: restart it,
    probe its health, or remove it (``--rm``) once it exits."""
    cfg, state = container.config, container.state
    if state.status == RESTARTING:
        return True
    if state.status == EXITED:
        return cfg.auto_remove
    if state.status in (RUNNING, PAUSED):
        return cfg.auto_remove or cfg.restart.name != "no" or state.health is not None
    return False
