"""The ``cais`` executable: hand the command to a fork server, or run it here.

Most of a cold command's time is Python importing cais (~120 ms) before any work. The fork
server (``cais.cli.forkserver``) keeps those modules loaded and forks a process per
command, so this client only starts the interpreter, connects, passes its argv,
environment, umask, signal state, working directory and standard streams, forwards signals
and ends as the command ended (its exit code, or death by the same signal).

A served command must be indistinguishable from one run here, so a server only serves
callers that share its whole process context: user and groups, capabilities,
no_new_privs, seccomp, LSM label, namespaces, root directory, cgroups, resource limits,
nice value and CPU affinity. That context (with the cais and interpreter in use) names the
server: one per run root and context, so a caller never meets a server that would give it
more or less than it has; the server checks the caller's context itself in /proc.

It imports nothing beyond builtins and two small extensions (``_socket``, ``_signal``,
``marshal``, ``resource``, ``zlib``): ``socket`` and ``signal`` alone would cost ~20 ms in
enum and friends. Whenever no server can be used (none yet, refused, a background job on a
terminal, ``CAIS_FORK_SERVER=0``) the command runs in this process exactly as before, and a
server is started for the next command.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys

PROTOCOL = 4
SERVER_SOCKET = "cli-{key}.sock"  # in the run root: only its owner may connect (0600)
WANTED = "cli-{key}.wanted"  # a context's last in-process command: the second starts a server
IDLE_EXIT = 600.0
# commands that serve or stay for long run in their own process as before; ``system``
# (``forkserver stop``, ``reset``) must not leave a new server behind
IN_PROCESS = frozenset({"up", "agent", "registry"})
NO_NEW_SERVER = frozenset({"system"})
# what a terminal sends a whole foreground job; the rest go to the command's process only
FORWARDED_SIGNALS = (1, 2, 3, 10, 12, 15, 18, 28)  # HUP INT QUIT USR1 USR2 TERM CONT WINCH
SIGTSTP = 20  # Ctrl-Z: the command is stopped (SIGSTOP) along with this client
SIGSTOP = 19
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")
STATUS_FIELDS = (
    "Uid",
    "Gid",
    "Groups",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
)
PER_PROCESS_FILES = (
    "cgroup",
    "attr/current",
    "oom_score_adj",
    "personality",
    "loginuid",
    "sessionid",
)
# interpreter settings the server would otherwise take from whoever started it
PYTHON_NEUTRAL = frozenset({"PYTHONIOENCODING", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})
_GLOBAL_WITH_VALUE = ("--root", "--runroot", "--runtime", "--log-level")
_INT = 4


def enabled(environ: dict[str, str]) -> bool:
    """``CAIS_FORK_SERVER=0`` (or no, false, off) runs every command in its own process."""
    return environ.get("CAIS_FORK_SERVER", "1").lower() not in ("0", "no", "false", "off")


def origin() -> tuple[str, str, str]:
    """Which interpreter, which cais and which ``PYTHON*`` settings: a server started with
    others must not run this one's commands."""
    import cais

    settings = sorted(
        (k, v) for k, v in os.environ.items() if k.startswith("PYTHON") and k not in PYTHON_NEUTRAL
    )
    return sys.executable, os.path.dirname(os.path.abspath(cais.__file__)), repr(settings)


def process_context(pid: int | str = "self") -> tuple[str, ...]:
    """What a process gets from the kernel that a command it runs would inherit: a served
    command gets the server's, so the two must be equal (read for any pid of our user)."""
    import resource

    proc = f"/proc/{pid}"
    parts = []
    for ns in NAMESPACES:
        parts.append(_inode(f"{proc}/ns/{ns}"))
    parts.append(_inode(f"{proc}/root"))
    parts.extend(_read(f"{proc}/{name}") for name in PER_PROCESS_FILES)
    status = _read(f"{proc}/status")
    parts.extend(line for line in status.splitlines() if line.split(":")[0] in STATUS_FIELDS)
    stat = _read(f"{proc}/stat").rpartition(")")[2].split()
    parts.append(" ".join(stat[37:39]))  # rt_priority, scheduling policy
    target = 0 if pid == "self" else int(pid)
    for name in sorted(n for n in dir(resource) if n.startswith("RLIMIT_")):
        try:
            parts.append(f"{name}={resource.prlimit(target, getattr(resource, name))}")
        except (OSError, ValueError):
            parts.append(f"{name}=?")
    try:
        parts.append(f"nice={os.getpriority(os.PRIO_PROCESS, target)}")
        parts.append(f"cpus={sorted(os.sched_getaffinity(target))}")
    except OSError:
        parts.append("?")
    return tuple(parts)


