"""The local agent inside ``cais up``: it asks the control plane component for a join token,
registers this machine with ``default`` over the platform's own port and runs tasks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from agent_helpers import container, states_of
from aiohttp import web

from cais.agent import protocol as p
from cais.aws.edge import edge_dispatcher
from cais.engine import Engine
from cais.server import Address, Background, Platform, Server, bind
from cais.server.agent import LocalAgent, find_issuer
from ecs_fake_control_plane import FakeControlPlane, task_spec


class ControlPlaneComponent:
    """The fake control plane mounted on ``cais up``'s port, as the ECS component will be."""

    name = "fake-ecs"

    def __init__(self, fake: FakeControlPlane) -> None:
        self.fake = fake
        self.asked: list[str] = []

    def mount(self, app: web.Application) -> None:
        app.router.add_post(p.PREFIX + "/{call}", self.fake._handle)

    async def start(self) -> None:
        return None

    def background(self) -> Sequence[Background]:
        return ()

    async def stop(self) -> None:
        return None

    async def local_join_token(self, cluster: str) -> str:
        self.asked.append(cluster)
        return self.fake.token


class TokenAfterStart(ControlPlaneComponent):
    """As cais's ECS component: the token is a string its start() fills in."""

    def __init__(self, fake: FakeControlPlane) -> None:
        super().__init__(fake)
        self.local_join_token = ""  # type: ignore[assignment]

    async def start(self) -> None:
        self.local_join_token = self.fake.token  # type: ignore[assignment]


@pytest.mark.parametrize("kind", [ControlPlaneComponent, TokenAfterStart])
def test_the_local_agent_registers_with_default_and_runs_a_task(
    engine: Engine, busybox: str, kind: type[ControlPlaneComponent]
) -> None:
    fake = FakeControlPlane(token="local-secret")  # not started: cais up serves it
    executor = ThreadPoolExecutor(max_workers=8)
    sock = bind("127.0.0.1", 0)
    platform = Platform(
        settings=engine.settings,
        engine=engine,
        dispatcher=edge_dispatcher(engine.db, executor=executor),
        address=Address("127.0.0.1", sock.getsockname()[1]),
        executor=executor,
    )
    ecs = kind(fake)
    local = LocalAgent(platform, issuer=find_issuer([ecs]))
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    server = Server(platform, [ecs, local], sock, access_log=False)
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(server.serve(stop=stop, handle_signals=False))
    )
    thread.start()
    try:
        fake.wait_for(lambda: fake.registrations, what="the local agent's registration")
        registration = fake.registrations[0]
        assert registration.cluster == "default"
        assert registration.token == "local-secret"
        assert ecs.asked == (["default"] if kind is ControlPlaneComponent else [])
        spec = fake.run_task(
            task_spec("local", [container("app", command=("sleep", "600"), stop_timeout=1)])
        )
        running = fake.wait_status(spec.task_arn, "RUNNING", timeout=60)
        cid = states_of(running)["app"].runtime_id
        assert engine.containers.refresh(engine.container_store.get(cid)).state.running
        fake.stop_task(spec.task_arn)
        fake.wait_status(spec.task_arn, "STOPPED", timeout=60)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
        sock.close()
        executor.shutdown()
    assert not thread.is_alive()


def test_without_a_control_plane_the_local_agent_stays_idle(engine: Engine) -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    platform = Platform(
        settings=engine.settings,
        engine=engine,
        dispatcher=edge_dispatcher(engine.db, executor=executor),
        address=Address("127.0.0.1", 1),
        executor=executor,
    )
    assert LocalAgent(platform, issuer=find_issuer([object()])).background() == ()
    assert len(LocalAgent(platform, token="t").background()) == 1
    executor.shutdown()
