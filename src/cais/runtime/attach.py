"""Streaming a container's output to this terminal (``run`` without ``-d``, ``attach``).

Output comes from conmon's attach socket; stdin (``-i``) goes back through it; signals
this process gets are forwarded to the container (``--sig-proxy``), and with ``-t`` the
terminal is put in raw mode and its size follows the local one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cais.runtime import conmon
from cais.runtime.lifecycle import ContainerService
from cais.runtime.model import Container

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_PUNCTUATION = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}

FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def parse_detach_keys(text: str | None) -> bytes:
    """Docker's ``--detach-keys``: ``ctrl-p,ctrl-q`` (the default, None) → ``b"\\x10\\x11"``;
    empty turns detaching off."""
    from cais.errors import InvalidArgumentError

    if text is None:
        text = DEFAULT_DETACH_KEYS
    out = bytearray()
    for key in filter(None, (k.strip() for k in text.split(","))):
        name = key.lower()
        if name.startswith("ctrl-") and len(name) == 6:
            char = name[5]
            if "a" <= char <= "z":
                out.append(ord(char) - ord("a") + 1)
                continue
            if char in _CTRL_PUNCTUATION:
                out.append(_CTRL_PUNCTUATION[char])
                continue
        elif len(key) == 1 and key.isascii():
            out.append(ord(key))
            continue
        raise InvalidArgumentError(f"invalid detach keys ({key}) provided")
    return bytes(out)


class DetachScanner:
    """Finds the detach sequence in what the user types; keeps a partial one for the next
    read and passes through what turns out not to be it."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.pending = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to send to the container, and whether the sequence was typed."""
        if not self.keys:
            return data, False
        buf, out, i = self.pending + data, bytearray(), 0
        self.pending = b""
        while i < len(buf):
            matched = 0
            while (
                matched < len(self.keys)
                and i + matched < len(buf)
                and buf[i + matched] == self.keys[matched]
            ):
                matched += 1
            if matched == len(self.keys):
                return bytes(out), True
            if matched and i + matched == len(buf):
                self.pending = buf[i:]  # maybe the start of the sequence: wait for more
                break
            out.append(buf[i])
            i += 1
        return bytes(out), False


@contextlib.contextmanager
def attached_lock(bundle: Path) -> Iterator[None]:
    """Held while a CLI streams a container: the monitor leaves the exit to the CLI."""
    bundle.mkdir(parents=True, exist_ok=True)
    fd = os.open(bundle / "attached.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _forward_signals(
    service: ContainerService, container: Container, enabled: bool
) -> Iterator[None]:
    if not enabled:
        yield
        return
    runtime = service.runtime(container.config.runtime)

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(Exception):
            runtime.kill(container.id, signal.Signals(signum).name)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def stream(
    attachment: conmon.Attachment,
    *,
    stdout: BinaryIO,
    stderr: BinaryIO,
    stdin: BinaryIO | None,
    bundle: Path,
    terminal: bool,
    detach_keys: bytes = b"",
) -> bool:
    """Copy frames to stdout/stderr (and stdin to the container) until conmon closes; True
    when the user typed the detach keys instead (the container goes on running)."""
    sock = attachment.sock
    scanner = DetachScanner(detach_keys if terminal else b"")
    stdin_fd = stdin.fileno() if stdin is not None else -1
    if terminal and sys.stdout.isatty():
        size = os.get_terminal_size(sys.stdout.fileno())
        conmon.resize(bundle, size.lines, size.columns)

        def on_winch(signum: int, frame: object) -> None:
            s = os.get_terminal_size(sys.stdout.fileno())
            conmon.resize(bundle, s.lines, s.columns)

        signal.signal(signal.SIGWINCH, on_winch)
    while True:
        watched = [sock] + ([stdin_fd] if stdin_fd >= 0 else [])
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if stdin_fd >= 0 and stdin_fd in ready:
            data = os.read(stdin_fd, 65536)
            if data:
                data, detached = scanner.feed(data)
                if data:
                    with contextlib.suppress(OSError):
                        attachment.send(data)
                if detached:
                    return True
            else:
                attachment.close_stdin()
                stdin_fd = -1
        if sock in ready:
            try:
                frame = sock.recv(65536)
            except (ConnectionResetError, OSError):
                return False
            if not frame:
                return False
            out = stderr if frame[0] == conmon.STDERR else stdout
            out.write(frame[1:])
            out.flush()


def run_attached(
    service: ContainerService,
    container: Container,
    *,
    stdin: bool,
    sig_proxy: bool = True,
    detach_keys: bytes = b"",
) -> Container | None:
    """Start ``container`` and stream it until it exits; returns its final record, or None
    when the user detached (it goes on running, looked after by the monitor)."""
    detached = False
    bundle = service.bundle(container.id)
    holder: dict[str, conmon.Attachment] = {}

    def connect(c: Container) -> None:
        holder["a"] = conmon.Attachment(bundle)

    terminal = container.config.tty
    with attached_lock(bundle):
        started = service.start(container.id, before_start=connect)
        attachment = holder.get("a")
        try:
            if attachment is not None:
                with (
                    _forward_signals(service, started, sig_proxy and not terminal),
                    _raw_terminal(terminal and stdin),
                ):
                    detached = stream(
                        attachment,
                        stdout=sys.stdout.buffer,
                        stderr=sys.stderr.buffer,
                        stdin=sys.stdin.buffer if stdin else None,
                        bundle=bundle,
                        terminal=terminal,
                        detach_keys=detach_keys,
                    )
        finally:
            if attachment is not None:
                attachment.close()
        if detached:
            service.ensure_monitor()  # its exit, --rm and restarts are the monitor's now
            return None
        service._wait_exit(started, 5.0)
        final = service.reconcile(started.id) or service.store.get(started.id)
        if final.config.auto_remove and final.state.status == "exited":
            service.remove(final.id, force=True, volumes=True)
    return final


def attach(
    service: ContainerService,
    container: Container,
    *,
    stdin: bool,
    sig_proxy: bool = True,
    detach_keys: bytes = b"",
) -> Container | None:
    """``cais attach``: stream a running container until it exits (None: the user detached)."""
    bundle = service.bundle(container.id)
    attachment = conmon.Attachment(bundle)
    try:
        with (
            _forward_signals(service, container, sig_proxy and not container.config.tty),
            _raw_terminal(container.config.tty and stdin),
        ):
            detached = stream(
                attachment,
                stdout=sys.stdout.buffer,
                stderr=sys.stderr.buffer,
                stdin=sys.stdin.buffer if stdin else None,
                bundle=bundle,
                terminal=container.config.tty,
                detach_keys=detach_keys,
            )
    finally:
        attachment.close()
    if detached:
        return None
    return service.wait(container.id, timeout=5.0)
