"""The per-host monitor: one process per run root, started on demand, gone when idle.

It does what must happen while no cais command runs: clean up after containers that exit
(unmount, release the runtime, ``--rm``), restart them by their policy (Docker's backoff:
100 ms doubling to a minute, reset after ten seconds up), and run health checks.
Containers keep running whether or not it runs; it only keeps their records current.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cais.errors import CaisError
from cais.settings import DEFAULT_SECCOMP_PROFILE, Settings

if TYPE_CHECKING:
    from cais.runtime.health import ProbeThread
    from cais.runtime.lifecycle import ContainerService
    from cais.runtime.model import Container, ContainerState

IDLE_EXIT = 5.0
RESCAN = 1.0


def _lock_path(settings: Settings) -> Path:
    return settings.runroot / "monitor.lock"


def is_running(settings: Settings) -> bool:
    path = _lock_path(settings)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def ensure_running(settings: Settings) -> None:
    """Start the monitor for this run root unless one runs already."""
    if is_running(settings):
        return
    settings.runroot.mkdir(parents=True, exist_ok=True)
    log = open(settings.runroot / "monitor.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cais.runtime.monitor",
                "--root",
                str(settings.root),
                "--runroot",
                str(settings.runroot),
                "--runtime",
                settings.runtime,
                "--cgroup-parent",
                settings.cgroup_parent,
                "--seccomp-profile",
                str(settings.seccomp_profile),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        log.close()


def stop(settings: Settings, timeout: float = 10.0) -> None:
    """Ask the monitor to end (tests and the demo use this to leave nothing running)."""
    try:
        pid = int((settings.runroot / "monitor.pid").read_text())
    except (OSError, ValueError):
        return
    if not is_running(settings):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_running(settings):
        time.sleep(0.02)


@dataclass
class _Schedule:
    next_probe: dict[str, float] = field(default_factory=dict)
    in_flight: dict[str, ProbeThread] = field(default_factory=dict)

    def busy(self, cid: str) -> bool:
        probe = self.in_flight.get(cid)
        if probe is not None and not probe.is_alive():
            del self.in_flight[cid]
            probe = None
        return probe is not None

    def next_due(self) -> float | None:
        """When the next probe is due, leaving out containers whose probe still runs."""
        due = [t for cid, t in self.next_probe.items() if not self.busy(cid)]
        return min(due) if due else None

    def cancel(self) -> None:
        for probe in self.in_flight.values():
            probe.cancel()
        for probe in self.in_flight.values():
            probe.join(5.0)
        self.in_flight.clear()


def _attached(bundle: Path) -> bool:
    path = bundle / "attached.lock"
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def restart_delay(restart_count: int) -> float:
    return float(min(0.1 * (2**restart_count), 60.0))


def run(settings: Settings) -> int:
    from cais.engine import Engine
    from cais.runtime.inotify import DirectoryWatch
    from cais.runtime.model import EXITED, PAUSED, RESTARTING, RUNNING

    settings.runroot.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(_lock_path(settings), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another monitor runs
    (settings.runroot / "monitor.pid").write_text(str(os.getpid()))
    stopping = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    import signal

    signal.signal(signal.SIGTERM, on_term)
    engine = Engine(settings)
    service = engine.containers
    service.watch_monitor = False
    watch = DirectoryWatch(settings.runroot / "exits")
    schedule = _Schedule()
    idle_since: float | None = None
    while not stopping:
        now = time.time()
        live = service.store.with_status(RUNNING, PAUSED, RESTARTING)
        # --rm containers whose exit a command recorded first (the monitor was busy or dead)
        leftovers = [c for c in service.store.with_status(EXITED) if c.config.auto_remove]
        for container in leftovers:
            if _attached(service.bundle(container.id)):
                continue  # the attached CLI removes it
            try:
                service.remove(container.id, force=True, volumes=True)
            except CaisError as exc:
                print(f"monitor: {container.id[:12]}: {exc}", file=sys.stderr, flush=True)
        for container in live:
            try:
                if container.state.status in (RUNNING, PAUSED):
                    if _attached(service.bundle(container.id)):
                        continue
                    updated = service.refresh(container)
                    if updated.state.status == EXITED and updated.config.auto_remove:
                        service.remove(updated.id, force=True, volumes=True)
                    elif updated.state.status == RUNNING and updated.config.healthcheck:
                        _health(service, updated, schedule, now)
                elif container.state.status == RESTARTING:
                    _maybe_restart(service, container, now)
            except CaisError as exc:
                print(f"monitor: {container.id[:12]}: {exc}", file=sys.stderr, flush=True)
        if live:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since > IDLE_EXIT:
            break
        due = schedule.next_due()
        timeout = RESCAN if due is None else max(0.0, min(RESCAN, due - time.time()))
        watch.wait(timeout)
    schedule.cancel()
    watch.close()
    engine.close()
    with contextlib.suppress(OSError):
        (settings.runroot / "monitor.pid").unlink()
    os.close(lock_fd)
    return 0


def _maybe_restart(service: ContainerService, container: Container, now: float) -> None:
    state = container.state
    ran_for = (state.finished_at or now) - (state.started_at or now)
    count = 0 if ran_for >= 10 else state.restart_count
    if now < (state.finished_at or now) + restart_delay(count):
        return
    with service.lock(container.id, blocking=False) as locked:
        if not locked:
            return
        fresh = service.store.get(container.id)
        if fresh.state.status != "restarting":
            return
        service.store.set_state(container.id, restart_count=fresh.state.restart_count + 1)
        try:
            service._start_locked(service.store.get(container.id))
        except Exception as exc:  # a failed restart is retried with the next backoff
            service.store.set_state(
                container.id, status="restarting", finished_at=time.time(), error=str(exc)
            )


def _health(
    service: ContainerService, container: Container, schedule: _Schedule, now: float
) -> None:
    """Start the container's probe if it is due and none of its probes is in flight; the
    probe's thread records the result."""
    from cais.runtime.health import (
        ProbeThread,
        exec_process,
        next_health,
        probe_args,
        stamp,
        write_process_file,
    )
    from cais.runtime.model import HealthResult

    check = container.config.healthcheck
    assert check is not None
    args = probe_args(check)
    if args is None or schedule.busy(container.id):
        return
    due = schedule.next_probe.setdefault(container.id, container.state.started_at + check.interval)
    if now < due:
        return
    schedule.next_probe[container.id] = now + check.interval
    bundle = service.bundle(container.id)
    process = exec_process(container, args, rootfs=service.rootfs(container.id))
    path = write_process_file(bundle, process)
    argv = service.runtime(container.config.runtime).exec_command(
        container.id, Path(path), tty=False, detach=False
    )
    started = stamp()
    run_started_at = container.state.started_at

    def record(code: int, output: str) -> None:
        result = HealthResult(started, stamp(), code, output)

        def change(state: ContainerState) -> ContainerState:
            if state.status != "running" or state.started_at != run_started_at:
                return state  # it stopped or restarted while the probe ran
            return replace(state, health=next_health(check, state, result))

        try:
            service.store.update_state(container.id, change)
        except CaisError as exc:
            print(f"monitor: {container.id[:12]}: {exc}", file=sys.stderr, flush=True)

    def done(code: int, output: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(path)
        if not probe.cancelled:
            record(code, output)

    probe = ProbeThread(argv, check.timeout, done)
    schedule.in_flight[container.id] = probe
    try:
        probe.start()
    except BaseException:
        del schedule.in_flight[container.id]
        os.unlink(path)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cais-monitor")
    parser.add_argument("--root", required=True)
    parser.add_argument("--runroot", required=True)
    parser.add_argument("--runtime", default="crun")
    parser.add_argument("--cgroup-parent", default="cais")
    parser.add_argument("--seccomp-profile", default=str(DEFAULT_SECCOMP_PROFILE))
    args = parser.parse_args(argv)
    settings = Settings.load(root=args.root, runroot=args.runroot, runtime=args.runtime)
    return run(
        replace(
            settings,
            cgroup_parent=args.cgroup_parent,
            seccomp_profile=Path(args.seccomp_profile),
        )
    )


if __name__ == "__main__":
    sys.exit(main())
