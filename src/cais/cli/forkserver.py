"""The CLI fork server: cais's modules loaded once, one forked process per command.

A cold ``cais`` spends most of its time importing itself; this process has already paid
that. There is one per run root and caller context (see ``cais.cli.launch``), started in
the background by the ``cais`` client the first time it finds none, gone after
``CAIS_FORK_SERVER_IDLE`` seconds without a command (600 by default) or when its run root
goes. It holds no state: every command still reads and writes the store itself, and
everything works without it (``CAIS_FORK_SERVER=0``). Containers never depend on it.

Per connection it forks a *handler*, which checks the caller (same user, same cais, the
same process context read from /proc, modules unchanged on disk), then forks the
*command*: a process in its own session with the caller's standard streams (and their
encodings), working directory, umask, environment, argv, ignored and blocked signals,
running ``cais.cli.main``. The handler forwards the signals the caller receives, reports
how the command ended and, if the caller disappears (killed with -9), kills the command as
the death of the CLI would have. The server itself only accepts and forks,
single-threaded, so forking is safe.
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

from cais.cli.launch import (
    IDLE_EXIT,
    PROTOCOL,
    context_key,
    origin,
    process_context,
    server_address,
    unix_path_call,
    usable_here,
)

IDLE_UNUSED = 60.0  # a server that has served nothing yet gives up sooner
SO_PEERPIDFD = 77  # Linux 6.5: a pidfd of the process that connected
TICK = 1.0
LOCK_WAIT = 2.0
REQUEST_TIMEOUT = 10.0
MAX_HANDLERS = 64
MAX_REQUEST = 16 << 20
# a terminal sends these to the whole foreground job: the command's process group here
GROUP_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGCONT, signal.SIGWINCH)
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
    "resource",
    "zlib",
    "traceback",
    "io",
)


def _servers(runroot: Path) -> list[tuple[Path, int]]:
    """The pid files of this run root's servers (one per caller context) with their pids."""
    out = []
    for path in runroot.glob("cli-*.pid"):
        with contextlib.suppress(OSError, ValueError):
            out.append((path, int(path.read_text())))
    return out


