"""``cais exec``: run a process in a running container with the runtime's own exec."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from cais.errors import CaisError, ConflictError
from cais.runtime.health import exec_process, write_process_file
from cais.runtime.lifecycle import ContainerService

NOT_A_TTY = "the input device is not a TTY"


def exec_in(
    service: ContainerService,
    name: str,
    command: tuple[str, ...],
    *,
    env: tuple[str, ...] = (),
    user: str = "",
    cwd: str = "",
    tty: bool = False,
    stdin: bool = False,
    detach: bool = False,
) -> int:
    """Run ``command``; returns its exit code (0 at once with ``detach``).

    As Docker: ``-it`` needs a terminal on stdin; ``-t`` alone gets a terminal anyway, whose
    output cais relays (the runtime's own relay needs a terminal on stdin)."""
    stdin_tty = sys.stdin.isatty()
    if tty and stdin and not detach and not stdin_tty:
        raise CaisError(NOT_A_TTY)
    container = service.refresh(service.store.resolve(name))
    if container.state.status == "paused":
        raise ConflictError(
            f"Container {container.id} is paused, unpause the container before exec"
        )
    if container.state.status != "running":
        raise ConflictError(f"container {container.id} is not running")
    bundle = service.bundle(container.id)
    relay = tty and not detach and not stdin_tty
    process = exec_process(
        container,
        command,
        rootfs=service.rootfs(container.id),
        tty=tty and (stdin_tty or relay),
        env=env,
        user=user,
        cwd=cwd,
    )
    path = write_process_file(bundle, process)
    runtime = service.runtime(container.config.runtime)
    try:
        argv = runtime.exec_command(
            container.id, Path(path), tty=bool(process["terminal"]), detach=detach
        )
        if detach:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                check=False,
            )
            if proc.returncode != 0:
                raise CaisError(_reason(proc.stderr.decode(errors="replace")))
            return 0
        if relay:
            return _run_with_console(argv)
        proc2 = subprocess.run(
            argv, stdin=None if stdin else subprocess.DEVNULL, check=False, stderr=None
        )
        return proc2.returncode
    finally:
        os.unlink(path)


def _run_with_console(argv: list[str]) -> int:
    """Run the exec with a terminal the runtime hands over on a console socket; copy what
    the terminal shows to stdout until the process has exited."""
    # a short private directory: socket paths are limited to 107 bytes
    with tempfile.TemporaryDirectory(prefix="cais-console-") as tmp:
        path = os.path.join(tmp, "sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            listener.listen(1)
            proc = subprocess.Popen(
                [*argv[:-1], "--console-socket", path, argv[-1]],
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            master = _receive_master(listener, proc)
        if master is None:
            _, err = proc.communicate()
            raise CaisError(_reason(err.decode(errors="replace")))
        try:
            _copy_out(master)
        finally:
            os.close(master)
        _, err = proc.communicate()
        if proc.returncode != 0 and err.strip():
            sys.stderr.write(_reason(err.decode(errors="replace")) + "\n")
        return proc.returncode


def _receive_master(listener: socket.socket, proc: subprocess.Popen[bytes]) -> int | None:
    """The terminal's master fd, or None when the runtime exited without sending one."""
    listener.settimeout(0.1)
    while True:
        try:
            conn, _ = listener.accept()
            break
        except TimeoutError:
            if proc.poll() is not None:
                return None
    with conn:
        conn.settimeout(None)
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    return fds[0] if fds else None


def _copy_out(master: int) -> None:
    out = sys.stdout.buffer
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process holding the terminal has ended
            break
        if not chunk:
            break
        out.write(chunk)
        out.flush()
    with contextlib.suppress(OSError):
        out.flush()


def _reason(text: str) -> str:
    """The runtime's last line of complaint, without its colours and time stamp."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "exec failed"
    return re.sub(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z: ", "", lines[-1])