def _inode(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_dev}:{st.st_ino}"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return "-"


def context_key(context: tuple[str, ...], where: tuple[str, ...]) -> str:
    import zlib

    return f"{zlib.crc32(repr((where, context)).encode()):08x}"


def server_address(runroot: str, key: str) -> str:
    """The socket of the run root's server for one context."""
    return os.path.join(runroot, SERVER_SOCKET.format(key=key))


def unix_path_call(call: object, path: str) -> None:
    """``sock.connect``/``sock.bind`` of a path of any length: a long one is reached
    through its directory's fd (sun_path holds 107 bytes; test roots are deep)."""
    assert callable(call)
    if len(os.fsencode(path)) < 100:
        call(path)
        return
    dirfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        call(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
    finally:
        os.close(dirfd)


def usable_here(context: tuple[str, ...]) -> bool:
    """No server for a process under seccomp (filters cannot be compared) or whose /proc is
    not its own pid namespace's (the server could not check it)."""
    try:
        own_proc = os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False
    seccomp = [part.split()[1] for part in context if part.startswith("Seccomp:")]
    return own_proc and seccomp == ["0"]


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


def _stream_fds() -> tuple[list[int], list[int]] | None:
    """fds 0 to 2 as they are (``/dev/null`` for a closed one) and the working directory;
    None for a job in the background of its terminal (here it would be stopped on reading
    the terminal, as the shell expects; a served command has no job control)."""
    fds: list[int] = []
    opened: list[int] = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            opened.append(null)
            fds.append(null)
            continue
        fds.append(fd)
        if os.isatty(fd):
            try:
                foreground = os.tcgetpgrp(fd) == os.getpgrp()
            except OSError:
                foreground = False
            if not foreground:
                for extra in opened:
                    os.close(extra)
                return None
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY)
    opened.append(cwd)
    fds.append(cwd)
    return fds, opened


def _signal_state() -> tuple[list[int], list[int]]:
    """The signals this process ignores and the ones it blocks: a command run here has both."""
    import _signal

    ignored = []
    for signum in range(1, _signal.NSIG):
        try:
            if _signal.getsignal(signum) == _signal.SIG_IGN:
                ignored.append(signum)
        except (OSError, ValueError):
            continue
    return ignored, sorted(_signal.pthread_sigmask(_signal.SIG_BLOCK, []))


def _encodings() -> list[tuple[str, str]]:
    out = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        errors = getattr(stream, "errors", None) or "strict"
        out.append((str(encoding), str(errors)))
    return out


def try_server(runroot: str, argv: list[str]) -> int | None:
    """Run the command in this context's fork server; None when it cannot (run it here)."""
    where = origin()
    return run_served(server_address(runroot, context_key(process_context(), where)), argv, where)


def run_served(address: str, argv: list[str], where: tuple[str, ...]) -> int | None:
    """Send the command to the server at ``address``: the status to exit with (negative: die
    by that signal), or None when no server took it (nothing ran)."""
    streams = _stream_fds()  # before the socket: it must not take a closed fd 0 to 2
    if streams is None:
        return None
    fds, opened = streams
    ignored, blocked = _signal_state()
    request = marshal.dumps(
        (
            PROTOCOL,
            where,
            argv,
            dict(os.environb),
            _umask(),
            ignored,
            blocked,
            _encodings(),
        )
    )
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    forwarder = _Forwarder(sock, ignored)
    try:
        unix_path_call(sock.connect, address)
        # only a server of our own user may see our environment
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], "little") != os.getuid():
            raise OSError("the server is another user's")
        forwarder.install()  # signals are only queued until the whole request is sent
        message = len(request).to_bytes(_INT, "little") + request
        fd_bytes = b"".join(fd.to_bytes(_INT, "little", signed=True) for fd in fds)
        sent = sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd_bytes)])
        sock.sendall(message[sent:])
        forwarder.arm()
        if _recv_int(sock) != 0:
            raise OSError("refused")  # another cais, another context, stale: it goes
    except OSError:
        forwarder.undo()  # nothing ran; signals that came meanwhile are ours again
        sock.close()
        return None
    finally:
        for fd in opened:
            os.close(fd)
    # accepted: the command runs there and must never run twice, whatever happens now
    try:
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


