"""conmon: the small C monitor that holds each container's stdio, logs and exit code.

conmon double-forks and reparents to PID 1, so the container outlives any cais process.
It runs ``<runtime> create``, reports the container's PID (or the runtime's error) on a
sync pipe, writes ``<exit-dir>/<id>`` when the container exits, and ``<persist-dir>/oom``
after an OOM kill. ``<bundle>/attach`` is a SOCK_SEQPACKET socket that streams output
(first byte 2 = stdout, 3 = stderr) and takes stdin; ``<bundle>/ctl`` takes resize lines.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cais.errors import CaisError
from cais.runtime.oci import OciRuntime

STDOUT, STDERR = 2, 3
DEFAULT_LOG_SIZE_MAX = 64 << 20


class ContainerStartError(CaisError):
    """The runtime could not create the container (bad entrypoint, mounts, limits…)."""

    exit_code = 127


@dataclass(frozen=True)
class Paths:
    """Where conmon puts a container's files."""

    bundle: Path  # config.json, attach socket, ctl fifo, pidfile (run root)
    userdata: Path  # logs, exit and oom files (cais root: survives reboots)
    exit_dir: Path
    socket_dir: Path

    @property
    def pidfile(self) -> Path:
        return self.bundle / "pidfile"

    @property
    def conmon_pidfile(self) -> Path:
        return self.bundle / "conmon.pid"

    @property
    def log(self) -> Path:
        return self.userdata / "ctr.log"

    @property
    def exit_file(self) -> Path:
        return self.exit_dir / self.bundle.name

    @property
    def oom_file(self) -> Path:
        return self.userdata / "oom"


def launch(
    runtime: OciRuntime,
    cid: str,
    paths: Paths,
    *,
    name: str,
    terminal: bool = False,
    stdin: bool = False,
    log_size_max: int = DEFAULT_LOG_SIZE_MAX,
    keep_fds: tuple[int, ...] = (),
) -> int:
    """Start conmon, which creates the container; returns the container's PID.

    ``keep_fds`` are handed to conmon, which keeps them open for as long as it watches the
    container (published host ports); the container itself does not get them."""
    conmon = shutil.which("conmon")
    if conmon is None:
        raise CaisError("conmon is not installed (Debian package conmon)")
    for path in (paths.exit_dir, paths.socket_dir, paths.userdata):
        path.mkdir(parents=True, exist_ok=True)
    for stale in (paths.exit_file, paths.oom_file, paths.userdata / "exit"):
        stale.unlink(missing_ok=True)
    runtime_args = [x for a in runtime.global_args()[1:] for x in ("--runtime-arg", a)]
    args = [
        conmon,
        "--api-version",
        "1",
        "-c",
        cid,
        "-u",
        cid,
        "-n",
        name,
        "-r",
        runtime.path,
        *runtime_args,
        "-b",
        str(paths.bundle),
        "-p",
        str(paths.pidfile),
        "-P",
        str(paths.conmon_pidfile),
        "-l",
        f"k8s-file:{paths.log}",
        "--log-size-max",
        str(log_size_max),
        "--exit-dir",
        str(paths.exit_dir),
        "--persist-dir",
        str(paths.userdata),
        "--socket-dir-path",
        str(paths.socket_dir),
        "--log-level",
        "error",
    ]
    if terminal:
        args.append("-t")
    if stdin:
        args.append("-i")
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            args,
            pass_fds=(write_end, *keep_fds),
            env={**os.environ, "_OCI_SYNCPIPE": str(write_end)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=paths.bundle,
            start_new_session=True,
        )
        os.close(write_end)
        write_end = -1
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise ContainerStartError(f"conmon failed: {err.decode(errors='replace').strip()}")
        message = _read_sync(read_end)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    data = message.get("data", -1)
    pid = int(data) if isinstance(data, int | str) else -1
    if pid <= 0:
        text = str(message.get("message") or "the runtime gave no reason").strip()
        raise ContainerStartError(_runtime_message(text))
    return pid


def _read_sync(fd: int) -> dict[str, object]:
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        if data.endswith(b"\n"):
            break
    if not data.strip():
        raise ContainerStartError("conmon exited without reporting the container's start")
    line = data.decode(errors="replace").strip().splitlines()[0]
    doc = json.loads(line)
    if not isinstance(doc, dict):
        raise ContainerStartError(f"conmon sent an unexpected message: {line}")
    return doc


def _runtime_message(text: str) -> str:
    """The runtime's last words, tidied: crun prefixes its messages with a log header."""
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
            if isinstance(doc, dict) and "msg" in doc:
                return str(doc["msg"])
        except ValueError:
            pass
        return line
    return text


def conmon_pid(paths: Paths) -> int | None:
    try:
        return int(paths.conmon_pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


class Attachment:
    """A connection to conmon's attach socket: output frames in, stdin bytes out."""

    def __init__(self, bundle: Path) -> None:
        self._dir_fd = os.open(bundle, os.O_RDONLY | os.O_DIRECTORY)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.sock.connect(f"/proc/self/fd/{self._dir_fd}/attach")
        except OSError as exc:
            self.close()
            raise CaisError(f"cannot attach: {exc.strerror}") from None

    def frames(self, timeout: float | None = None) -> Iterator[tuple[int, bytes]]:
        """(stream, data) until conmon closes the socket (the container exited)."""
        while True:
            if timeout is not None:
                ready, _, _ = select.select([self.sock], [], [], timeout)
                if not ready:
                    return
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, OSError):
                return
            if not data:
                return
            yield data[0], data[1:]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if self._dir_fd >= 0:
                os.close(self._dir_fd)
                self._dir_fd = -1


def resize(bundle: Path, rows: int, cols: int) -> None:
    """Tell conmon the terminal's new size (the ``ctl`` fifo takes ``1 rows cols``)."""
    try:
        fd = os.open(bundle / "ctl", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, f"1 {rows} {cols}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)
