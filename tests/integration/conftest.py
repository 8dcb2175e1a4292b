"""Fixtures for root tests that run containers: a busybox image, and a clean-up that leaves
no container, mount, cgroup or monitor behind."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cais.cli import forkserver
from cais.engine import Engine
from cais.images.bootstrap import bootstrap
from cais.settings import Settings
from helpers import Cli, cleanup_engine


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = Engine(settings)
    yield eng
    cleanup_engine(eng)
    eng.close()


@pytest.fixture
def busybox(engine: Engine) -> str:
    """The busybox image, bootstrapped into this test's root; returns its ID."""
    return str(bootstrap(engine.images, "busybox").id)


@pytest.fixture
def ccli(settings: Settings, busybox: str) -> Iterator[Cli]:
    """The CLI against a root that has busybox; everything it started is removed after.

    Its fork server is up before the test's first command, so every command takes the path a
    user's commands take (the first one after a while runs in its own process)."""
    cli = Cli(settings)
    deadline = time.monotonic() + 30
    while not forkserver.is_running(settings.runroot):  # the second command starts it
        assert time.monotonic() < deadline, "the fork server did not start"
        cli("version")
        time.sleep(0.05)
    yield cli
