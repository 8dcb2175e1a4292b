"""The fork server runs commands only for its own user: anyone can reach an abstract socket,
so the server checks the caller's credentials (and the caller checks the server's)."""

from __future__ import annotations

import marshal
import os
import socket

from cais.cli import forkserver, launch
from helpers import Cli

NOBODY = 65534


def _raw_request(address: str) -> int:
    """A request sent past the client's own check, as a hostile client would."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(address)
        body = marshal.dumps(
            (launch.PROTOCOL, launch.origin(), ["version"], dict(os.environb), 0o022)
        )
        cwd = os.open("/", os.O_PATH)
        socket.send_fds(sock, [len(body).to_bytes(4, "little") + body], [0, 1, 2, cwd])
        reply = sock.recv(4)
        return int.from_bytes(reply, "little", signed=True) if reply else -2


def test_another_user_is_refused_and_runs_the_command_itself(ccli: Cli) -> None:
    runroot = str(ccli.settings.runroot)
    assert forkserver.is_running(ccli.settings.runroot)
    address = launch.server_address(runroot)
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
            if launch.run_served(address, ["version"]) is not None:
                os._exit(1)  # the client must not hand its environment to root's server
            os._exit(0 if _raw_request(address) == -1 else 3)  # nor the server serve nobody
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # root's own commands are still served
    assert launch.run_served(address, ["version"]) == 0
