"""The ``cais up`` process: one aiohttp application on one port, its components around it.

Startup: mount every component, add ``POST /`` (the AWS dispatcher), start the components
in order, listen, start their background work, announce. Shutdown (SIGTERM, SIGINT, or the
``stop`` event): cancel background work, stop listening and drain requests in flight, stop
the components in reverse order. One line is logged per request (``cais.access``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from cais.aws.http import add_aws_routes
from cais.registry.http import READ_BUFSIZE
from cais.server.component import Component, Platform

log = logging.getLogger(__name__)
access = logging.getLogger("cais.access")

SHUTDOWN_TIMEOUT = 10.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request: client, method, path (and AWS operation), status, duration."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        target = request.headers.get("X-Amz-Target")
        what = f" {target.rpartition('.')[2]}" if target else ""
        access.info(
            '%s "%s %s"%s %d %.1fms',
            request.remote or "-",
            request.method,
            request.rel_url.raw_path,
            what,
            status,
            (time.perf_counter() - started) * 1e3,
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (``port`` 0: any free one), made before anything else so that
    components know the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Server:
    """Runs ``components`` on ``platform`` over an already bound ``sock``."""

    def __init__(
        self,
        platform: Platform,
        components: Sequence[Component],
        sock: socket.socket,
        *,
        access_log: bool = True,
    ) -> None:
        self.platform = platform
        self.components = list(components)
        self._sock = sock
        self._access_log = access_log

    def application(self) -> web.Application:
        middlewares = [access_log] if self._access_log else []
        app = web.Application(middlewares=middlewares, handler_args={"read_bufsize": READ_BUFSIZE})
        for component in self.components:
            component.mount(app)
        add_aws_routes(app, self.platform.dispatcher)
        return app

    async def serve(
        self,
        *,
        stop: asyncio.Event | None = None,
        handle_signals: bool = True,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve until ``stop`` is set (or a signal arrives when ``handle_signals``)."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        started: list[Component] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            for component in self.components:
                await component.start()
                started.append(component)
            await web.SockSite(runner, self._sock, backlog=1024).start()
            for component in self.components:
                for work in component.background():
                    tasks.append(
                        asyncio.create_task(_supervised(work.name, work.run), name=work.name)
                    )
            if ready is not None:
                ready(self.platform.address.url)
            await stop.wait()
            log.info("shutting down")
        finally:
            await _cancel(tasks)
            await runner.cleanup()
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    log.exception("stopping %s failed", component.name)
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)


async def _supervised(name: str, run: Callable[[], Awaitable[None]]) -> None:
    try:
        await run()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background work %s stopped with an error", name)


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
