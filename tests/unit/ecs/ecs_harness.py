"""An in-process ECS control plane for unit tests: the real ``Server`` with the Logs and
ECS components on 127.0.0.1 (a free port) in a thread, boto3 pointed at it, and the fake
agent of ``tests/ecs_fake_agent.py`` talking to it over HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, edge_dispatcher
from cais.engine import Engine
from cais.server import Address, EcsComponent, LogsComponent, Platform, Server, bind
from cais.settings import Settings
from ecs_fake_agent import FakeAgent

REGION = "us-east-1"
ACCOUNT = "000000000000"


class FakeLogins:
    """Registry logins for a pretend registry host (the ECR room's role)."""

    def __init__(self, host: str) -> None:
        self.hosts: Collection[str] = frozenset({host})
        self.issued: list[tuple[str, str]] = []

    def password(self, *, account: str, access_key_id: str) -> str | None:
        self.issued.append((account, access_key_id))
        return f"login-for-{account}-{access_key_id}"


@dataclass
class ControlPlane:
    url: str
    component: EcsComponent
    logs: LogsComponent

    @property
    def token(self) -> str:
        return self.component.local_join_token

    def client(self, service: str = "ecs") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=DEFAULT_ACCESS_KEY_ID,
            aws_secret_access_key=DEFAULT_SECRET_ACCESS_KEY,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def agent(self, hostname: str = "a", **options: Any) -> FakeAgent:
        options.setdefault("poll_wait", 1.0)
        return FakeAgent(self.url, self.token, hostname=hostname, **options)


@contextmanager
def control_plane(settings: Settings, *, heartbeat: float = 1.0) -> Iterator[ControlPlane]:
    engine = Engine(settings)
    executor = ThreadPoolExecutor(max_workers=8)
    sock = bind("127.0.0.1", 0)
    platform = Platform(
        settings=settings,
        engine=engine,
        dispatcher=edge_dispatcher(engine.db, executor=executor),
        address=Address("127.0.0.1", sock.getsockname()[1]),
        executor=executor,
    )
    logs = LogsComponent(platform, retention_interval=0)
    component = EcsComponent(platform, logs=logs.store, heartbeat=heartbeat)
    server = Server(platform, [logs, component], sock, access_log=False)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    urls: list[str] = []
    failure: list[BaseException] = []

    def run() -> None:
        def announce(url: str) -> None:
            urls.append(url)
            ready.set()

        try:
            loop.run_until_complete(server.serve(stop=stop, handle_signals=False, ready=announce))
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="ecs-control-plane", daemon=True)
    thread.start()
    ready.wait(30)
    if failure:
        raise failure[0]
    try:
        yield ControlPlane(urls[0], component, logs)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
        sock.close()
        executor.shutdown(wait=True)
        engine.close()


WEB = {
    "family": "web",
    "containerDefinitions": [
        {"name": "web", "image": "busybox", "memory": 128, "cpu": 256},
    ],
}
