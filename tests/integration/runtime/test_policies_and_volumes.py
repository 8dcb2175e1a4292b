"""What happens while nobody runs a command: restarts, health checks; and volumes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers import Cli


def inspect(cli: Cli, name: str) -> dict[str, object]:
    return json.loads(cli("inspect", name).out)[0]  # type: ignore[no-any-return]


def eventually(check: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_on_failure_restarts_up_to_the_limit(ccli: Cli) -> None:
    ccli(
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2; exit 1",
    )
    assert eventually(
        lambda: (
            inspect(ccli, "flaky")["RestartCount"] == 2
            and inspect(ccli, "flaky")["State"]["Status"] == "exited"
        )
    )  # type: ignore[index]
    time.sleep(1.0)
    assert inspect(ccli, "flaky")["RestartCount"] == 2
    assert inspect(ccli, "flaky")["State"]["ExitCode"] == 1  # type: ignore[index]


def test_always_restarts_until_stopped(ccli: Cli) -> None:
    ccli(
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo up; sleep 0.2",
    )
    assert eventually(lambda: int(inspect(ccli, "phoenix")["RestartCount"]) >= 2)  # type: ignore[call-overload]
    assert ccli("logs", "phoenix").out.count("up") >= 2
    ccli("stop", "-t", "0", "phoenix")
    count = inspect(ccli, "phoenix")["RestartCount"]
    time.sleep(1.5)
    assert inspect(ccli, "phoenix")["RestartCount"] == count
    assert inspect(ccli, "phoenix")["State"]["Status"] == "exited"  # type: ignore[index]


def test_no_policy_means_no_restart(ccli: Cli) -> None:
    ccli("run", "-d", "--name", "once", "busybox", "false")
    time.sleep(1.5)
    st = inspect(ccli, "once")
    assert st["RestartCount"] == 0 and st["State"]["Status"] == "exited"  # type: ignore[index]


def test_health_goes_unhealthy_then_healthy(ccli: Cli) -> None:
    ccli(
        "run",
        "-d",
        "--name",
        "probed",
        "--health-cmd",
        "cat /tmp/ready",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "100",
    )
    assert "(health: starting)" in ccli("ps").out
    assert eventually(lambda: "(unhealthy)" in ccli("ps").out)
    health = inspect(ccli, "probed")["State"]["Health"]  # type: ignore[index]
    assert health["Status"] == "unhealthy" and health["FailingStreak"] >= 2
    assert "No such file" in health["Log"][-1]["Output"]
    ccli("exec", "probed", "sh", "-c", "echo yes > /tmp/ready")
    assert eventually(lambda: "(healthy)" in ccli("ps").out)
    health = inspect(ccli, "probed")["State"]["Health"]  # type: ignore[index]
    assert health["FailingStreak"] == 0 and health["Log"][-1]["Output"] == "yes\n"
    assert ccli("ps", "--filter", "health=healthy", "-q").out.strip()


def test_health_check_timeout_counts_as_failure(ccli: Cli) -> None:
    ccli(
        "run",
        "-d",
        "--name",
        "slowprobe",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "300ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "100",
    )
    assert eventually(lambda: "(unhealthy)" in ccli("ps").out)
    log = inspect(ccli, "slowprobe")["State"]["Health"]["Log"]  # type: ignore[index]
    assert "exceeded timeout" in log[-1]["Output"]


def test_named_volumes_outlive_containers(ccli: Cli) -> None:
    assert ccli("volume", "create", "data").out == "data\n"
    ccli("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert ccli("run", "--rm", "-v", "data:/data:ro", "busybox", "cat", "/data/f").out == "kept\n"
    doc = json.loads(ccli("volume", "inspect", "data").out)[0]
    assert doc["Name"] == "data" and doc["Driver"] == "local"
    assert (Path(doc["Mountpoint"]) / "f").read_text() == "kept\n"
    ccli("create", "--name", "holder", "-v", "data:/data", "busybox", "true")
    busy = ccli("volume", "rm", "data", check=False)
    assert busy.code == 1 and "volume is in use" in busy.err
    ccli("rm", "holder")
    assert ccli("volume", "rm", "data").out == "data\n"
    assert ccli("volume", "ls", "-q").out == ""


def test_volume_copy_up_anonymous_volumes_and_prune(ccli: Cli) -> None:
    # an empty new volume gets what the image has at the mount point (Docker's copy-up)
    out = ccli("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd").out
    assert out.startswith("root:x:0:0")
    ccli("run", "--name", "anon", "-v", "/scratch", "busybox", "touch", "/scratch/x")
    assert len(ccli("volume", "ls", "-q").out.split()) == 2
    ccli("rm", "-v", "anon")
    assert ccli("volume", "ls", "-q").out.split() == ["etcvol"]
    pruned = ccli("volume", "prune", "-f", "-a").out
    assert "etcvol" in pruned and "Total reclaimed space" in pruned
    assert ccli("volume", "ls", "-q").out == ""
