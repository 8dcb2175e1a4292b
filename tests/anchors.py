"""Real third-party tools (podman, skopeo, buildah) run in their own temporary stores."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
"""


@dataclass(frozen=True)
class Podman:
    """podman with its own --root/--runroot, so tests never touch the machine's store."""

    base: Path
    runroot: Path  # podman refuses a run root longer than 50 characters

    @classmethod
    def create(cls, base: Path) -> Podman:
        base.mkdir(parents=True, exist_ok=True)
        (base / "containers.conf").write_text(CONTAINERS_CONF)
        return cls(base, Path(tempfile.mkdtemp(prefix="cais-pm-", dir="/tmp")))

    @property
    def storage(self) -> str:
        return f"containers-storage:[overlay@{self.base / 'root'}+{self.runroot}]"

    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.base / "containers.conf")}

    def args(self, tool: str = "podman") -> list[str]:
        return [
            tool,
            "--root",
            str(self.base / "root"),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "overlay",
        ]

    def __call__(
        self, *args: str, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.args(), *args],
            capture_output=True,
            text=True,
            env=self.env(),
            check=False,
            timeout=300,
            input=input.decode() if input else None,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed: {proc.stderr}")
        return proc

    def reset(self) -> None:
        subprocess.run(
            [*self.args(), "system", "reset", "-f"],
            capture_output=True,
            env=self.env(),
            check=False,
            timeout=300,
        )


def skopeo(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, check=False, env=env, timeout=300
    )
    if proc.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout
