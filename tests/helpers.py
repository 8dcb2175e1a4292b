"""Helpers the tests share (imported as ``from helpers import …``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from cais.settings import Settings


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
            "CAIS_CGROUP_PARENT": self.settings.cgroup_parent,
            "CAIS_SECCOMP_PROFILE": str(self.settings.seccomp_profile),
            "CAIS_FORK_SERVER_IDLE": "30",  # a test's fork server must not outlive it for long
        }

    def __call__(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 120
    ) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "cais.cli.launch", *args],
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


def cleanup_engine(engine: object) -> None:
    """Remove every container of a test's engine and stop its monitor (nothing may leak)."""
    import contextlib

    from cais.cli import forkserver
    from cais.engine import Engine
    from cais.errors import CaisError
    from cais.runtime import monitor

    assert isinstance(engine, Engine)
    for container in engine.container_store.all():
        with contextlib.suppress(CaisError):
            engine.containers.remove(container.id, force=True, volumes=True)
    monitor.stop(engine.settings)
    forkserver.stop(engine.settings.runroot)
    if "networks" in engine.__dict__ or (engine.settings.root / "cais.db").exists():
        for network in engine.networks.store.all():  # bridges and firewall rules are host-wide
            with contextlib.suppress(CaisError):
                engine.networks.remove(network.name)
