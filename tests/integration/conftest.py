"""Fixtures for root tests that run containers: a busybox image, and a clean-up that leaves
no container, mount, cgroup or monitor behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
    """The CLI against a root that has busybox; everything it started is removed after."""
    yield Cli(settings)
