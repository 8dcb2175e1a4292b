"""The in-memory storage driver: a dict of path → bytes, for tests and throwaway registries."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cais.registry.storage.driver import FileInfo, PathNotFoundError, Reader, check_path


class _MemoryWriter:
    """Buffers appended bytes; they become readable at ``commit`` or ``close``."""

    def __init__(self, driver: MemoryDriver, path: str, start: bytes) -> None:
        self._driver = driver
        self._path = path
        self._buffer = bytearray(start)
        self._closed = False

    @property
    def size(self) -> int:
        return len(self._buffer)

    def write(self, data: bytes, /) -> int:
        if self._closed:
            raise ValueError("writer is closed")
        self._buffer += data
        return len(data)

    def commit(self) -> None:
        self._driver.put_content(self._path, bytes(self._buffer))

    def cancel(self) -> None:
        self._closed = True
        self._driver._discard(self._path)

    def close(self) -> None:
        if not self._closed:
            self.commit()
            self._closed = True


class MemoryDriver:
    """Keeps every file in a dict guarded by one lock (handlers run in threads)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._files: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def name(self) -> str:
        return "memory"

    def get_content(self, path: str) -> bytes:
        check_path(path)
        with self._lock:
            entry = self._files.get(path)
        if entry is None:
            raise PathNotFoundError(path)
        return entry[0]

    def put_content(self, path: str, data: bytes) -> None:
        check_path(path)
        with self._lock:
            self._files[path] = (bytes(data), self._clock())

    def reader(self, path: str, offset: int = 0) -> Reader:
        stream = io.BytesIO(self.get_content(path))
        stream.seek(offset)
        return stream

    def writer(self, path: str, *, append: bool) -> _MemoryWriter:
        check_path(path)
        start = b""
        if append:
            with self._lock:
                entry = self._files.get(path)
            start = entry[0] if entry else b""
        writer = _MemoryWriter(self, path, start)
        if not append:
            self.put_content(path, b"")
        return writer

    def _discard(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)

    def _children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [p for p in self._files if p.startswith(prefix)]

    def stat(self, path: str) -> FileInfo:
        check_path(path)
        with self._lock:
            entry = self._files.get(path)
            if entry is not None:
                return FileInfo(path, len(entry[0]), entry[1], False)
            below = [self._files[p][1] for p in self._children(path)]
        if not below:
            raise PathNotFoundError(path)
        return FileInfo(path, 0, max(below), True)

    def list(self, path: str) -> list[str]:
        check_path(path)
        prefix = path.rstrip("/") + "/"
        with self._lock:
            children = self._children(path)
        if not children:
            raise PathNotFoundError(path)
        return sorted({prefix + p[len(prefix) :].split("/", 1)[0] for p in children})

    def move(self, source: str, dest: str) -> None:
        check_path(source)
        check_path(dest)
        with self._lock:
            entry = self._files.pop(source, None)
            if entry is None:
                raise PathNotFoundError(source)
            self._files[dest] = entry

    def delete(self, path: str) -> None:
        check_path(path)
        with self._lock:
            doomed = self._children(path)
            if path in self._files:
                doomed.append(path)
            if not doomed:
                raise PathNotFoundError(path)
            for p in doomed:
                del self._files[p]

    def walk(self, path: str) -> Iterator[FileInfo]:
        check_path(path)
        with self._lock:
            if path in self._files:
                data, mtime = self._files[path]
                found = [FileInfo(path, len(data), mtime, False)]
            else:
                found = [
                    FileInfo(p, len(self._files[p][0]), self._files[p][1], False)
                    for p in self._children(path)
                ]
        if not found:
            raise PathNotFoundError(path)
        yield from sorted(found, key=lambda info: info.path)

    def local_path(self, path: str) -> Path | None:
        return None
