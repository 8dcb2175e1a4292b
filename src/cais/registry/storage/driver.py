"""The storage driver protocol: a small, object-store-shaped view of where bytes live.

Paths are ``/``-separated strings that start with ``/`` and have no empty, ``.`` or ``..``
components. A *file* holds bytes; a *directory* exists only while a file is below it (as
in an object store, where directories are just shared prefixes). Every backend — the
filesystem, memory, and later S3 — passes the one conformance suite in
``tests/unit/registry/test_storage_conformance.py``.

Writes are all-or-nothing for readers: :meth:`StorageDriver.put_content` and
:meth:`StorageDriver.move` publish whole files; a :class:`FileWriter` streams into a path
that nothing reads until the registry moves it into place after verifying it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cais.errors import InvalidArgumentError, NotFoundError

_COMPONENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")  # no leading dot: temp files


class PathNotFoundError(NotFoundError):
    """The path names no file (or, for list/walk, no directory)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"storage path not found: {path}")
        self.path = path


class InvalidPathError(InvalidArgumentError):
    """A path that is not absolute, or has empty, ``.`` or ``..`` components."""


@dataclass(frozen=True)
class FileInfo:
    """What stat knows of a path: its size in bytes and when it was last written."""

    path: str
    size: int
    mod_time: float
    is_dir: bool


class Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class FileWriter(Protocol):
    """Streams bytes to one path; ``commit`` makes them durable, ``cancel`` drops them."""

    @property
    def size(self) -> int:
        """Bytes in the file so far, including what an appending writer started from."""
        ...

    def write(self, data: bytes, /) -> int: ...

    def commit(self) -> None:
        """Flush and make durable everything written (the file stays for more appends)."""
        ...

    def cancel(self) -> None:
        """Remove the file and everything written to it."""
        ...

    def close(self) -> None:
        """Release the writer; what was written stays (uncommitted data may be lost)."""
        ...


@runtime_checkable
class StorageDriver(Protocol):
    """Get, put, stream, stat, list, move, delete and walk paths of bytes."""

    @property
    def name(self) -> str: ...

    def get_content(self, path: str) -> bytes: ...

    def put_content(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data``; readers see the old bytes or the new, never part."""
        ...

    def reader(self, path: str, offset: int = 0) -> Reader: ...

    def writer(self, path: str, *, append: bool) -> FileWriter: ...

    def stat(self, path: str) -> FileInfo: ...

    def list(self, path: str) -> list[str]:
        """The full paths of the direct children of directory ``path``, sorted."""
        ...

    def move(self, source: str, dest: str) -> None:
        """Put ``source``'s file at ``dest`` (replacing it) in one step, then drop ``source``."""
        ...

    def delete(self, path: str) -> None:
        """Remove a file, or a directory and everything under it."""
        ...

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file under ``path`` (depth first, sorted), never directories."""
        ...

    def local_path(self, path: str) -> Path | None:
        """A local file holding ``path``'s bytes, for sendfile; None where there is none."""
        ...


def check_path(path: str) -> str:
    """Return ``path`` if it is a valid driver path, else raise InvalidPathError."""
    if not path.startswith("/"):
        raise InvalidPathError(f"storage path must be absolute: {path!r}")
    if path == "/":
        return path
    for part in path[1:].split("/"):
        if part in ("", ".", "..") or not _COMPONENT.match(part):
            raise InvalidPathError(f"invalid storage path {path!r}")
    return path


def join(*parts: str) -> str:
    return "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))
