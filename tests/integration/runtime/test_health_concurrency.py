"""A slow health probe holds up nothing else the monitor does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from helpers import Cli


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def health(cli: Cli, name: str) -> dict[str, object]:
    return json.loads(cli("inspect", name).out)[0]["State"]["Health"]  # type: ignore[no-any-return]


def test_a_slow_probe_does_not_delay_other_probes_or_rm(ccli: Cli) -> None:
    # the slow probe marks that it runs, then waits until the test lets it finish
    slow = ccli(
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "touch /probing; while [ ! -e /release ]; do sleep 0.1; done",
        "--health-interval",
        "0.2s",
        "--health-timeout",
        "300s",
        "busybox",
        "sleep",
        "300",
    ).out.strip()
    rootfs = ccli.settings.runroot / "containers" / slow / "rootfs"
    assert eventually(lambda: (rootfs / "probing").exists())
    ccli(
        "run",
        "-d",
        "--name",
        "fast",
        "--health-cmd",
        "true",
        "--health-interval",
        "0.2s",
        "busybox",
        "sleep",
        "300",
    )
    gone = ccli("run", "-d", "--rm", "busybox", "true").out.strip()
    assert eventually(lambda: health(ccli, "fast")["Status"] == "healthy")
    assert eventually(lambda: gone not in ccli("ps", "-a", "-q", "--no-trunc").out)
    # all that while the slow probe was still running: it has no result yet
    assert health(ccli, "slow") == {"Status": "starting", "FailingStreak": 0, "Log": []}
    (rootfs / "release").touch()
    assert eventually(lambda: health(ccli, "slow")["Status"] == "healthy")
    assert health(ccli, "fast")["Status"] == "healthy"
