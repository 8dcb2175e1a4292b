"""What a pull or push shows while it runs: a bar per layer on a terminal, lines otherwise.

Transfers report to a :class:`TransferProgress` by a layer's short ID (12 hex digits, as
Docker shows them): ``add`` it with a status (adding it again resets its byte count, as a
retry does), ``advance`` it by bytes, change its ``status``. ``note`` prints a line of
its own (``latest: Pulling from team/app``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class TransferProgress(Protocol):
    def note(self, text: str) -> None: ...

    def add(self, key: str, *, total: int | None, status: str) -> None: ...

    def advance(self, key: str, amount: int) -> None: ...

    def status(self, key: str, status: str, *, transferring: bool = False) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """Shows nothing (``-q``, and callers in code that want no output)."""

    def note(self, text: str) -> None:
        return None

    def add(self, key: str, *, total: int | None, status: str) -> None:
        return None

    def advance(self, key: str, amount: int) -> None:
        return None

    def status(self, key: str, status: str, *, transferring: bool = False) -> None:
        return None

    def close(self) -> None:
        return None


class LineProgress:
    """One line per status change (``a3ed95caeb02: Pull complete``): logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def _line(self, text: str) -> None:
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()

    def note(self, text: str) -> None:
        self._line(text)

    def add(self, key: str, *, total: int | None, status: str) -> None:
        self.status(key, status)

    def advance(self, key: str, amount: int) -> None:
        return None

    def status(self, key: str, status: str, *, transferring: bool = False) -> None:
        with self._lock:
            if self._last.get(key) == status:
                return
            self._last[key] = status
            self._stream.write(f"{key}: {status}\n")
            self._stream.flush()

    def close(self) -> None:
        return None


class RichProgress:
    """A live bar per layer (rich), with its status, bytes and speed."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        class _Bar(BarColumn):
            def render(self, task: Any) -> Any:
                if not task.fields.get("transferring"):
                    return ""
                return super().render(task)

        class _Bytes(DownloadColumn):
            def render(self, task: Any) -> Any:
                if not task.fields.get("transferring"):
                    return ""
                return super().render(task)

        class _Speed(TransferSpeedColumn):
            def render(self, task: Any) -> Any:
                if not task.fields.get("transferring"):
                    return ""
                return super().render(task)

        self._progress: Progress = Progress(
            TextColumn("{task.fields[key]}: {task.fields[status]:<18}"),
            _Bar(bar_width=40),
            _Bytes(),
            _Speed(),
            console=Console(file=stream),
            transient=False,
            refresh_per_second=8,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self._progress.start()

    def note(self, text: str) -> None:
        self._progress.console.print(text, highlight=False, markup=False)

    def add(self, key: str, *, total: int | None, status: str) -> None:
        with self._lock:
            if key in self._tasks:  # again: a retry starts counting anew
                self._progress.update(self._tasks[key], total=total, completed=0, status=status)
                return
            self._tasks[key] = self._progress.add_task(
                key, total=total, key=key, status=status, transferring=False
            )

    def advance(self, key: str, amount: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.advance(task, amount)

    def status(self, key: str, status: str, *, transferring: bool = False) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.update(task, status=status, transferring=transferring)

    def close(self) -> None:
        self._progress.stop()


def progress_for(stream: TextIO, *, quiet: bool = False) -> TransferProgress:
    """Bars on a terminal, lines on a pipe or file, nothing with ``quiet``."""
    if quiet:
        return NoProgress()
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return RichProgress(stream)
    return LineProgress(stream)
