"""The ``cais`` executable: hand the command to the run root's fork server, or run it here.

Most of a cold command's time is Python importing cais (~120 ms) before any work. The fork
server (``cais.cli.forkserver``) keeps those modules loaded and forks a child per command,
so this client only starts the interpreter, connects, passes its argv, environment, working
directory and standard streams, forwards signals and exits with the command's exit code.

It imports nothing beyond builtins (``_socket``, ``_signal``, ``marshal``): ``socket`` and
``signal`` alone would cost ~20 ms in enum and friends. Whenever the server cannot be used
(none yet, another cais, another user, ``CAIS_FORK_SERVER=0``) the command runs in this
process exactly as before, and a server is started for the next command.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys

PROTOCOL = 2
SERVER_SOCKET = "\0cais-cli-{dev}-{ino}"  # abstract: no stale socket files, any path length
# commands that serve or stay for long: they run in their own process as before
IN_PROCESS = frozenset({"up", "agent", "registry"})
FORWARDED_SIGNALS = (1, 2, 3, 10, 12, 15, 18, 28)  # HUP INT QUIT USR1 USR2 TERM CONT WINCH
SIGTSTP = 20  # Ctrl-Z: the command is stopped (SIGSTOP) along with this client
SIGSTOP = 19
RLIMITS = ("RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_STACK", "RLIMIT_FSIZE")
NAMESPACES = ("mnt", "net", "pid", "user", "uts", "ipc", "cgroup")
_GLOBAL_WITH_VALUE = ("--root", "--runroot", "--runtime", "--log-level")
_INT = 4


def enabled(environ: dict[str, str]) -> bool:
    """``CAIS_FORK_SERVER=0`` (or no, false, off) runs every command in its own process."""
    return environ.get("CAIS_FORK_SERVER", "1").lower() not in ("0", "no", "false", "off")


def server_address(runroot: str) -> str | None:
    """The fork server's abstract socket name for a run root (None when it does not exist)."""
    try:
        st = os.stat(runroot)
    except OSError:
        return None
    return SERVER_SOCKET.format(dev=st.st_dev, ino=st.st_ino)


def origin() -> tuple[str, ...]:
    """Which cais, interpreter, namespaces and root directory: a server that differs in any
    (another install, a command run under ``unshare`` or ``ip netns exec``) must not serve."""
    import cais

    where = [sys.executable, os.path.dirname(os.path.abspath(cais.__file__))]
    for path in [*(f"/proc/self/ns/{ns}" for ns in NAMESPACES), "/"]:
        try:
            st = os.stat(path)
            where.append(f"{st.st_dev}:{st.st_ino}")
        except OSError:
            where.append("")
    return tuple(where)


def _runroot_and_command(argv: list[str], environ: dict[str, str]) -> tuple[str, str | None]:
    runroot = environ.get("CAIS_RUNROOT") or "/run/cais"
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("-") or token == "-":
            return os.path.abspath(runroot), token
        name, eq, value = token.partition("=")
        if name not in _GLOBAL_WITH_VALUE:
            return os.path.abspath(runroot), None  # --help, --version, a bad flag
        if not eq:
            if i + 1 >= len(argv):
                return os.path.abspath(runroot), None
            value = argv[i + 1]
            i += 1
        if name == "--runroot":
            runroot = value
        i += 1
    return os.path.abspath(runroot), None


def _recv_int(sock: _socket.socket) -> int | None:
    data = b""
    while len(data) < _INT:
        chunk = sock.recv(_INT - len(data))
        if not chunk:
            return None
        data += chunk
    return int.from_bytes(data, "little", signed=True)


def _stream_fds() -> tuple[list[int], list[int]]:
    """fds 0 to 2 as they are (``/dev/null`` for a closed one) and the working directory."""
    fds: list[int] = []
    opened: list[int] = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            opened.append(null)
            fds.append(null)
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY)
    opened.append(cwd)
    fds.append(cwd)
    return fds, opened


def try_server(runroot: str, argv: list[str]) -> int | None:
    """Run the command in the fork server; None when it cannot (the caller runs it here)."""
    address = server_address(runroot)
    return None if address is None else run_served(address, argv)


def run_served(address: str, argv: list[str]) -> int | None:
    """Send the command to the server at ``address``; its exit status, or None if refused."""
    import _signal  # builtin; ``signal`` costs ~7 ms (stubs/_signal.pyi)

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(address)
        # only a server of our own user may see our environment
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], "little") != os.getuid():
            return None
        ignored = [
            n for n in (*FORWARDED_SIGNALS, SIGTSTP) if _signal.getsignal(n) == _signal.SIG_IGN
        ]
        request = marshal.dumps(
            (PROTOCOL, origin(), argv, dict(os.environb), _umask(), _rlimits(), ignored)
        )
        fds, opened = _stream_fds()
        header = len(request).to_bytes(_INT, "little")
        fd_bytes = b"".join(fd.to_bytes(_INT, "little", signed=True) for fd in fds)
        try:
            sock.sendmsg([header + request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd_bytes)])
        finally:
            for fd in opened:
                os.close(fd)
        if _recv_int(sock) != 0:
            return None  # refused: stale server, other cais; it goes, we run here
    except OSError:
        sock.close()
        return None
    # accepted: the command runs there and must never run twice, whatever happens now
    try:
        _forward_signals(sock, ignored)
        status = _recv_int(sock)
        return 1 if status is None else status
    except OSError:
        return 1
    finally:
        sock.close()


def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _rlimits() -> list[tuple[int, int, int]]:
    import resource

    out = []
    for name in RLIMITS:
        which = getattr(resource, name)
        soft, hard = resource.getrlimit(which)
        out.append((which, soft, hard))
    return out


def _forward_signals(sock: _socket.socket, ignored: list[int]) -> None:
    """Pass the signals we get on to the command; Ctrl-Z stops it, then us."""
    import _signal

    def send(signum: int) -> None:
        try:
            sock.send(signum.to_bytes(_INT, "little", signed=True))
        except OSError:
            pass

    def forward(signum: int, frame: object) -> None:
        send(signum)

    def suspend(signum: int, frame: object) -> None:
        send(signum)
        # SIGSTOP, not SIGTSTP: a process group without a terminal (orphaned) ignores the
        # latter, and the command is stopped with SIGSTOP too; the shell's ``fg`` sends CONT
        os.kill(os.getpid(), SIGSTOP)

    for signum in FORWARDED_SIGNALS:
        if signum not in ignored:
            _signal.signal(signum, forward)
    if SIGTSTP not in ignored:
        _signal.signal(SIGTSTP, suspend)


def start_server(runroot: str) -> None:
    """Start a fork server for this run root in the background (detached, its own session)."""
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        os.chdir("/")
        os.execv(sys.executable, [sys.executable, "-m", "cais.cli.forkserver", runroot])
    finally:
        os._exit(127)


def main() -> int:
    argv = sys.argv[1:]
    environ = dict(os.environ)
    runroot, command = _runroot_and_command(argv, environ)
    if command is not None and command not in IN_PROCESS and enabled(environ):
        status = try_server(runroot, argv)
        if status is not None:
            return status
        start_server(runroot)
    from cais.cli.main import main as run_here

    return run_here(argv)


if __name__ == "__main__":
    sys.exit(main())
