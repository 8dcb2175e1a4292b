"""Reading a container's cgroup: usage figures for ``stats`` (v1 and v2)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cais.runtime.host import CGROUP_ROOT, cgroup_layout, memory_total


@dataclass(frozen=True)
class Usage:
    cpu_ns: int
    memory: int
    memory_limit: int
    pids: int
    block_read: int
    block_write: int
    net_rx: int
    net_tx: int
    at: float


def _read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    if text == "max":
        return default
    try:
        return int(text)
    except ValueError:
        return default


def _stat_file(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                out[key] = int(value)
    except OSError:
        pass
    return out


def usage(cgroup: str, pid: int, root: Path = CGROUP_ROOT) -> Usage:
    """Figures for the cgroup ``cgroup`` (as in the spec's cgroupsPath) of a container."""
    layout = cgroup_layout(root)
    rel = cgroup.lstrip("/")
    total_mem = memory_total()
    rx = tx = 0
    try:
        for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                continue
            fields = rest.split()
            rx += int(fields[0])
            tx += int(fields[8])
    except (OSError, ValueError, IndexError):
        pass
    if layout.mode == "v2":
        base = root / rel
        mem_stat = _stat_file(base / "memory.stat")
        memory = max(0, _read_int(base / "memory.current") - mem_stat.get("inactive_file", 0))
        limit = _read_int(base / "memory.max", total_mem) or total_mem
        cpu = _stat_file(base / "cpu.stat").get("usage_usec", 0) * 1000
        pids = _read_int(base / "pids.current")
        read = write = 0
        try:
            for line in (base / "io.stat").read_text().splitlines():
                for item in line.split()[1:]:
                    k, _, v = item.partition("=")
                    read += int(v) if k == "rbytes" else 0
                    write += int(v) if k == "wbytes" else 0
        except (OSError, ValueError):
            pass
    else:
        mem_dir = root / "memory" / rel
        mem_stat = _stat_file(mem_dir / "memory.stat")
        memory = max(
            0, _read_int(mem_dir / "memory.usage_in_bytes") - mem_stat.get("total_inactive_file", 0)
        )
        limit = min(_read_int(mem_dir / "memory.limit_in_bytes", total_mem), total_mem)
        cpu = _read_int(root / "cpuacct" / rel / "cpuacct.usage")
        pids = _read_int(root / "pids" / rel / "pids.current")
        read = write = 0
        try:
            for line in (
                (root / "blkio" / rel / "blkio.throttle.io_service_bytes").read_text().splitlines()
            ):
                parts = line.split()
                if len(parts) == 3 and parts[1] == "Read":
                    read += int(parts[2])
                elif len(parts) == 3 and parts[1] == "Write":
                    write += int(parts[2])
        except (OSError, ValueError):
            pass
    return Usage(cpu, memory, limit, pids, read, write, rx, tx, time.monotonic())


def cpu_percent(before: Usage, after: Usage, cpus: int) -> float:
    elapsed = after.at - before.at
    if elapsed <= 0:
        return 0.0
    return 100.0 * (after.cpu_ns - before.cpu_ns) / (elapsed * 1e9) if cpus else 0.0
