"""One conformance suite, run on every OCI runtime backend (crun and runc)."""

from __future__ import annotations

import time

import pytest

from cais.engine import Engine
from cais.errors import ConflictError
from cais.runtime import logs
from cais.runtime.configure import RunOptions, configure
from cais.runtime.model import Container

RUNTIMES = ["crun", "runc"]


def make(engine: Engine, runtime: str, *command: str, **opts: object) -> Container:
    image = engine.image_store.resolve("busybox")
    options = RunOptions(command=command, runtime=runtime, **opts)  # type: ignore[arg-type]
    return engine.containers.create(configure(image, "busybox", options))


def output(engine: Engine, c: Container) -> str:
    return "".join(
        line.text.decode() + ("" if line.partial else "\n")
        for line in logs.read(engine.containers.log_path(c.id))
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runs_to_completion_with_exit_code_and_logs(
    engine: Engine, busybox: str, runtime: str
) -> None:
    c = make(engine, runtime, "sh", "-c", "echo out; echo err >&2; exit 7")
    engine.containers.start(c.id)
    done = engine.containers.wait(c.id, timeout=30)
    assert done.state.status == "exited"
    assert done.state.exit_code == 7
    assert done.state.finished_at >= done.state.started_at > 0
    lines = logs.read(engine.containers.log_path(c.id))
    assert [(entry.stream, entry.text) for entry in lines] == [
        ("stdout", b"out"),
        ("stderr", b"err"),
    ] or sorted((entry.stream, entry.text) for entry in lines) == [
        ("stderr", b"err"),
        ("stdout", b"out"),
    ]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stop_falls_back_to_sigkill(engine: Engine, busybox: str, runtime: str) -> None:
    # busybox sleep as PID 1 has no SIGTERM handler: stop must end it with SIGKILL
    c = make(engine, runtime, "sleep", "1000", stop_timeout=1)
    engine.containers.start(c.id)
    started = time.monotonic()
    stopped = engine.containers.stop(c.id)
    assert time.monotonic() - started >= 0.9
    assert stopped.state.status == "exited"
    assert stopped.state.exit_code == 137
    assert stopped.state.stopped_by_user


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stop_signal_reaches_a_process_that_handles_it(
    engine: Engine, busybox: str, runtime: str
) -> None:
    c = make(
        engine, runtime, "sh", "-c", "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"
    )
    engine.containers.start(c.id)
    time.sleep(0.3)
    stopped = engine.containers.stop(c.id, timeout=10)
    assert stopped.state.exit_code == 0
    assert "bye" in output(engine, stopped)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pause_exec_kill(engine: Engine, busybox: str, runtime: str) -> None:
    c = make(engine, runtime, "sleep", "1000")
    engine.containers.start(c.id)
    assert engine.containers.pause(c.id).state.status == "paused"
    with pytest.raises(ConflictError, match="already paused"):
        engine.containers.pause(c.id)
    assert engine.containers.unpause(c.id).state.status == "running"
    pids = engine.containers.runtime(runtime).pids(c.id)
    assert len(pids) == 1
    killed = engine.containers.kill(c.id, "SIGKILL")
    assert killed.state.exit_code == 137
    assert not engine.containers.runtime(runtime).knows(c.id)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_restart_and_remove_leave_nothing(engine: Engine, busybox: str, runtime: str) -> None:
    c = make(engine, runtime, "sleep", "1000", stop_timeout=0)
    engine.containers.start(c.id)
    first_pid = engine.containers.store.get(c.id).state.pid
    restarted = engine.containers.restart(c.id, timeout=0)
    assert restarted.state.status == "running"
    assert restarted.state.pid != first_pid
    engine.containers.remove(c.id, force=True)
    assert engine.container_store.all() == []
    assert not engine.containers.bundle(c.id).exists()
    assert not engine.containers.state_dir(c.id).exists()