class _Forwarder:
    """Signals this client gets go to the command; Ctrl-Z stops it, then us. Until armed
    (the request fully sent) they are only queued, so none lands inside the request."""

    def __init__(self, sock: _socket.socket, ignored: list[int]) -> None:
        self.sock = sock
        self.ignored = ignored
        self.previous: dict[int, object] = {}
        self.seen: list[int] = []
        self.armed = False

    def install(self) -> None:
        import _signal

        for signum in (*FORWARDED_SIGNALS, SIGTSTP):
            if signum not in self.ignored:
                handler = self._suspend if signum == SIGTSTP else self._forward
                self.previous[signum] = _signal.signal(signum, handler)

    def arm(self) -> None:
        self.armed = True
        for signum in self.seen:
            self._write(signum)

    def undo(self) -> None:
        import _signal

        for signum, handler in self.previous.items():
            _signal.signal(signum, handler)  # type: ignore[arg-type]
        for signum in self.seen:
            os.kill(os.getpid(), signum)

    def _write(self, signum: int) -> None:
        try:
            self.sock.send(signum.to_bytes(_INT, "little", signed=True))
        except OSError:
            pass

    def _send(self, signum: int) -> None:
        self.seen.append(signum)
        if self.armed:
            self._write(signum)

    def _forward(self, signum: int, frame: object) -> None:
        self._send(signum)

    def _suspend(self, signum: int, frame: object) -> None:
        self._send(signum)
        if self.armed:
            # SIGSTOP, not SIGTSTP: a process group without a terminal (orphaned) ignores
            # the latter, and the command is stopped with SIGSTOP too; ``fg`` sends CONT
            os.kill(os.getpid(), SIGSTOP)


def exit_as(status: int) -> int:
    """A negative status is a death by signal: die by it too (as a shell or make expects)."""
    if status >= 0:
        return status
    import _signal

    signum = -status
    _signal.signal(signum, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, [signum])
    os.kill(os.getpid(), signum)
    return 128 + signum  # a signal that does not end a process


def start_server(runroot: str, key: str) -> None:
    """Start this context's fork server for the run root, detached, with default signals."""
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        import _signal

        os.setsid()
        if os.fork():
            os._exit(0)
        for signum in range(1, _signal.NSIG):
            try:
                _signal.signal(signum, _signal.SIG_DFL)
            except (OSError, ValueError):
                continue
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        os.chdir("/")
        os.execv(sys.executable, [sys.executable, "-m", "cais.cli.forkserver", runroot, key])
    finally:
        os._exit(127)


def reads_the_terminal(command: str, argv: list[str]) -> bool:
    """A command that may read a terminal on stdin runs here, where the shell's job control
    (Ctrl-Z, ``bg``, SIGTTIN) applies to it; a served command has no terminal of its own."""
    try:
        if not os.isatty(0):
            return False
    except OSError:
        return False
    if command in ("attach", "login", "load", "import", "build", "builder", "ecs"):
        return True
    for token in argv:
        if token in ("-i", "--interactive", "prune", "reset"):
            return True
        if token.startswith("-") and not token.startswith("--") and "i" in token[1:]:
            return True  # -it, -ti, -dit
    return False


def _second_time(runroot: str, key: str) -> bool:
    """Start a server only for a context that ran a command here recently already: a one-off
    (``ip netns exec``, a throwaway cgroup) must not leave a server pinning it for minutes."""
    marker = os.path.join(runroot, WANTED.format(key=key))
    import time

    try:
        recent = time.time() - os.stat(marker).st_mtime < IDLE_EXIT
    except OSError:
        recent = False
    try:
        os.makedirs(runroot, exist_ok=True)
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        os.utime(marker)
    except OSError:
        return False
    return recent


def main() -> int:
    argv = sys.argv[1:]
    environ = dict(os.environ)
    runroot, command = _runroot_and_command(argv, environ)
    if (
        command is not None
        and command not in IN_PROCESS
        and enabled(environ)
        and not reads_the_terminal(command, argv)
        and usable_here(context := process_context())
    ):
        where = origin()
        key = context_key(context, where)
        status = run_served(server_address(runroot, key), argv, where)
        if status is not None:
            return exit_as(status)
        if command not in NO_NEW_SERVER and _second_time(runroot, key):
            start_server(runroot, key)
    from cais.cli.main import main as run_here

    return run_here(argv)


if __name__ == "__main__":
    sys.exit(main())
