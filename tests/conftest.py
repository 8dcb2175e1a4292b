"""Shared fixtures: every test gets its own cais root and run root under tmp_path."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cais.cli import forkserver
from cais.engine import Engine
from cais.settings import Settings
from helpers import Cli

REPO = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under integration/ and e2e/ need root; unit tests must not."""
    for item in items:
        path = str(item.fspath)
        if "/integration/" in path or "/e2e/" in path:
            item.add_marker(pytest.mark.root)
            if not IS_ROOT:
                item.add_marker(pytest.mark.skip(reason="needs root"))


@pytest.fixture(scope="session", autouse=True)
def _no_fork_server_outlives_the_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Roots a test made itself (not by the ``settings`` fixture) may have a fork server."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"cais.cli.forkserver" in args and args[-2].decode().startswith(base):
                forkserver.stop(Path(args[-2].decode()))


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Temporary roots, and a cgroup parent of the test's own (so leak checks see only it)."""
    parent = f"cais-test-{os.urandom(4).hex()}"
    yield Settings(root=tmp_path / "root", runroot=tmp_path / "run", cgroup_parent=parent)
    forkserver.stop(tmp_path / "run")  # the CLI's fork server for this run root, if one started
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        with contextlib.suppress(OSError):
            (hierarchy / parent).rmdir()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = Engine(settings)
    yield eng
    eng.close()


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings)
