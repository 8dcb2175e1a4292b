"""The CLI fork server: cais's modules loaded once, one forked child per command.

A cold ``cais`` spends most of its time importing itself; this process (one per run root,
started in the background by the ``cais`` client the first time it finds none, gone after
``CAIS_FORK_SERVER_IDLE`` seconds without a command, 600 by default) has already paid that.
It holds no state: every command still reads and writes the store itself, and everything
works without it (``CAIS_FORK_SERVER=0``). Containers never depend on it.

Per connection it forks a *handler*, which checks the caller (same user, same cais, modules
unchanged on disk), then forks the *command*: a child in its own session with the caller's
standard streams, working directory, umask, environment and argv, running ``cais.cli.main``.
The handler forwards the signals the caller receives, reports the exit status and, if the
caller disappears (killed with -9), kills the command as the death of the CLI would have.
The server itself only accepts and forks, single-threaded, so forking is safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import marshal
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cais.cli.launch import PROTOCOL, origin, server_address

IDLE_EXIT = 600.0
TICK = 1.0
LOCK_WAIT = 2.0
MAX_REQUEST = 16 << 20
# what the everyday commands import; anything else is imported by the command that needs it
PRELOAD = (
    "cais.cli.main",
    "cais.cli.context",
    "cais.cli.run",
    "cais.cli.container",
    "cais.cli.container_extra",
    "cais.cli.image",
    "cais.cli.inspect",
    "cais.cli.network",
    "cais.cli.volume",
    "cais.cli.system",
    "cais.engine",
    "cais.runtime.lifecycle",
    "cais.runtime.configure",
    "cais.runtime.monitor",
    "cais.runtime.exec",
    "cais.runtime.attach",
    "cais.runtime.logs",
    "cais.runtime.health",
    "cais.network.service",
    "cais.network.cni",
    "argparse",
    "json",
    "sqlite3",
    "subprocess",
    "tempfile",
    "shutil",
    "termios",
    "tty",
)


def _pid_path(runroot: Path) -> Path:
    return runroot / "cli.pid"


def is_running(runroot: Path) -> bool:
    address = server_address(str(runroot))
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def stop(runroot: Path, timeout: float = 10.0) -> None:
    """End the run root's fork server (tests, the demo and ``system reset`` leave none)."""
    try:
        pid = int(_pid_path(runroot).read_text())
    except (OSError, ValueError):
        return
    if not is_running(runroot):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (is_running(runroot) or _alive(pid)):
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    """Still a process (not gone, not a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _module_mtimes(package_dir: str) -> dict[str, int]:
    out = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.startswith(package_dir):
            with contextlib.suppress(OSError):
                out[path] = os.stat(path).st_mtime_ns
    return out


def _unchanged(mtimes: dict[str, int]) -> bool:
    for path, mtime in mtimes.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return True


def serve(runroot: Path) -> int:
    runroot.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(runroot / "cli.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if not _lock(lock_fd, LOCK_WAIT):
        os.close(lock_fd)
        return 0  # another server runs
    address = server_address(str(runroot))
    if address is None:
        return 1
    _preload()
    me = origin()
    mtimes = _module_mtimes(me[1])
    # objects made so far are never collected: the children's GC passes then do not touch
    # (and so copy) every page they share with this process
    gc.collect()
    gc.freeze()
    idle = _idle_seconds(os.environ.get("CAIS_FORK_SERVER_IDLE", ""))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address)
    except OSError:
        return 0  # the name is taken: a server of this run root answers already
    listener.listen(64)
    _pid_path(runroot).write_text(str(os.getpid()))
    # SIGTERM wakes the loop through a pipe (the handler itself does nothing)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    last = time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([listener.fileno(), wake_r], [], [], TICK)
            _reap()
            if wake_r in ready and signal.SIGTERM in os.read(wake_r, 512):
                break
            if listener.fileno() in ready:
                conn, _ = listener.accept()
                last = time.monotonic()
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    for fd in (wake_r, wake_w, lock_fd):
                        os.close(fd)
                    listener.close()
                    _handle(conn, me, mtimes)  # never returns
                conn.close()
                continue
            if time.monotonic() - last > idle or server_address(str(runroot)) != address:
                break  # idle, or the run root was removed or replaced
    finally:
        signal.set_wakeup_fd(-1)
        os.close(wake_r)
        os.close(wake_w)
        listener.close()
        with contextlib.suppress(OSError):
            if _pid_path(runroot).read_text() == str(os.getpid()):
                _pid_path(runroot).unlink()
        os.close(lock_fd)
    return 0


def _idle_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        return IDLE_EXIT
    return seconds if seconds > 0 else IDLE_EXIT


def _lock(fd: int, wait: float) -> bool:
    """Take the run root's server lock, waiting a little for a stale server on its way out."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _send_int(conn: socket.socket, value: int) -> None:
    conn.sendall(value.to_bytes(4, "little", signed=True))


