"""cais's own registry served on 127.0.0.1 from a thread of the test process (no root)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from aiohttp import web

from cais.registry import Registry, open_driver
from cais.registry.auth import Authenticator, BasicAuth, Htpasswd, NoAuth, TokenAuth
from cais.registry.http import create_app


@dataclass(frozen=True)
class Live:
    host: str
    registry: Registry


def htpasswd(path: Path, users: dict[str, str]) -> Path:
    lines = [
        f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}"
        for u, p in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def authenticator(kind: str, tmp: Path) -> Authenticator:
    if kind == "none":
        return NoAuth()
    users = Htpasswd(htpasswd(tmp / "htpasswd", {"alice": "secret"}))
    return BasicAuth(users) if kind == "basic" else TokenAuth(users)


@contextmanager
def serve(tmp: Path, auth: str = "none") -> Iterator[Live]:
    registry = Registry(open_driver("memory"))
    app = create_app(registry, auth=authenticator(auth, tmp))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "registry did not start"
    try:
        yield Live(f"127.0.0.1:{box['port']}", registry)
    finally:
        runner = box["runner"]
        assert isinstance(runner, web.AppRunner)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
