"""The container commands as a Docker user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from helpers import Cli


def wait_for(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def state(cli: Cli, name: str) -> dict[str, object]:
    return json.loads(cli("inspect", name).out)[0]["State"]  # type: ignore[no-any-return]


def test_run_streams_output_and_exits_with_the_code(ccli: Cli) -> None:
    result = ccli(
        "run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 3", check=False
    )
    assert result.code == 3
    assert result.out == "to-out\n"
    assert result.err == "to-err\n"
    assert ccli("ps", "-aq").out == ""  # --rm removed it
    piped = ccli("run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z", input=b"hello\n")
    assert piped.out == "HELLO\n"


def test_run_errors_have_dockers_exit_codes(ccli: Cli) -> None:
    missing = ccli("run", "--rm", "busybox", "no-such-binary", check=False)
    assert missing.code == 127
    assert "no-such-binary" in missing.err
    assert ccli("ps", "-aq").out == ""
    image = ccli("run", "--rm", "--pull", "never", "nope:latest", "true", check=False)
    assert image.code == 125
    assert "nope" in image.err


def test_detached_ps_logs_exec_stop_rm(ccli: Cli) -> None:
    cid = ccli(
        "run",
        "-d",
        "--name",
        "ticker",
        "-e",
        "GREETING=hi",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    ps = ccli("ps").out.splitlines()
    assert re.split(r"\s{3,}", ps[0]) == [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert cid[:12] in ps[1] and "Up " in ps[1] and ps[1].endswith("ticker")
    assert wait_for(lambda: "tick 3" in ccli("logs", "ticker").out)
    tail = ccli("logs", "--tail", "2", "ticker").out.splitlines()
    assert len(tail) == 2 and all(x.startswith("tick ") for x in tail)
    stamped = ccli("logs", "-t", "--tail", "1", "ticker").out
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+", stamped)
    assert ccli("exec", "ticker", "sh", "-c", "echo $GREETING; hostname").out == f"hi\n{cid[:12]}\n"
    assert (
        ccli(
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "-u",
            "nobody",
            "ticker",
            "sh",
            "-c",
            "echo $X; pwd; id -un",
        ).out
        == "1\n/tmp\nnobody\n"
    )
    assert ccli("exec", "ticker", "false", check=False).code == 1
    assert ccli("exec", "-d", "ticker", "sh", "-c", "echo detached > /tmp/d").code == 0
    assert wait_for(
        lambda: ccli("exec", "ticker", "cat", "/tmp/d", check=False).out == "detached\n"
    )
    top = ccli("top", "ticker").out
    assert "PID" in top.splitlines()[0] and "sh -c" in top
    stats = ccli("stats", "--no-stream", "ticker").out.splitlines()
    assert "MEM USAGE / LIMIT" in stats[0] and "ticker" in stats[1]
    assert ccli("stop", "-t", "1", "ticker").out == "ticker\n"
    st = state(ccli, "ticker")
    assert st["Status"] == "exited" and st["Running"] is False
    assert "Exited (137)" in ccli("ps", "-a").out
    assert ccli("exec", "ticker", "true", check=False).code != 0
    assert ccli("rm", "ticker").out == "ticker\n"
    assert ccli("ps", "-aq").out == ""


def test_ps_filters_and_formats(ccli: Cli) -> None:
    ccli("run", "--name", "done-ok", "-l", "tier=web", "busybox", "true")
    ccli("run", "--name", "done-bad", "busybox", "false", check=False)
    ccli("create", "--name", "fresh", "busybox", "true")
    names = lambda *f: sorted(ccli("ps", "-a", "--format", "{{.Names}}", *f).out.split())  # noqa: E731
    assert names() == ["done-bad", "done-ok", "fresh"]
    assert names("-f", "status=created") == ["fresh"]
    assert names("-f", "exited=1") == ["done-bad"]
    assert names("-f", "label=tier=web") == ["done-ok"]
    assert names("-f", "name=done") == ["done-bad", "done-ok"]
    rows = [json.loads(x) for x in ccli("ps", "-a", "--format", "json").out.splitlines()]
    assert {r["Names"] for r in rows} == {"done-bad", "done-ok", "fresh"}
    assert ccli("ps", "-a", "-n", "1", "--format", "{{.Names}}").out == "fresh\n"
    assert "Created" in ccli("ps", "-a").out


def test_wait_rename_restart_pause(ccli: Cli) -> None:
    ccli("run", "-d", "--name", "sleeper", "busybox", "sh", "-c", "sleep 0.5; exit 4")
    assert ccli("wait", "sleeper").out == "4\n"
    ccli("rename", "sleeper", "dozer")
    assert state(ccli, "dozer")["ExitCode"] == 4
    ccli("start", "dozer")
    assert ccli("wait", "dozer").out == "4\n"
    ccli("run", "-d", "--name", "held", "busybox", "sleep", "100")
    ccli("pause", "held")
    assert state(ccli, "held")["Paused"] is True
    assert "(Paused)" in ccli("ps").out
    ccli("unpause", "held")
    pid = state(ccli, "held")["Pid"]
    ccli("restart", "-t", "0", "held")
    assert state(ccli, "held")["Running"] is True
    assert state(ccli, "held")["Pid"] != pid
    busy = ccli("rm", "held", check=False)
    assert busy.code == 1 and "stop the container before removing or force remove" in busy.err
    ccli("rm", "-f", "held")


def test_signals_are_forwarded_to_the_container(ccli: Cli) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cais.cli.launch",
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        env=ccli.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert b"got-term" in out
    assert proc.returncode == 42


def test_container_survives_the_death_of_every_cais_process(ccli: Cli) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cais.cli.launch",
            "run",
            "--name",
            "orphan",
            "busybox",
            "sh",
            "-c",
            "echo started; sleep 3; echo finished; exit 5",
        ],
        env=ccli.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"
    proc.kill()  # the CLI dies with -9 …
    proc.wait()
    monitor_pid = ccli.settings.runroot / "monitor.pid"
    if monitor_pid.exists():
        os.kill(int(monitor_pid.read_text()), signal.SIGKILL)  # … and so does the monitor
    time.sleep(0.2)
    assert state(ccli, "orphan")["Running"] is True  # the container does not care
    assert ccli("wait", "orphan").out == "5\n"
    assert ccli("logs", "orphan").out == "started\nfinished\n"
    st = state(ccli, "orphan")
    assert st["ExitCode"] == 5 and st["Status"] == "exited"


def test_cp_both_ways_and_diff_and_commit(ccli: Cli, tmp_path: Path) -> None:
    ccli(
        "run",
        "--name",
        "work",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /srv/app && echo v1 > /srv/app/config && rm /bin/vi && echo x >> /etc/passwd",
    )
    diff = ccli("diff", "work").out.splitlines()
    assert "A /srv" in diff and "A /srv/app/config" in diff
    assert "D /bin/vi" in diff and "C /etc/passwd" in diff and "C /etc" in diff
    ccli("cp", "work:/srv/app/config", str(tmp_path / "config"))
    assert (tmp_path / "config").read_text() == "v1\n"
    ccli("cp", "work:/srv/app", str(tmp_path / "appdir"))
    assert (tmp_path / "appdir" / "config").read_text() == "v1\n"
    (tmp_path / "upload.txt").write_text("from host")
    ccli("cp", str(tmp_path / "upload.txt"), "work:/srv/app/")
    ccli("cp", str(tmp_path / "upload.txt"), "work:/srv/renamed.txt")
    tar_bytes = ccli("cp", "work:/srv/app", "-").raw
    import io

    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert {"app/config", "app/upload.txt"} <= set(tar.getnames())
    image_id = ccli(
        "commit", "-m", "snapshot", "-c", 'CMD ["cat", "/srv/renamed.txt"]', "work", "work-image:v1"
    ).out.strip()
    assert image_id.startswith("sha256:")
    assert ccli("run", "--rm", "work-image:v1").out == "from host"
    history = ccli("history", "work-image:v1").out.splitlines()
    assert "snapshot" in history[1]
    missing = ccli("cp", "work:/nope", str(tmp_path / "x"), check=False)
    assert missing.code == 1 and "Could not find the file /nope" in missing.err
    ccli("rm", "work")
    ccli("rmi", "work-image:v1")


def test_two_containers_of_one_image_never_see_each_others_writes(ccli: Cli) -> None:
    ccli("run", "-d", "--name", "one", "busybox", "sh", "-c", "echo mine > /etc/one; sleep 100")
    ccli("run", "-d", "--name", "two", "busybox", "sleep", "100")
    time.sleep(0.3)
    assert ccli("exec", "one", "cat", "/etc/one").out == "mine\n"
    assert ccli("exec", "two", "cat", "/etc/one", check=False).code != 0
    assert ccli("run", "--rm", "busybox", "ls", "/etc/one", check=False).code != 0
    ccli("rm", "-f", "one", "two")


def test_rmi_refuses_an_image_a_container_uses(ccli: Cli) -> None:
    ccli("create", "--name", "user", "busybox", "true")
    refused = ccli("rmi", "busybox", check=False)
    assert refused.code == 1 and "is using its referenced image" in refused.err
    ccli("rm", "user")
    assert "Untagged: busybox:latest" in ccli("rmi", "busybox").out
