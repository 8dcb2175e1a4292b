"""The composition of ``cais up``: components mount, start, run background work and stop
in order; one log line per request; one server per root."""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiohttp import web

from cais.aws.edge import edge_dispatcher
from cais.cli.up import duration
from cais.engine import Engine
from cais.errors import ConflictError
from cais.server import (
    Address,
    Background,
    Platform,
    RootLock,
    Server,
    bind,
    periodic,
)
from cais.settings import Settings
from helpers import Cli


class Recorder:
    """A component that writes down what the server does to it."""

    def __init__(self, name: str, events: list[str], *, fail_start: bool = False) -> None:
        self.name = name
        self.events = events
        self.fail_start = fail_start
        self.ticks = 0

    def mount(self, app: web.Application) -> None:
        self.events.append(f"mount {self.name}")

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text=f"hello from {self.name}")

        app.router.add_get(f"/{self.name}", hello)

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.events.append(f"start {self.name}")

    def background(self) -> Sequence[Background]:
        async def tick() -> None:
            try:
                while True:
                    self.ticks += 1
                    await asyncio.sleep(0.01)
            finally:
                self.events.append(f"cancelled {self.name}")

        return (Background(f"{self.name}-tick", tick),)

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    engine = Engine(settings)
    executor = ThreadPoolExecutor(max_workers=2)
    yield Platform(
        settings=settings,
        engine=engine,
        dispatcher=edge_dispatcher(engine.db, executor=executor),
        address=Address("127.0.0.1", 0),
        executor=executor,
    )
    executor.shutdown()
    engine.close()


class Running:
    """A server on a thread: ``url`` while it runs, ``stop()`` to end it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.url = ""
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        def ready(url: str) -> None:
            self.url = url
            self._ready.set()

        try:
            self.loop.run_until_complete(
                self.server.serve(stop=self.stop_event, handle_signals=False, ready=ready)
            )
        except BaseException as exc:
            self.error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> Running:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self._thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(platform: Platform, components: Sequence[Recorder]) -> Running:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    bound = Platform(
        platform.settings,
        platform.engine,
        platform.dispatcher,
        Address("127.0.0.1", port),
        platform.executor,
    )
    return Running(Server(bound, components, sock))


def get(url: str | urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_components_run_in_order_and_stop_in_reverse(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    first, second = Recorder("first", events), Recorder("second", events)
    caplog.set_level(logging.INFO, logger="cais.access")
    with serve(platform, [first, second]) as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert get(f"{running.url}/second") == (200, "hello from second")
        status, body = get(f"{running.url}/nowhere")
        assert status == 404
        request = urllib.request.Request(f"{running.url}/", data=b"{}", method="POST")
        status, body = get(request)
        assert status == 400 and "UnknownOperationException" in body  # POST / is the AWS edge
        while first.ticks < 3 or second.ticks < 3:
            threading.Event().wait(0.01)
    assert running.error is None
    assert events == [
        "mount first",
        "mount second",
        "start first",
        "start second",
        "cancelled first",
        "cancelled second",
        "stop second",
        "stop first",
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "cais.access"]
    assert len(lines) == 3
    assert lines[0].startswith('127.0.0.1 "GET /second" 200 ')
    assert ' "GET /nowhere" 404 ' in lines[1]
    assert ' "POST /" 400 ' in lines[2]


def test_a_component_that_cannot_start_stops_those_that_did(platform: Platform) -> None:
    events: list[str] = []
    running = serve(platform, [Recorder("ok", events), Recorder("bad", events, fail_start=True)])
    with running:
        pass
    assert isinstance(running.error, RuntimeError)
    assert events == ["mount ok", "mount bad", "start ok", "stop ok"]


def test_periodic_work_survives_a_failing_run(platform: Platform) -> None:
    runs: list[int] = []

    def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ValueError("first run fails")

    async def main() -> None:
        work = periodic("job", 0.01, job, platform=platform, first_after=0)
        task = asyncio.create_task(work.run())
        while len(runs) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert runs[:3] == [0, 1, 2]


def test_one_server_per_root(settings: Settings) -> None:
    with RootLock(settings), pytest.raises(ConflictError) as info, RootLock(settings):
        pass
    assert "another cais up" in str(info.value)
    with RootLock(settings):
        pass  # released


def test_addresses() -> None:
    assert Address("127.0.0.1", 2247).registry_host == "localhost:2247"
    assert Address("0.0.0.0", 80, "registry.lan:80").registry_host == "registry.lan:80"
    assert Address("::1", 2247).url == "http://[::1]:2247"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("30s", 30.0), ("10m", 600.0), ("1h", 3600.0), ("0", 0.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


def test_up_help_says_how_to_point_clients_at_it(cli: Cli) -> None:
    out = cli("up", "--help").out
    for words in (
        "--endpoint-url http://127.0.0.1:2247",
        "AWS_ACCESS_KEY_ID=AKIACAISLOCALDEFAULT",
        "AWS_SECRET_ACCESS_KEY=caisLocalDefaultSecretKeyNotForProduction",
        "AWS_DEFAULT_REGION=us-east-1",
        'boto3.client("ecr", endpoint_url="http://127.0.0.1:2247"',
        "repositoryUri is localhost:<port>/<name>",
        "get-login-password",
        "--tls-verify=false",
        "--port",
        "--host",
        "--lifecycle-interval",
    ):
        assert words in out, words
    bad = cli("up", "--lifecycle-interval", "soon", check=False)
    assert bad.code == 125 and "invalid duration" in bad.err


def test_a_busy_port_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        result = cli("up", "--port", str(port), check=False, timeout=60)
    finally:
        sock.close()
    assert result.code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.err
