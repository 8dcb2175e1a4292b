"""Fixtures: a fake registry (in memory, behind httpx's MockTransport) and clients of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cais.distribution import Credential, Puller, Pusher, StaticCredentials
from cais.engine import Engine
from distribution.fakeregistry import FakeRegistry

HOST = "registry.test"


@pytest.fixture
def fake() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def make_puller(engine: Engine, fake: FakeRegistry) -> Callable[..., Puller]:
    def make(*, user: str | None = None, password: str = "secret", **options: Any) -> Puller:
        creds = StaticCredentials.single(Credential(user, password)) if user else None
        return Puller(engine, credentials=creds, transport=fake.transport(), **options)

    return make


@pytest.fixture
def make_pusher(engine: Engine, fake: FakeRegistry) -> Callable[..., Pusher]:
    def make(*, user: str | None = None, password: str = "secret", **options: Any) -> Pusher:
        creds = StaticCredentials.single(Credential(user, password)) if user else None
        return Pusher(engine, credentials=creds, transport=fake.transport(), **options)

    return make
