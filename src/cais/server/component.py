"""What ``cais up`` is made of: components over one shared :class:`Platform`.

A *component* is one part of the platform process (the registry with ECR, CloudWatch
Logs, and next the ECS control plane and the local agent). The server drives every
component through the same four steps, in the order the components were given (and stops
them in reverse):

1. ``mount(app)`` — add HTTP routes and middlewares to the one aiohttp application and
   register AWS providers on ``platform.dispatcher`` (nothing runs yet);
2. ``await start()`` — get ready before the port accepts requests (recover state);
3. ``background()`` — long-running work (schedules, controllers, agents), started once the
   port listens and cancelled at shutdown;
4. ``await stop()`` — release what ``start`` took, after requests have drained.

Scheduled work lives here, in components, never inside providers or domain modules: those
stay plain objects that a component calls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web

from cais.aws.dispatch import Dispatcher
from cais.engine import Engine
from cais.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Address:
    """Where ``cais up`` listens, and the ``host:port`` clients are told to use."""

    host: str
    port: int
    advertised: str | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def registry_host(self) -> str:
        """What repository URIs start with: ``localhost:<port>`` unless advertised."""
        return self.advertised or f"localhost:{self.port}"


@dataclass(frozen=True)
class Platform:
    """What every component shares: the cais root, its engine and database, the AWS
    dispatcher behind ``POST /``, the listening address and a pool for blocking work."""

    settings: Settings
    engine: Engine
    dispatcher: Dispatcher
    address: Address
    executor: ThreadPoolExecutor

    def run(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Call blocking code (SQLite, storage) on the platform's worker threads."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self.executor, functools.partial(fn, *args))


@dataclass(frozen=True)
class Background:
    """A long-running coroutine of a component; cancelled when the server stops."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]


class Component(Protocol):
    @property
    def name(self) -> str: ...

    def mount(self, app: web.Application) -> None:
        """Add routes, middlewares and AWS providers (before the server starts)."""
        ...

    async def start(self) -> None:
        """Get ready, before the port accepts requests."""
        ...

    def background(self) -> Sequence[Background]:
        """Work to run while the server serves."""
        ...

    async def stop(self) -> None:
        """Release what ``start`` took (after requests have drained)."""
        ...


def periodic(
    name: str,
    interval: float,
    job: Callable[[], object],
    *,
    platform: Platform,
    first_after: float | None = None,
) -> Background:
    """Run blocking ``job`` on a worker thread every ``interval`` seconds.

    A failing run is logged and the schedule goes on; ``first_after`` (default: one
    interval) delays the first run.
    """

    async def loop() -> None:
        await asyncio.sleep(interval if first_after is None else first_after)
        while True:
            try:
                await platform.run(job)
            except Exception:
                log.exception("%s failed; next run in %.0fs", name, interval)
            await asyncio.sleep(interval)

    return Background(name, loop)
