"""The commit lock: writers share it while they publish, garbage collection takes it alone.

Publishing a blob or a manifest (check what it references, then write links) holds the
lock shared; GC holds it exclusively from mark to sweep, so it never deletes a blob that a
manifest being stored has just been checked against. The filesystem flavour is a
``flock`` on a file beside the tree, so ``cais registry gc`` in another process and a
running server exclude each other too.

The repository lock is exclusive: a tag's check (an immutable tag must not move), its write
and the hooks' record of it happen as one step, so two pushes to one tag cannot both pass
the check, and the hooks record tags in the order storage got them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class CommitLock(Protocol):
    def shared(self) -> contextlib.AbstractContextManager[None]: ...

    def exclusive(self) -> contextlib.AbstractContextManager[None]: ...


class ThreadCommitLock:
    """A readers/writer lock for one process (memory storage)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharers = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._sharers += 1
        try:
            yield
        finally:
            with self._cond:
                self._sharers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive and self._sharers == 0)
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class FileCommitLock:
    """``flock`` on ``path``: shared or exclusive, across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)

    def shared(self) -> contextlib.AbstractContextManager[None]:
        return self._locked(fcntl.LOCK_SH)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return self._locked(fcntl.LOCK_EX)


class RepositoryLock(Protocol):
    def hold(self, name: str) -> contextlib.AbstractContextManager[None]: ...


class ThreadRepositoryLock:
    """One re-entrant lock per repository name, for one process (memory storage)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.RLock())
        with lock:
            yield


class FileRepositoryLock:
    """``flock`` on one file per repository under ``directory``: exclusive across threads
    and processes (``cais ecr run-lifecycle`` beside a server), re-entrant in a thread so
    a caller may hold it around a registry call that takes it again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._held = threading.local()

    def _names(self) -> set[str]:
        names: set[str] | None = getattr(self._held, "names", None)
        if names is None:
            names = set()
            self._held.names = names
        return names

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        held = self._names()
        if name in held:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.add(name)
            try:
                yield
            finally:
                held.discard(name)
        finally:
            os.close(fd)
