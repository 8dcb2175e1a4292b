"""Fixtures for agent tests: a fake control plane and ``cais agent`` processes against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import AgentProcesses

from cais.settings import Settings
from ecs_fake_control_plane import FakeControlPlane


@pytest.fixture
def control_plane() -> Iterator[FakeControlPlane]:
    with FakeControlPlane() as cp:
        yield cp


@pytest.fixture
def agents(
    settings: Settings, control_plane: FakeControlPlane, busybox: str, tmp_path: Path
) -> Iterator[AgentProcesses]:
    """Start agents with ``agents.start()``; they are stopped before the engine is cleaned."""
    processes = AgentProcesses(settings, control_plane.url, tmp_path / "agent.log")
    yield processes
    processes.stop_all()
