"""The filesystem storage driver: one directory tree, atomic publishes, fsync'd commits.

``put_content`` writes a temporary sibling (``.name.<random>.tmp``), fsyncs it and renames
it over the target; ``move`` is a rename plus an fsync of the target directory. Temporary
siblings start with a dot, which no valid driver path component can name, so they are
never listed, walked or served.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cais.fsutil import atomic_write, fsync_dir
from cais.registry.storage.driver import FileInfo, PathNotFoundError, Reader, check_path


class _FileWriter:
    def __init__(self, full: Path, *, append: bool) -> None:
        full.parent.mkdir(parents=True, exist_ok=True)
        self._path = full
        self._file: BinaryIO | None = open(full, "ab" if append else "wb")  # noqa: SIM115
        self._size = self._file.seek(0, os.SEEK_END)

    @property
    def size(self) -> int:
        return self._size

    def _open(self) -> BinaryIO:
        if self._file is None:
            raise ValueError("writer is closed")
        return self._file

    def write(self, data: bytes, /) -> int:
        written = self._open().write(data)
        self._size += written
        return written

    def commit(self) -> None:
        file = self._open()
        file.flush()
        os.fsync(file.fileno())

    def cancel(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class FilesystemDriver:
    """Stores each path as a file under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    @property
    def name(self) -> str:
        return f"fs:{self.root}"

    def _full(self, path: str) -> Path:
        check_path(path)
        return self.root / path.lstrip("/")

    def get_content(self, path: str) -> bytes:
        try:
            return self._full(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise PathNotFoundError(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        atomic_write(self._full(path), data)

    def reader(self, path: str, offset: int = 0) -> Reader:
        full = self._full(path)
        try:
            file = open(full, "rb")  # noqa: SIM115
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise PathNotFoundError(path) from None
        if offset:
            file.seek(offset)
        return file

    def writer(self, path: str, *, append: bool) -> _FileWriter:
        return _FileWriter(self._full(path), append=append)

    def stat(self, path: str) -> FileInfo:
        try:
            st = self._full(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFoundError(path) from None
        is_dir = os.path.isdir(self._full(path))
        return FileInfo(path, 0 if is_dir else st.st_size, st.st_mtime, is_dir)

    def list(self, path: str) -> list[str]:
        full = self._full(path)
        try:
            names = sorted(os.listdir(full))
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFoundError(path) from None
        prefix = path.rstrip("/")
        return [f"{prefix}/{name}" for name in names if not name.startswith(".")]

    def move(self, source: str, dest: str) -> None:
        src, dst = self._full(source), self._full(dest)
        if not src.is_file():
            raise PathNotFoundError(source)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        fsync_dir(dst.parent)

    def delete(self, path: str) -> None:
        full = self._full(path)
        try:
            if full.is_dir() and not full.is_symlink():
                # rename first so a reader never sees a half-deleted tree
                doomed = full.with_name(f".{full.name}.deleting.{os.getpid()}.{id(full)}")
                os.replace(full, doomed)
                shutil.rmtree(doomed)
            else:
                full.unlink()
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFoundError(path) from None
        self._prune(full.parent)

    def _prune(self, directory: Path) -> None:
        """Remove directories left empty, as an object store has no empty prefixes."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    return
                raise
            directory = directory.parent

    def walk(self, path: str) -> Iterator[FileInfo]:
        full = self._full(path)
        if not full.exists():
            raise PathNotFoundError(path)
        if full.is_file():
            yield self.stat(path)
            return
        yield from self._walk(path.rstrip("/"), full)

    def _walk(self, prefix: str, full: Path) -> Iterator[FileInfo]:
        try:
            entries = sorted(os.scandir(full), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = f"{prefix}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(child, Path(entry.path))
            else:
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                yield FileInfo(child, st.st_size, st.st_mtime, False)

    def local_path(self, path: str) -> Path | None:
        return self._full(path)