def _is_server(pid: int, runroot: Path) -> bool:
    """The pid is (still) a fork server of this run root, not a process that reused it."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"cais.cli.forkserver" in args and os.fsencode(runroot) in args and _alive(pid)


def is_running(runroot: Path) -> bool:
    """Some fork server serves this run root (for one caller context or another)."""
    return any(_is_server(pid, runroot) for _, pid in _servers(runroot))


def stop(runroot: Path, timeout: float = 10.0) -> None:
    """End every fork server of the run root (tests, the demo and ``system reset`` do)."""
    pids = [pid for _, pid in _servers(runroot) if _is_server(pid, runroot)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_is_server(pid, runroot) for pid in pids):
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


@dataclass(frozen=True)
class _Identity:
    """Who this server serves: callers whose origin and process context equal these."""

    origin: tuple[str, str, str]
    context: tuple[str, ...]
    mtimes: dict[str, int]


def serve(runroot: Path, key: str) -> int:
    runroot.mkdir(parents=True, exist_ok=True)
    where, context = origin(), process_context()
    if context_key(context, where) != key or not usable_here(context) or not peer_pidfd_works():
        return 1  # it could serve no one: another context than its caller's, or no means
    lock_path = runroot / f"cli-{key}.lock"
    pid_path = runroot / f"cli-{key}.pid"
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if not _lock(lock_fd, LOCK_WAIT, pid_path, runroot):
        os.close(lock_fd)
        return 0  # another server runs
    _preload()
    me = _Identity(where, context, _module_mtimes(where[1]))
    # objects made so far are never collected: the children's GC passes then do not touch
    # (and so copy) every page they share with this process
    gc.collect()
    gc.freeze()
    idle = _idle_seconds(os.environ.get("CAIS_FORK_SERVER_IDLE", ""))
    address = server_address(str(runroot), key)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)  # a socket left by a server that was killed (we hold the lock)
    old_umask = os.umask(0o177)  # the socket is 0600: only its owner may connect
    try:
        unix_path_call(listener.bind, address)
    finally:
        os.umask(old_umask)
    bound = os.stat(address)
    listener.listen(64)
    pid_path.write_text(str(os.getpid()))
    # SIGTERM wakes the loop through a pipe (the handler itself does nothing)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    handlers: set[int] = set()
    served = 0
    last = time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([listener.fileno(), wake_r], [], [], TICK)
            _reap(handlers)
            if wake_r in ready and signal.SIGTERM in os.read(wake_r, 512):
                break
            if listener.fileno() in ready:
                conn, _ = listener.accept()
                last = time.monotonic()
                if not _own_user(conn) or len(handlers) >= MAX_HANDLERS:
                    conn.close()  # another user's (never worth a fork), or too many at once
                    continue
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    for fd in (wake_r, wake_w, lock_fd):
                        os.close(fd)
                    listener.close()
                    _handle(conn, me)  # never returns
                handlers.add(pid)
                served += 1
                conn.close()
                continue
            limit = idle if served else min(idle, IDLE_UNUSED)
            if time.monotonic() - last > limit or not _still_ours(pid_path, address, bound):
                break  # idle, or the run root was removed or replaced
    finally:
        signal.set_wakeup_fd(-1)
        os.close(wake_r)
        os.close(wake_w)
        listener.close()
        if _still_ours(pid_path, address, bound):  # the lock file stays: others may wait on it
            for path in (address, pid_path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
        os.close(lock_fd)
    return 0


def peer_pidfd_works() -> bool:
    """SO_PEERPIDFD (Linux 6.5) pins the caller: without it, a caller that exits could have
    its pid taken by a more privileged process before we read its context in /proc."""
    a, b = socket.socketpair()
    try:
        os.close(a.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD))
        return True
    except OSError:
        return False
    finally:
        a.close()
        b.close()


def _still_ours(pid_path: Path, address: str, bound: os.stat_result) -> bool:
    """Our run root is still there: our pid file in it, and our socket."""
    try:
        st = os.stat(address)
        return pid_path.read_text() == str(os.getpid()) and (st.st_dev, st.st_ino) == (
            bound.st_dev,
            bound.st_ino,
        )
    except OSError:
        return False


def _own_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], "little") == os.getuid()


def _idle_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        return IDLE_EXIT
    return seconds if seconds > 0 else IDLE_EXIT


def _lock(fd: int, wait: float, pid_path: Path, runroot: Path) -> bool:
    """Take the server lock, waiting a little for a stale server on its way out (its pid
    file already gone); if another serves, leave at once."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            with contextlib.suppress(OSError, ValueError):
                if _is_server(int(pid_path.read_text()), runroot):
                    return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _reap(handlers: set[int]) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        handlers.discard(pid)


def _send_int(conn: socket.socket, value: int) -> None:
    conn.sendall(value.to_bytes(4, "little", signed=True))


def _recv_request(conn: socket.socket) -> tuple[bytes, list[int], bytes]:
    """The request, the fds that came with it, and any bytes after it (early signals)."""
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
    return body[:size], fds, body[size:]


@dataclass(frozen=True)
class Request:
    """What the caller sends besides its fds (``cais.cli.launch.run_served``)."""

    argv: list[str]
    environ: dict[bytes, bytes]
    umask: int
    ignored_signals: list[int]
    blocked_signals: list[int]
    encodings: list[tuple[str, str]]


