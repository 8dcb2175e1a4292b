"""Task-to-RUNNING through the node agent vs ``cais run -d`` of the same container.

A fake control plane (``tests/ecs_fake_control_plane.py``, a waiting poll looks for news
every 5 ms) hands a ``cais agent`` one busybox task at a time; the time measured runs from
the moment the task is handed to the control plane to the agent's RUNNING report arriving
there (poll answer, provisioning, image check, create, start, report). The anchor is
``cais run -d busybox sleep 600`` on the same root, timed as a user would (a process start,
then create and start). Medians of RUNS runs; every task is stopped before the next.

Run: ``.venv/bin/python -m bench agent``. Not part of ``make test``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import CAIS, REPO, Measure, report, run, save_results, timed

RUNS = 9
sys.path.insert(0, str(REPO / "tests"))

from cais.agent import protocol as p  # noqa: E402
from ecs_fake_control_plane import FakeControlPlane, task_spec  # noqa: E402


def _wait(cp: FakeControlPlane, arn: str, status: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cp.latest(arn)
        if state is not None and state.last_status == status:
            return
        time.sleep(0.002)
    raise RuntimeError(f"task {arn} did not reach {status}: {cp.latest(arn)}")


def _task_to_running(cp: FakeControlPlane, network_mode: str) -> Measure:
    measure = Measure(f"task to RUNNING ({network_mode})")
    for _ in range(RUNS):
        app = p.ContainerSpec(name="app", image="busybox", command=("sleep", "600"), stop_timeout=1)
        spec = task_spec("bench", [app], network_mode=network_mode)
        started = time.perf_counter()
        cp.run_task(spec)
        _wait(cp, spec.task_arn, "RUNNING")
        measure.samples.append(time.perf_counter() - started)
        cp.stop_task(spec.task_arn)
        _wait(cp, spec.task_arn, "STOPPED")
    return measure


def _in_process(env: dict[str, str], network: str) -> Measure:
    """The engine's own create + start, called from Python (no process start, no agent)."""
    from cais.engine import Engine
    from cais.runtime.configure import RunOptions, configure
    from cais.settings import Settings

    settings = Settings.load(environ=env)
    settings = Settings(settings.root, settings.runroot, cgroup_parent=env["CAIS_CGROUP_PARENT"])
    engine = Engine(settings)
    image = engine.image_store.resolve("busybox")
    made: list[str] = []

    def start() -> None:
        options = RunOptions(command=("sleep", "600"), network=network)
        container = engine.containers.create(configure(image, "busybox", options))
        made.append(container.id)
        engine.containers.start(container.id)

    def remove() -> None:
        while made:
            engine.containers.remove(made.pop(), force=True)

    try:
        return timed(start, runs=RUNS, setup=remove)
    finally:
        remove()
        engine.close()


def main(argv: list[str] | None = None) -> dict[str, object]:
    del argv
    work = Path(tempfile.mkdtemp(prefix="cais-bench-agent-"))
    env = {
        **os.environ,
        "CAIS_ROOT": str(work / "root"),
        "CAIS_RUNROOT": str(work / "run"),
        "CAIS_CGROUP_PARENT": f"cais-bench-{os.getpid()}",
    }
    agent: subprocess.Popen[bytes] | None = None
    cp = FakeControlPlane(poll_interval=0.005)
    try:
        run([CAIS, "image", "bootstrap", "busybox"], env=env)
        cp.start()
        with open(work / "agent.log", "wb") as log:
            agent = subprocess.Popen(
                [CAIS, "agent", "--join", cp.url, "--token", cp.token],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while not cp.registrations:
            if time.monotonic() > deadline or agent.poll() is not None:
                raise RuntimeError((work / "agent.log").read_text())
            time.sleep(0.05)
        _task_to_running(cp, "bridge")  # warm up: the pause image, the awsvpc network
        _task_to_running(cp, "awsvpc")
        bridge = _task_to_running(cp, "bridge")
        awsvpc = _task_to_running(cp, "awsvpc")
        none = _task_to_running(cp, "none")

        def cais_run(network: str) -> None:
            cid = subprocess.run(
                [CAIS, "run", "-d", "--network", network, "busybox", "sleep", "600"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            cleanup.append(cid)

        cleanup: list[str] = []

        def remove() -> None:
            while cleanup:
                run([CAIS, "rm", "-f", cleanup.pop()], env=env)

        anchor_bridge = timed(lambda: cais_run("bridge"), runs=RUNS, setup=remove)
        anchor_none = timed(lambda: cais_run("none"), runs=RUNS, setup=remove)
        remove()
        engine_bridge = _in_process(env, "bridge")
        engine_none = _in_process(env, "none")
        rows = [
            ("busybox task → RUNNING, bridge (agent vs cais run -d)", bridge, anchor_bridge),
            ("busybox task → RUNNING, awsvpc (vs cais run -d bridge)", awsvpc, anchor_bridge),
            ("busybox task → RUNNING, none (agent vs cais run -d)", none, anchor_none),
            ("bridge: agent vs engine create+start in-process", bridge, engine_bridge),
            ("none: agent vs engine create+start in-process", none, engine_none),
        ]
        result = report(
            "Orchestration overhead: a task through the agent vs cais run -d",
            rows,
            note=(
                "agent: control plane handed the task → RUNNING report received (a warm "
                "agent process); anchor: the whole `cais run -d` command (process start "
                "included), or the engine's create+start called in-process (the floor). "
                "awsvpc adds a pause container holding the task's namespace."
            ),
        )
        save_results("agent", result)
        return result
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(15)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(5)
        cp.close()
        subprocess.run([CAIS, "system", "reset", "-f"], env=env, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
