"""Run the registry as its own server until SIGINT or SIGTERM (``cais registry serve``)."""

from __future__ import annotations

import asyncio
import signal
from typing import TextIO

from aiohttp import web

from cais.registry.auth import Authenticator
from cais.registry.http import READ_BUFSIZE, create_app
from cais.registry.registry import Registry


async def _run(
    registry: Registry, *, auth: Authenticator, host: str, port: int, announce: TextIO | None
) -> None:
    app = create_app(registry, auth=auth)
    runner = web.AppRunner(app, access_log=None, read_bufsize=READ_BUFSIZE)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = port
    server = site._server
    if isinstance(server, asyncio.base_events.Server) and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    if announce is not None:
        announce.write(f"listening on http://{host}:{bound}\n")
        announce.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(
    registry: Registry,
    *,
    auth: Authenticator,
    host: str = "127.0.0.1",
    port: int = 5000,
    announce: TextIO | None = None,
) -> None:
    asyncio.run(_run(registry, auth=auth, host=host, port=port, announce=announce))
