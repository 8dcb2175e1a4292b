"""Helpers shared by the benchmarks: medians of repeated runs, ratio tables, servers on
loopback started and stopped by their PID."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
CAIS = str(REPO / ".venv" / "bin" / "cais")
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
"""


@dataclass
class Measure:
    name: str
    samples: list[float] = field(default_factory=list)
    unit: str = "s"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def timed(
    fn: Callable[[], object],
    *,
    runs: int,
    setup: Callable[[], object] | None = None,
    name: str = "",
) -> Measure:
    m = Measure(name)
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        m.samples.append(time.perf_counter() - start)
    return m


def run(cmd: Sequence[str], *, env: dict[str, str] | None = None, quiet: bool = True) -> None:
    subprocess.run(
        list(cmd),
        check=True,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )


def podman_env(base: Path) -> tuple[list[str], dict[str, str]]:
    base.mkdir(parents=True, exist_ok=True)
    conf = base / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    runroot = Path("/tmp") / f"cais-bench-pm-{os.getpid()}"
    runroot.mkdir(exist_ok=True)
    args = [
        "podman",
        "--root",
        str(base / "root"),
        "--runroot",
        str(runroot),
        "--storage-driver",
        "overlay",
    ]
    return args, {**os.environ, "CONTAINERS_CONF": str(conf)}


def report(
    title: str, rows: list[tuple[str, Measure, Measure]], note: str = ""
) -> dict[str, object]:
    """Print ``cais vs anchor`` rows with medians and ratios; return them for the results file."""
    print(f"\n## {title}\n")
    print(f"| {'measure':44} | {'cais':>10} | {'anchor':>10} | {'ratio':>6} |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 12}|{'-' * 8}|")
    out = []
    for label, ours, theirs in rows:
        ratio = ours.median / theirs.median if theirs.median else float("nan")
        print(f"| {label:44} | {fmt(ours)} | {fmt(theirs)} | {ratio:6.2f} |")
        out.append(
            {
                "measure": label,
                "cais": ours.median,
                "anchor": theirs.median,
                "ratio": ratio,
                "unit": ours.unit,
                "runs": len(ours.samples),
            }
        )
    if note:
        print(f"\n{note}")
    return {"title": title, "rows": out}


def fmt(m: Measure) -> str:
    if m.unit == "s":
        return f"{m.median * 1000:8.1f}ms" if m.median < 10 else f"{m.median:9.2f}s"
    return f"{m.median:7.1f}{m.unit:>3}"


def save_results(name: str, data: object) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until something listens on 127.0.0.1:``port`` (or ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def serving(
    cmd: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stop_timeout: float = 10,
) -> Iterator[str]:
    """Run a server until the block ends: its URL once it listens; stopped by its PID."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    )
    try:
        wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
