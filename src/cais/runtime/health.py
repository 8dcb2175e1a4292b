"""Health checks: run the probe inside the container, then Docker's status rules."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from cais.runtime.model import Container, ContainerState, Health, HealthCheck, HealthResult

MAX_OUTPUT = 4096
KEEP_RESULTS = 5


def probe_args(check: HealthCheck) -> tuple[str, ...] | None:
    kind, *rest = check.test or ("NONE",)
    if kind == "CMD":
        return tuple(rest)
    if kind == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(rest))
    return None


def exec_process(
    container: Container,
    args: tuple[str, ...],
    *,
    rootfs: Path,
    tty: bool = False,
    env: tuple[str, ...] = (),
    user: str = "",
    cwd: str = "",
) -> dict[str, object]:
    """The process.json for running ``args`` in ``container`` (as its main process runs)."""
    from cais.runtime.flags import merge_env
    from cais.runtime.specgen import capabilities, resolve_user, rlimits

    cfg = container.config
    uid, gid, extra = resolve_user(rootfs, user or cfg.user)
    caps = list(capabilities(container))
    process: dict[str, object] = {
        "terminal": tty,
        "user": {"uid": uid, "gid": gid, **({"additionalGids": list(extra)} if extra else {})},
        "args": list(args),
        "env": list(merge_env(cfg.env, list(env))),
        "cwd": cwd or cfg.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": t, "soft": s, "hard": h} for t, s, h in rlimits(cfg.ulimits)],
        "noNewPrivileges": cfg.no_new_privileges,
    }
    return process


class ProbeThread(threading.Thread):
    """One probe in flight, in a thread of its own: a slow probe must not hold up other
    containers' probes, restarts and clean-ups in the monitor's loop."""

    def __init__(
        self, exec_argv: list[str], timeout: float, on_done: Callable[[int, str], None]
    ) -> None:
        super().__init__(daemon=True, name="health-probe")
        self.exec_argv = exec_argv
        self.timeout = timeout
        self.on_done = on_done
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def run(self) -> None:
        code, output = self.probe()
        self.on_done(code, output)

    def probe(self) -> tuple[int, str]:
        with self._lock:
            if self._cancelled:
                return -1, "Health check cancelled"
            proc = self._proc = subprocess.Popen(
                self.exec_argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            proc.communicate()
            return -1, f"Health check exceeded timeout ({self.timeout:g}s)"
        return proc.returncode, out[:MAX_OUTPUT].decode(errors="replace")

    def cancel(self) -> None:
        """Kill the probe (the monitor is ending); ``on_done`` still runs, sees ``cancelled``."""
        with self._lock:
            self._cancelled = True
            if self._proc is not None:
                self._kill(self._proc)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.returncode is None:  # not reaped yet: its process group is still its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def next_health(check: HealthCheck, state: ContainerState, result: HealthResult) -> Health:
    """Docker's rules: a success makes it healthy; ``retries`` failures in a row unhealthy;
    failures during the start period do not count."""
    health = state.health or Health()
    log = (*health.log, result)[-KEEP_RESULTS:]
    if result.exit_code == 0:
        return Health("healthy", 0, log)
    in_start_period = time.time() - state.started_at < check.start_period
    if in_start_period and health.status == "starting":
        return replace(health, log=log)
    streak = health.failing_streak + 1
    status = "unhealthy" if streak >= check.retries else health.status
    return Health(status, streak, log)


def write_process_file(directory: os.PathLike[str], process: dict[str, object]) -> str:
    fd, path = tempfile.mkstemp(dir=directory, prefix="exec-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(process, fh)
    return path


def stamp() -> str:
    return datetime.now(UTC).isoformat()
