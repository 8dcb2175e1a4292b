"""The aiohttp side: mount the dispatcher at ``POST /`` of any application.

``cais up`` mounts it next to the registry's ``/v2/`` routes; tests and benchmarks run it
alone with :class:`BackgroundServer`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import web

from cais.aws import errors
from cais.aws.dispatch import Dispatcher
from cais.aws.request import AwsRequest, AwsResponse

_CHUNK = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def aws_handler(dispatcher: Dispatcher) -> Handler:
    """An aiohttp handler that feeds requests to ``dispatcher``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await _read_limited(request, dispatcher.max_body_bytes)
        if isinstance(body, int):
            exc = errors.request_too_large(body, dispatcher.max_body_bytes)
            return _web_response(dispatcher.error_response(exc, str(uuid.uuid4())))
        path, _, query = request.raw_path.partition("?")
        aws_request = AwsRequest(
            method=request.method,
            path=path,
            query=query,
            headers=tuple(request.headers.items()),
            body=body,
        )
        return _web_response(await dispatcher.handle(aws_request))

    return handle


def add_aws_routes(app: web.Application, dispatcher: Dispatcher, *, path: str = "/") -> None:
    """Serve every registered AWS service at ``POST path`` of ``app``."""
    app.router.add_post(path, aws_handler(dispatcher))


async def _read_limited(request: web.Request, limit: int) -> bytes | int:
    """The body, or its size (as far as read) when it exceeds ``limit``."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return declared
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return size
        chunks.append(chunk)
    return b"".join(chunks)


def _web_response(response: AwsResponse) -> web.Response:
    return web.Response(status=response.status, body=response.body, headers=response.headers)


class BackgroundServer:
    """An aiohttp application served on 127.0.0.1 from a thread (tests, benchmarks).

    ``port=0`` picks a free port; :attr:`url` is the endpoint to give boto3.
    """

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def start(self) -> BackgroundServer:
        self._thread = threading.Thread(target=self._run, name="aws-server", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(30)
        self._loop = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _serve(self) -> None:
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
