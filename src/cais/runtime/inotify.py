"""Waiting for files to appear in a directory: inotify (Linux), polling as a fallback."""

from __future__ import annotations

import ctypes
import os
import select
from pathlib import Path

IN_CLOSE_WRITE = 0x8
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000


class DirectoryWatch:
    """``wait(timeout)`` returns when something was written in ``directory`` (or on timeout)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.fd = -1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if (
                fd >= 0
                and libc.inotify_add_watch(
                    fd, str(directory).encode(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
                )
                >= 0
            ):
                self.fd = fd
            elif fd >= 0:
                os.close(fd)
        except OSError:
            self.fd = -1

    def wait(self, timeout: float) -> bool:
        if self.fd < 0:
            select.select([], [], [], min(timeout, 0.5))
            return True
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if ready:
            try:
                while os.read(self.fd, 65536):
                    pass
            except BlockingIOError:
                pass
            return True
        return False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