def _handle(conn: socket.socket, me: _Identity) -> None:
    """The handler: check the caller, fork the command, relay signals and how it ended."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        conn.settimeout(REQUEST_TIMEOUT)
        body, fds, early = _recv_request(conn)
        conn.settimeout(None)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        peer_pid = int.from_bytes(creds[0:4], "little")
        # the kernel's own reference to the process that connected: if it has ended, its
        # pid may belong to another process by now, whose /proc we must not take for its
        peer = conn.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
        protocol, their_origin, *fields = marshal.loads(body)
        context = process_context(peer_pid)
        signal.pidfd_send_signal(peer, 0)  # ProcessLookupError: it ended: refused below
        if (
            protocol != PROTOCOL
            or tuple(their_origin) != me.origin
            or len(fds) != 4
            or context != me.context
        ):
            _send_int(conn, -1)
            os._exit(0)
        if not _unchanged(me.mtimes):
            _send_int(conn, -1)  # cais changed on disk: this server's modules are stale
            os.kill(os.getppid(), signal.SIGTERM)
            os._exit(0)
        request = Request(*fields)
        try:
            pid = os.fork()
        except OSError:
            _send_int(conn, -1)  # nothing ran: the caller runs it itself
            os._exit(0)
        if pid == 0:
            conn.close()
            _run_command(fds, request)  # never returns
        for fd in fds:
            os.close(fd)
        try:
            _send_int(conn, 0)
        except OSError:  # the caller went before it knew: its command goes too
            os.kill(pid, signal.SIGKILL)
            os._exit(0)
        code = _relay(conn, pid, early)
    except BaseException:  # a handler must never return into the server loop
        os._exit(1)
    os._exit(code)


def _relay(conn: socket.socket, pid: int, pending: bytes) -> int:
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = -1  # no relaying of signals, but the command's end still reaches the caller
    while True:
        ready: list[int] = []
        if pidfd >= 0 and len(pending) < 4:
            ready, _, _ = select.select([conn.fileno(), pidfd], [], [])
        if pidfd < 0 or pidfd in ready:
            _, status = os.waitpid(pid, 0)
            # a death by signal goes back negative: the client dies by it too
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                _send_int(conn, code)
            return 0
        if len(pending) < 4:
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
            _deliver(pid, signum)


def _deliver(pid: int, signum: int) -> None:
    """A terminal's signals reach the whole job (the command and its children), others the
    command; Ctrl-Z becomes SIGSTOP (the command has no terminal to stop it), undone by CONT."""
    if not 0 < signum < signal.NSIG:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if signum in GROUP_SIGNALS:
            target = signal.SIGSTOP if signum == signal.SIGTSTP else signum
            os.killpg(pid, target)
        else:
            os.kill(pid, signum)


def _run_command(fds: list[int], request: Request) -> None:
    """The command's process: become the caller's CLI, run it, exit as it ends."""
    code = 1
    argv = request.argv
    try:
        os.setsid()
        _take_signals(request.ignored_signals, request.blocked_signals)
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
        _reopen_stdio(request.encodings)
        from cais.cli.main import main

        code = main(argv)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:  # shown as Python would, then exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        _finish()
        os._exit(code)


def _take_signals(ignored: list[int], blocked: list[int]) -> None:
    """Signal dispositions as a fresh Python in the caller's state would have them: defaults,
    Python's own (SIGINT raises KeyboardInterrupt), what the caller ignores, its mask."""
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            wanted = signal.SIG_IGN if signum in ignored else signal.SIG_DFL
            if signum == signal.SIGINT and signum not in ignored:
                signal.signal(signum, signal.default_int_handler)
            else:
                signal.signal(signum, wanted)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _reopen_stdio(encodings: list[tuple[str, str]]) -> None:
    """Text streams over the caller's fds, encoded and buffered as its Python would."""
    import io

    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))  # the caller's ``python -u``

    def stream(fd: int, mode: str, line_buffering: bool) -> io.TextIOWrapper:
        encoding, errors = encodings[fd]
        buffering = 0 if mode == "w" and unbuffered else -1
        raw = open(fd, mode + "b", buffering=buffering, closefd=False)  # noqa: SIM115
        return io.TextIOWrapper(
            raw,
            encoding,
            errors,
            line_buffering=line_buffering,
            write_through=unbuffered,
        )

    sys.stdin = stream(0, "r", False)
    sys.stdout = stream(1, "w", os.isatty(1))
    sys.stderr = stream(2, "w", True)


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
    if len(args) != 2:
        print("usage: python -m cais.cli.forkserver RUNROOT CONTEXT-KEY", file=sys.stderr)
        return 2
    return serve(Path(args[0]), args[1])


if __name__ == "__main__":
    sys.exit(main())
