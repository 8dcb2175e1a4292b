"""The composition root of ``cais up``: which components run, in which order, on what.

``default_components`` is the list the platform runs today (the registry with ECR, then
CloudWatch Logs). A later part of the platform adds itself here, after the components it
builds on, for example::

    ecr = EcrComponent(platform, lifecycle_interval=options.lifecycle_interval)
    return [ecr, LogsComponent(platform), EcsComponent(platform, images=ecr.ecr), LocalAgent(...)]

``up`` wires the rest: it binds the port first (so every component knows the real
address), makes the shared :class:`Platform` (engine, AWS dispatcher over the root's access
keys, worker pool), builds the components and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cais.aws.edge import edge_dispatcher
from cais.ecs.service import DEFAULT_HEARTBEAT
from cais.engine import Engine
from cais.errors import CaisError, ConflictError
from cais.server.agent import LocalAgent, find_issuer
from cais.server.app import Server, bind
from cais.server.component import Address, Component, Platform
from cais.server.ecr import DEFAULT_LIFECYCLE_INTERVAL, EcrComponent
from cais.server.ecs import EcsComponent
from cais.server.logs import DEFAULT_RETENTION_INTERVAL, LogsComponent
from cais.settings import Settings

DEFAULT_PORT = 2247  # "CAIS" on a phone keypad; no well-known service uses it
DEFAULT_HOST = "127.0.0.1"
WORKERS = 16


@dataclass(frozen=True)
class UpOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    advertise: str | None = None  # host:port for repository URIs (default localhost:PORT)
    lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL
    retention_interval: float = DEFAULT_RETENTION_INTERVAL
    access_log: bool = True
    agent_heartbeat: float = DEFAULT_HEARTBEAT  # how often agents poll (ECS control plane)
    local_agent: bool = True  # this machine as a container instance of the default cluster


ComponentFactory = Callable[[Platform, UpOptions], Sequence[Component]]


def default_components(platform: Platform, options: UpOptions) -> list[Component]:
    ecr = EcrComponent(platform, lifecycle_interval=options.lifecycle_interval)
    logs = LogsComponent(platform, retention_interval=options.retention_interval)
    components: list[Component] = [
        ecr,
        logs,
        EcsComponent(platform, ecr=ecr.ecr, logs=logs.store, heartbeat=options.agent_heartbeat),
    ]
    # last: the local agent asks the control plane (a component above) for its join token
    if options.local_agent:
        components.append(LocalAgent(platform, issuer=find_issuer(components)))
    return components


class RootLock:
    """One ``cais up`` per cais root: an exclusive ``flock`` on ``<root>/up.lock``."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.root / "up.lock"
        self._fd: int | None = None

    def __enter__(self) -> RootLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConflictError(
                f"another cais up (pid {holder}) is running on {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def up(
    settings: Settings,
    options: UpOptions,
    *,
    components: ComponentFactory = default_components,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the platform in this process until SIGTERM or SIGINT."""
    with RootLock(settings):
        try:
            sock = bind(options.host, options.port)
        except OSError as exc:
            raise CaisError(f"cannot listen on {options.host}:{options.port}: {exc}") from None
        engine = Engine(settings)
        executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cais-up")
        try:
            address = Address(options.host, sock.getsockname()[1], options.advertise)
            platform = Platform(
                settings=settings,
                engine=engine,
                dispatcher=edge_dispatcher(engine.db, executor=executor),
                address=address,
                executor=executor,
            )
            server = Server(
                platform, components(platform, options), sock, access_log=options.access_log
            )
            asyncio.run(server.serve(ready=ready))
        finally:
            sock.close()
            executor.shutdown(wait=True, cancel_futures=True)
            engine.close()
