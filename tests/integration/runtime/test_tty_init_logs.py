"""Terminals, --init and log rotation."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from helpers import Cli


def test_tty_gives_the_container_a_terminal(ccli: Cli) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cais.cli.launch",
            "run",
            "-it",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "tty; echo TERM=$TERM; stty size",
        ],
        env=ccli.env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=30)
    os.close(master)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "/dev/pts/" in text
    assert "TERM=xterm" in text


def test_init_reaps_and_forwards_signals(ccli: Cli) -> None:
    ccli("run", "-d", "--name", "inited", "--init", "busybox", "sleep", "1000")
    top = ccli("exec", "inited", "ps", "-o", "pid,comm").out
    assert "1 cais-init 2 sleep" in " ".join(top.split())  # the init (catatonit) is PID 1
    started = time.monotonic()
    ccli("stop", "inited")  # SIGTERM reaches sleep through the init: no 10 s wait
    assert time.monotonic() - started < 5
    ccli("rm", "inited")


def test_logs_are_cut_at_their_size_limit(ccli: Cli) -> None:
    ccli(
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=20k",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done",
    )
    path = ccli("inspect", "chatty", "-f", "{{.LogPath}}").out.strip()
    assert os.path.getsize(path) <= 20 * 1024
    lines = ccli("logs", "chatty").out.splitlines()
    assert lines[-1] == "line-2999"
    assert len(lines) < 3000
    ccli("rm", "chatty")
