"""The fork server runs commands only for callers exactly like itself: anyone can reach an
abstract socket, so the server checks the caller's credentials and process context (and the
caller checks the server's user); a caller in another context gets a server of its own."""

from __future__ import annotations

import marshal
import os
import socket
import subprocess
import sys
import time

from cais.cli import forkserver, launch
from helpers import Cli

NOBODY = 65534


def _raw_request(address: str) -> int:
    """A request sent past the client's own check, as a hostile client would."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            launch.unix_path_call(sock.connect, address)
        except PermissionError:
            return -3  # the socket is its owner's alone
        body = marshal.dumps(
            (launch.PROTOCOL, launch.origin(), ["version"], dict(os.environb), 0o022, [], [], [])
        )
        cwd = os.open("/", os.O_PATH)
        try:
            socket.send_fds(sock, [len(body).to_bytes(4, "little") + body], [0, 1, 2, cwd])
            reply = sock.recv(4)
        except OSError:
            return -2
        return int.from_bytes(reply, "little", signed=True) if reply else -2


def test_another_user_is_refused_and_runs_the_command_itself(ccli: Cli) -> None:
    runroot = str(ccli.settings.runroot)
    assert forkserver.is_running(ccli.settings.runroot)
    where = launch.origin()
    address = launch.server_address(runroot, launch.context_key(launch.process_context(), where))
    assert address is not None
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.chdir("/")
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            if launch.run_served(address, ["version"], where) is not None:
                os._exit(1)  # the client must not hand its environment to root's server
            # nor may nobody reach the server at all
            os._exit(0 if _raw_request(address) == -3 else 3)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # root's own commands are still served
    assert launch.run_served(address, ["version"], where) == 0


def test_a_caller_with_fewer_capabilities_is_never_served_by_a_full_server(ccli: Cli) -> None:
    """``setpriv`` drops every capability: the command must fail as it would in-process, and
    the unrestricted caller's server must stay unrestricted (each context its own server)."""
    restricted = [
        "setpriv",
        "--bounding-set=-all",
        "--inh-caps=-all",
        sys.executable,
        "-m",
        "cais.cli.launch",
        "run",
        "--rm",
        "--network",
        "none",
        "--privileged",
        "busybox",
        "true",
    ]
    for _ in range(2):  # the second time its own server (if any) serves it
        out = subprocess.run(
            restricted, env=ccli.env(), capture_output=True, timeout=60, check=False
        )
        assert out.returncode == 125, out.stderr
        time.sleep(0.5)
    # root's commands still run with everything root has
    ccli("run", "--rm", "--network", "none", "busybox", "true")
    caps = ccli(
        "run",
        "--rm",
        "--network",
        "none",
        "--privileged",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ).out
    assert caps.split()[1] != "0000000000000000"


def test_a_caller_in_another_network_namespace_gets_its_own_server(ccli: Cli) -> None:
    runroot = ccli.settings.runroot
    before = {p.name for p in runroot.glob("cli-*.pid")}
    assert len(before) == 1
    # one namespace for several commands (``unshare`` makes a new one each time)
    launch_version = f"{sys.executable} -m cais.cli.launch version"
    loop = f"for i in 1 2 3; do {launch_version}; sleep 0.3; done"
    elsewhere = ["unshare", "--net", "sh", "-c", loop]
    subprocess.run(elsewhere, env=ccli.env(), check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 20
    while len(list(runroot.glob("cli-*.pid"))) < 2:
        assert time.monotonic() < deadline, "no server for the other namespace"
        time.sleep(0.05)
    # this namespace's server is still the one answering here
    assert ccli("version").out.startswith("cais version")
    assert {p.name for p in runroot.glob("cli-*.pid")} >= before
    forkserver.stop(runroot)  # ends both
    assert not forkserver.is_running(runroot)