def _recv_request(conn: socket.socket) -> tuple[bytes, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 65536, 8)
    if len(data) < 4:
        raise OSError("short request")
    size = int.from_bytes(data[:4], "little")
    if size > MAX_REQUEST:
        raise OSError("request too large")
    body = data[4:]
    while len(body) < size:
        chunk = conn.recv(min(1 << 20, size - len(body)))
        if not chunk:
            raise OSError("truncated request")
        body += chunk
    return body, fds


def _handle(conn: socket.socket, me: tuple[str, ...], mtimes: dict[str, int]) -> None:
    """The handler: check the caller, fork the command, relay signals and the exit status."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        body, fds = _recv_request(conn)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        peer_uid = int.from_bytes(creds[4:8], "little")
        protocol, their_origin, *request = marshal.loads(body)
        if (
            protocol != PROTOCOL
            or tuple(their_origin) != me
            or peer_uid != os.getuid()
            or len(fds) != 4
        ):
            _send_int(conn, -1)
            os._exit(0)
        if not _unchanged(mtimes):
            _send_int(conn, -1)  # cais changed on disk: this server's modules are stale
            os.kill(os.getppid(), signal.SIGTERM)
            os._exit(0)
        _send_int(conn, 0)
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run_command(fds, Request(*request))  # never returns
        for fd in fds:
            os.close(fd)
        code = _relay(conn, pid)
    except BaseException:
        os._exit(1)
    os._exit(code)


def _relay(conn: socket.socket, pid: int) -> int:
    pidfd = os.pidfd_open(pid)
    pending = b""
    while True:
        ready, _, _ = select.select([conn.fileno(), pidfd], [], [])
        if pidfd in ready:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                _send_int(conn, code if code >= 0 else 128 - code)
            return 0
        data = conn.recv(64)
        if not data:  # the caller is gone: end the command as the CLI's death would
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 0
        pending += data
        while len(pending) >= 4:
            signum = int.from_bytes(pending[:4], "little", signed=True)
            pending = pending[4:]
            if signum == signal.SIGTSTP:
                signum = signal.SIGSTOP  # no terminal of its own: a plain stop, undone by CONT
            if 0 < signum < signal.NSIG:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)


@dataclass(frozen=True)
class Request:
    """What the caller sends besides its fds (``cais.cli.launch.run_served``)."""

    argv: list[str]
    environ: dict[bytes, bytes]
    umask: int
    rlimits: list[tuple[int, int, int]]
    ignored_signals: list[int]


def _run_command(fds: list[int], request: Request) -> None:
    """The command's process: become the caller's CLI, run it, exit with its code."""
    code = 1
    argv = request.argv
    try:
        os.setsid()
        _take_limits_and_signals(request.rlimits, request.ignored_signals)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        os.fchdir(fds[3])
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.umask(request.umask)
        os.environ.clear()
        for key, value in request.environ.items():
            os.environb[key] = value
        sys.argv = ["cais", *argv]
        _reopen_stdio()
        from cais.cli.main import main

        code = main(argv)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        _finish()
        os._exit(code)


def _take_limits_and_signals(rlimits: list[tuple[int, int, int]], ignored: list[int]) -> None:
    """The caller's resource limits (as far as ours allow) and the signals it ignores."""
    import resource

    for which, soft, hard in rlimits:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (soft, hard))
    for signum in ignored:
        signal.signal(signum, signal.SIG_IGN)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _reopen_stdio() -> None:
    """Text streams over the caller's fds, buffered as Python would buffer them."""
    import io

    encoding = sys.stdout.encoding if sys.stdout else "utf-8"
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))  # the caller's ``python -u``

    def stream(fd: int, mode: str, errors: str, line_buffering: bool) -> io.TextIOWrapper:
        buffering = 0 if mode == "w" and unbuffered else -1
        raw = open(fd, mode + "b", buffering=buffering, closefd=False)  # noqa: SIM115
        return io.TextIOWrapper(
            raw,
            encoding,
            errors,
            line_buffering=line_buffering,
            write_through=unbuffered,
        )

    sys.stdin = stream(0, "r", "strict", False)
    sys.stdout = stream(1, "w", "strict", os.isatty(1))
    sys.stderr = stream(2, "w", "backslashreplace", True)


def _finish() -> None:
    """What interpreter exit would do: wait for non-daemon threads, flush the streams."""
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            with contextlib.suppress(RuntimeError):
                thread.join()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cais.cli.forkserver RUNROOT", file=sys.stderr)
        return 2
    return serve(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
