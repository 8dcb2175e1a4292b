"""Facts about the host that running containers depends on (Linux only)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupLayout:
    """How cgroups are mounted: ``v2`` (unified), ``v1`` (legacy) or ``hybrid`` (v1 controllers
    with a v2 hierarchy at ``unified``). ``v2_controllers`` are those left on the v2 mount in
    hybrid mode, which crun refuses until they are mounted as v1 hierarchies."""

    mode: str
    v1_controllers: tuple[str, ...]
    v2_controllers: tuple[str, ...]

    @property
    def version(self) -> int:
        return 2 if self.mode == "v2" else 1


def cgroup_layout(root: Path = CGROUP_ROOT) -> CgroupLayout:
    if (root / "cgroup.controllers").exists():
        return CgroupLayout("v2", (), tuple(_read_words(root / "cgroup.controllers")))
    v1 = (
        tuple(
            sorted(
                p.name
                for p in root.iterdir()
                if p.is_dir()
                and (p / "cgroup.procs").exists()
                and p.name not in ("unified", "systemd")
            )
        )
        if root.exists()
        else ()
    )
    unified = root / "unified" / "cgroup.controllers"
    if unified.exists():
        return CgroupLayout("hybrid", v1, tuple(_read_words(unified)))
    return CgroupLayout("v1", v1, ())


def _read_words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def tool_version(binary: str) -> str | None:
    """First line of ``binary --version``, or None if it is not installed."""
    path = shutil.which(binary)
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, "--version"], check=False, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = (out.stdout or out.stderr).strip().splitlines()
    return line[0] if line else None


def os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "Linux"


def memory_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def cpu_count() -> int:
    return os.cpu_count() or 1
