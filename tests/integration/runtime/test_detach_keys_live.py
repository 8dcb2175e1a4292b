"""Ctrl-P Ctrl-Q (or ``--detach-keys``) leaves a container running, as with Docker."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from helpers import Cli


def _read_until(master: int, marker: bytes, timeout: float = 30) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while marker not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    assert marker in out, out
    return out


def _on_terminal(cli: Cli, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cais.cli.launch", *args],
        env=cli.env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    return proc, master


def _running(cli: Cli, name: str) -> bool:
    return bool(json.loads(cli("inspect", name).out)[0]["State"]["Running"])


def test_detaching_from_run_and_from_attach_leaves_the_container_running(ccli: Cli) -> None:
    proc, master = _on_terminal(
        ccli, "run", "-it", "--name", "shell", "busybox", "sh", "-c", "echo ready; cat"
    )
    try:
        _read_until(master, b"ready")
        os.write(master, b"typed\r")
        _read_until(master, b"typed")  # what is typed before the keys reaches the container
        os.write(master, b"\x10\x11")
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(master)
    assert _running(ccli, "shell")
    # attach, then detach with keys of our own; Ctrl-P alone is just a key there
    proc, master = _on_terminal(ccli, "attach", "--detach-keys", "ctrl-x,x", "shell")
    try:
        time.sleep(0.5)
        os.write(master, b"\x10\x18x")
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(master)
    assert _running(ccli, "shell")
    ccli("rm", "-f", "shell")


def test_bad_detach_keys_make_nothing(ccli: Cli) -> None:
    result = ccli("run", "-it", "--detach-keys", "ctrl-1", "--name", "nope", "busybox", check=False)
    assert result.code == 125 and "invalid detach keys (ctrl-1) provided" in result.err
    assert ccli("ps", "-aq").out == ""
