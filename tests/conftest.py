"""Shared fixtures: every test gets its own cais root and run root under tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cais.engine import Engine
from cais.settings import Settings

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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path / "root", runroot=tmp_path / "run")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = Engine(settings)
    yield eng
    eng.close()


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str
    raw: bytes = b""


@dataclass(frozen=True)
class Cli:
    """Runs the real ``cais`` entry point in a subprocess against the test's roots."""

    settings: Settings

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CAIS_ROOT": str(self.settings.root),
            "CAIS_RUNROOT": str(self.settings.runroot),
        }

    def __call__(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 120
    ) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "cais.cli.main", *args],
            input=input,
            capture_output=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        result = Result(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
            proc.stdout,
        )
        if check and result.code != 0:
            raise AssertionError(f"cais {' '.join(args)} exited {result.code}: {result.err}")
        return result


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings)
