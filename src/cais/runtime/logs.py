"""Reading conmon's k8s-file logs: ``<RFC3339Nano time> <stream> <P|F> <text>`` per line."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cais.oci.config import parse_rfc3339


@dataclass(frozen=True)
class LogLine:
    time: str
    stream: str  # stdout or stderr
    text: bytes  # without the trailing newline of a full line
    partial: bool

    @property
    def epoch(self) -> float:
        moment = parse_rfc3339(self.time)
        return moment.timestamp() if moment else 0.0


def parse_line(raw: bytes) -> LogLine | None:
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    stamp, stream, tag = parts[0], parts[1], parts[2]
    text = parts[3] if len(parts) == 4 else b""
    return LogLine(
        stamp.decode(errors="replace"), stream.decode(errors="replace"), text, tag == b"P"
    )


def read(
    path: Path, *, tail: int | None = None, since: float | None = None, until: float | None = None
) -> list[LogLine]:
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return []
    with fh:
        lines: deque[LogLine] | list[LogLine] = deque(maxlen=tail) if tail is not None else []
        for raw in fh:
            line = parse_line(raw)
            if line is None or not _in_window(line, since, until):
                continue
            lines.append(line)
    return list(lines) if tail != 0 else []


def _in_window(line: LogLine, since: float | None, until: float | None) -> bool:
    if since is None and until is None:
        return True
    epoch = line.epoch
    return (since is None or epoch >= since) and (until is None or epoch <= until)


def follow(
    path: Path, *, start: int, done: Callable[[], bool], poll: float = 0.05
) -> Iterator[LogLine]:
    """New lines from byte ``start`` on, until ``done()`` (the container stopped) and drained."""
    position = start
    inode = None
    pending = b""
    while True:
        try:
            st = path.stat()
        except FileNotFoundError:
            if done():
                return
            time.sleep(poll)
            continue
        if inode is not None and (st.st_ino != inode or st.st_size < position):
            position, pending = 0, b""  # conmon started a new file at its size limit
        inode = st.st_ino
        finished = done()
        if st.st_size > position:
            with open(path, "rb") as fh:
                fh.seek(position)
                data = fh.read()
            position += len(data)
            pending += data
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = parse_line(raw)
                if line is not None:
                    yield line
            continue
        if finished:
            return
        time.sleep(poll)


def size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def parse_since(value: str, now: float | None = None) -> float:
    """``--since``: RFC 3339, a Unix time, or a relative duration such as ``10m``."""
    from cais.errors import InvalidArgumentError
    from cais.runtime.flags import parse_duration

    now = time.time() if now is None else now
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    moment = parse_rfc3339(text)
    if moment is not None:
        return moment.timestamp()
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return now - parse_duration(text, "--since")
    except InvalidArgumentError:
        raise InvalidArgumentError(f'invalid value for "since": {value}') from None
