"""Isolation and limits, for real: what the container can see, and what stops it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers import Cli


def run(cli: Cli, *args: str) -> tuple[int, str]:
    result = cli("run", "--rm", *args, check=False, timeout=120)
    return result.code, result.out + result.err


def test_sees_only_its_own_processes_and_hostname(ccli: Cli) -> None:
    code, out = run(ccli, "-h", "box1", "busybox", "sh", "-c", "hostname; ps -o pid,comm")
    assert code == 0
    lines = out.split()
    assert lines[0] == "box1"
    pids = [int(x) for x in lines[1:] if x.isdigit()]
    assert pids and max(pids) < 10  # a fresh PID namespace, not the host's
    assert "1" in lines


def test_cannot_reach_host_files_outside_its_mounts(ccli: Cli, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("do not read")
    code, out = run(ccli, "busybox", "sh", "-c", f"cat {secret}; ls /root; cat /etc/hostname")
    assert "do not read" not in out
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("visible")
    code, out = run(
        ccli,
        "-v",
        f"{shared}:/data",
        "busybox",
        "sh",
        "-c",
        "cat /data/in.txt; echo written > /data/out.txt",
    )
    assert code == 0 and "visible" in out
    assert (shared / "out.txt").read_text() == "written\n"
    code, out = run(ccli, "-v", f"{shared}:/data:ro", "busybox", "touch", "/data/x")
    assert code != 0 and "Read-only file system" in out


def test_memory_limit_ends_in_oom_kill(ccli: Cli) -> None:
    result = ccli(
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
        check=False,
    )
    assert result.code == 137
    assert "survived" not in result.out
    state = json.loads(ccli("inspect", "hog").out)[0]["State"]
    assert state["OOMKilled"] is True
    assert state["ExitCode"] == 137
    assert "Exited (137)" in ccli("ps", "-a").out


def test_pids_limit_stops_a_fork_bomb(ccli: Cli) -> None:
    _, out = run(
        ccli,
        "--pids-limit",
        "32",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 200); do sleep 30 & done; echo spawned",
    )
    assert "can't fork" in out or "Resource temporarily unavailable" in out
    assert os.system("true") == 0  # the host is fine


def test_read_only_root_refuses_writes(ccli: Cli) -> None:
    code, out = run(ccli, "--read-only", "busybox", "touch", "/etc/x")
    assert code != 0 and "Read-only file system" in out
    code, _ = run(ccli, "--read-only", "--tmpfs", "/scratch", "busybox", "touch", "/scratch/x")
    assert code == 0


def test_dropped_capability_makes_mount_fail(ccli: Cli) -> None:
    code, out = run(ccli, "busybox", "mount", "-t", "tmpfs", "none", "/tmp")
    assert code != 0
    assert "permission denied" in out.lower() or "not permitted" in out
    code, _ = run(
        ccli,
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "mount",
        "-t",
        "tmpfs",
        "none",
        "/tmp",
    )
    assert code == 0
    code, out = run(ccli, "--cap-drop", "CHOWN", "busybox", "chown", "1", "/tmp")
    assert code != 0 and "Operation not permitted" in out


def test_seccomp_blocks_a_syscall_with_eperm(ccli: Cli) -> None:
    # swapoff is refused by the default profile whatever the capabilities …
    code, out = run(ccli, "--cap-add", "SYS_ADMIN", "busybox", "swapoff", "/nonexistent")
    assert code != 0 and "Operation not permitted" in out
    # … and without the profile the kernel gets to say the file is missing
    code, out = run(
        ccli,
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "swapoff",
        "/nonexistent",
    )
    assert "No such file or directory" in out
    code, out = run(ccli, "busybox", "grep", "Seccomp:", "/proc/1/status")
    assert "Seccomp:\t2" in out


def test_security_defaults_and_privileged(ccli: Cli) -> None:
    _code, out = run(
        ccli,
        "busybox",
        "sh",
        "-c",
        "grep -E '^CapEff|NoNewPrivs' /proc/1/status; cat /proc/kcore 2>&1 | "
        "head -c 1 | wc -c; touch /sys/x 2>&1; ls /dev",
    )
    caps = int(out.split("CapEff:")[1].split()[0], 16)
    assert caps == 0xA80425FB  # Docker's default capability set
    assert "NoNewPrivs:\t0" in out
    assert "Read-only file system" in out
    assert "null" in out and "sda" not in out and "kmsg" not in out
    _, out = run(
        ccli,
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/1/status",
    )
    assert "NoNewPrivs:\t1" in out
    _, out = run(
        ccli,
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/1/status; mount -t tmpfs none /tmp && echo mounted",
    )
    assert "Seccomp:\t0" in out and "mounted" in out


def test_cpu_limits_reach_the_cgroup(ccli: Cli) -> None:
    name = "cpulimited"
    cid = ccli(
        "run",
        "-d",
        "--name",
        name,
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "busybox",
        "sleep",
        "100",
    ).out.strip()
    base = Path("/sys/fs/cgroup")
    parent = ccli.settings.cgroup_parent
    if (base / "cgroup.controllers").exists():
        assert (base / parent / cid / "cpu.max").read_text().split()[0] == "50000"
    else:
        assert (base / "cpu" / parent / cid / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (base / "cpu" / parent / cid / "cpu.shares").read_text().strip() == "512"
    ccli("rm", "-f", name)
    assert not (base / "cpu" / parent / cid).exists()
