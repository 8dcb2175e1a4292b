"""Storage drivers for the registry, chosen by a ``kind:argument`` spec (``fs:/path``)."""

from __future__ import annotations

from pathlib import Path

from cais.errors import InvalidArgumentError
from cais.registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidPathError,
    PathNotFoundError,
    Reader,
    StorageDriver,
    check_path,
    join,
)
from cais.registry.storage.filesystem import FilesystemDriver
from cais.registry.storage.memory import MemoryDriver

__all__ = [
    "FileInfo",
    "FileWriter",
    "FilesystemDriver",
    "InvalidPathError",
    "MemoryDriver",
    "PathNotFoundError",
    "Reader",
    "StorageDriver",
    "check_path",
    "join",
    "open_driver",
]


def open_driver(spec: str) -> StorageDriver:
    """``fs:/path`` (or a bare path) → FilesystemDriver; ``memory`` → MemoryDriver."""
    kind, _, arg = spec.partition(":")
    if kind == "memory" and not arg:
        return MemoryDriver()
    if kind == "fs" and arg:
        return FilesystemDriver(Path(arg))
    if spec.startswith("/"):
        return FilesystemDriver(Path(spec))
    raise InvalidArgumentError(f"unknown storage {spec!r}: expected fs:/path or memory")
