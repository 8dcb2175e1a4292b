"""A cgroup above several containers with limits they share: an ECS task's cpu and memory.

Each container still gets its own cgroup (``<group>/<id>``, made by the OCI runtime); the
group's limits bound all of them together, as the ECS agent does with a task cgroup. On v1
and hybrid hosts the group is made in the ``memory`` and ``cpu`` hierarchies; on v2 in the
unified one, with the controllers enabled in every ancestor.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cais.errors import CaisError
from cais.runtime.host import CGROUP_ROOT, cgroup_layout

CFS_PERIOD_US = 100_000
CPU_UNITS_PER_CPU = 1024


def quota_us(cpu_units: int) -> int:
    """ECS cpu units (1,024 per vCPU) as a CFS quota per 100 ms period."""
    return max(1000, cpu_units * CFS_PERIOD_US // CPU_UNITS_PER_CPU)


def create_group(
    path: str, *, cpu_units: int | None, memory_bytes: int | None, root: Path = CGROUP_ROOT
) -> None:
    """Make the group cgroup ``path`` (relative to the hierarchy's root) with its limits."""
    rel = path.strip("/")
    try:
        if cgroup_layout(root).version == 2:
            _create_v2(root, rel, cpu_units, memory_bytes)
        else:
            _create_v1(root, rel, cpu_units, memory_bytes)
    except OSError as exc:
        remove_group(path, root=root)
        raise CaisError(f"cannot make the cgroup {path}: {exc.strerror or exc}") from None


def _create_v1(root: Path, rel: str, cpu_units: int | None, memory_bytes: int | None) -> None:
    if memory_bytes:
        memory = root / "memory" / rel
        memory.mkdir(parents=True, exist_ok=True)
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
    if cpu_units:
        cpu = root / "cpu" / rel
        cpu.mkdir(parents=True, exist_ok=True)
        (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(quota_us(cpu_units)))


def _create_v2(root: Path, rel: str, cpu_units: int | None, memory_bytes: int | None) -> None:
    group = root / rel
    group.mkdir(parents=True, exist_ok=True)
    wanted = [c for c, on in (("cpu", cpu_units), ("memory", memory_bytes)) if on]
    # a controller is usable in a cgroup only if every ancestor delegates it
    ancestors = [root, *reversed(list(group.relative_to(root).parents)[:-1])]
    for parent in ancestors:
        directory = parent if parent == root else root / parent
        control = directory / "cgroup.subtree_control"
        enabled = control.read_text().split()
        for controller in wanted:
            if controller not in enabled:
                control.write_text(f"+{controller}")
    if memory_bytes:
        (group / "memory.max").write_text(str(memory_bytes))
    if cpu_units:
        (group / "cpu.max").write_text(f"{quota_us(cpu_units)} {CFS_PERIOD_US}")


def remove_group(path: str, root: Path = CGROUP_ROOT) -> None:
    """Remove the group wherever it exists (the runtime may have made it in every v1
    hierarchy for the containers' own cgroups); its containers must be gone already."""
    rel = path.strip("/")
    if cgroup_layout(root).version == 2:
        bases = [root]
    else:  # every hierarchy: the runtime also makes it in name=systemd and the v2 one
        bases = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    for base in bases:
        directory = base / rel
        if not directory.is_dir():
            continue
        # leftover empty children first (a container's cgroup the runtime did not remove)
        for child in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if child.is_dir():
                with contextlib.suppress(OSError):
                    os.rmdir(child)
        with contextlib.suppress(OSError):
            os.rmdir(directory)
