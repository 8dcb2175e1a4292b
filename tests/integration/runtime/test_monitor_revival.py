"""A monitor that dies (kill -9) is started again by the next command that looks."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

from cais.runtime import monitor
from helpers import Cli


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def _kill_monitor(ccli: Cli) -> None:
    settings = ccli.settings
    pid_file = settings.runroot / "monitor.pid"
    assert eventually(lambda: monitor.is_running(settings) and pid_file.exists())
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert eventually(lambda: not monitor.is_running(settings))


def test_ps_revives_a_killed_monitor_for_restarts_and_rm(ccli: Cli) -> None:
    restarting = ccli(
        "run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 1; exit 3"
    ).out.strip()
    removed = ccli("run", "-d", "--rm", "busybox", "sleep", "1").out.strip()
    _kill_monitor(ccli)
    exits = ccli.settings.runroot / "exits"
    # both exit while no monitor runs (conmon still writes their exit files)
    assert eventually(lambda: (exits / restarting).exists() and (exits / removed).exists())
    assert not monitor.is_running(ccli.settings)
    ccli("ps")  # starts it again (it takes the moment Python needs to start)
    assert eventually(lambda: monitor.is_running(ccli.settings))

    def restart_count() -> int:
        return int(json.loads(ccli("inspect", restarting).out)[0]["RestartCount"])

    assert eventually(lambda: restart_count() >= 1)
    assert eventually(lambda: removed not in ccli("ps", "-a", "-q", "--no-trunc").out)
    doc = json.loads(ccli("inspect", restarting).out)[0]
    assert doc["State"]["Status"] in ("running", "restarting")


def test_inspect_revives_a_killed_monitor_for_health(ccli: Cli) -> None:
    cid = ccli(
        "run",
        "-d",
        "--health-cmd",
        "cat /ok",
        "--health-interval",
        "0.3s",
        "busybox",
        "sleep",
        "60",
    ).out.strip()
    _kill_monitor(ccli)
    # the probe can only succeed from now on; written through the host's view of the rootfs
    (ccli.settings.runroot / "containers" / cid / "rootfs" / "ok").write_text("yes\n")

    def health() -> str:
        return str(json.loads(ccli("inspect", cid).out)[0]["State"]["Health"]["Status"])

    assert eventually(lambda: health() == "healthy")
