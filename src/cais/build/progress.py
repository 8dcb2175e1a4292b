"""What a build shows while it runs: each step, its output, CACHED, and how long it took.

``plain`` prints BuildKit's plain format (``#3 [base 2/5] RUN make``, output lines
prefixed with the step number and seconds since it started, ``#3 DONE 1.2s``); ``tty``
is the same with colour and a one-line summary; ``quiet`` prints nothing (``-q``).
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO


class Progress(Protocol):
    """Receives a build's events; the builder does not care how they are shown."""

    def start(self, label: str) -> int:
        """A step starts; returns its number."""
        ...

    def output(self, step: int, data: bytes) -> None: ...

    def cached(self, step: int) -> None: ...

    def done(self, step: int) -> None: ...

    def failed(self, step: int, message: str) -> None: ...

    def note(self, text: str) -> None:
        """A line that belongs to no step (warnings, the final image)."""
        ...


class QuietProgress:
    def __init__(self) -> None:
        self._next = 0

    def start(self, label: str) -> int:
        self._next += 1
        return self._next

    def output(self, step: int, data: bytes) -> None:
        return None

    def cached(self, step: int) -> None:
        return None

    def done(self, step: int) -> None:
        return None

    def failed(self, step: int, message: str) -> None:
        return None

    def note(self, text: str) -> None:
        return None


class PlainProgress:
    """BuildKit's ``--progress=plain`` layout."""

    BOLD = ""
    DIM = ""
    BLUE = ""
    RED = ""
    RESET = ""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._next = 0
        self._started: dict[int, float] = {}
        self._partial: dict[int, bytes] = {}

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def start(self, label: str) -> int:
        self._next += 1
        self._started[self._next] = time.monotonic()
        self._write(f"{self.BOLD}#{self._next} {label}{self.RESET}")
        return self._next

    def _elapsed(self, step: int) -> float:
        return time.monotonic() - self._started.get(step, time.monotonic())

    def output(self, step: int, data: bytes) -> None:
        data = self._partial.pop(step, b"") + data
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[step] = rest
        for line in lines:
            text = line.decode(errors="replace").rstrip("\r")
            self._write(f"{self.DIM}#{step} {self._elapsed(step):.3f} {text}{self.RESET}")

    def _flush(self, step: int) -> None:
        rest = self._partial.pop(step, b"")
        if rest:
            self.output(step, rest + b"\n")

    def cached(self, step: int) -> None:
        self._write(f"{self.BLUE}#{step} CACHED{self.RESET}")

    def done(self, step: int) -> None:
        self._flush(step)
        self._write(f"#{step} DONE {self._elapsed(step):.1f}s")

    def failed(self, step: int, message: str) -> None:
        self._flush(step)
        self._write(f"{self.RED}#{step} ERROR: {message}{self.RESET}")

    def note(self, text: str) -> None:
        self._write(text)


class TtyProgress(PlainProgress):
    """Plain layout with colour, for a terminal."""

    BOLD = "\033[1m"
    DIM = "\033[2m"
    BLUE = "\033[34m"
    RED = "\033[31m"
    RESET = "\033[0m"


def progress_for(mode: str, out: TextIO, *, quiet: bool = False) -> Progress:
    """``auto`` is ``tty`` on a terminal and ``plain`` otherwise."""
    if quiet:
        return QuietProgress()
    if mode == "auto":
        mode = "tty" if out.isatty() else "plain"
    if mode == "tty":
        return TtyProgress(out)
    return PlainProgress(out)
