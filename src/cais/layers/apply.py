"""Apply a layer tar to a directory, safely, producing overlayfs whiteouts.

Every path is walked one component at a time from a directory file descriptor with
``O_NOFOLLOW``, so no entry is ever written through a symlink, whoever planted it; ``..``
components are refused, leading ``/`` is dropped (the layer's root is the target), and a
hard link must name a file already inside the target. Device nodes are made only for a
trusted layer (as root); otherwise they are skipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cais.errors import InvalidArgumentError
from cais.layers.compression import HashingReader, decompressed_reader
from cais.oci.digest import Digest
from cais.streams import Reader, open_tar_stream

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
_COPY_CHUNK = 1 << 20
_XATTR_PREFIX = "SCHILY.xattr."


class LayerError(InvalidArgumentError):
    """A layer tar that is malformed or tries to write outside its root."""


@dataclass(frozen=True)
class AppliedLayer:
    diff_id: Digest
    size: int
    skipped_devices: int = 0


def apply_layer(
    stream: Reader,
    target: Path,
    *,
    compression: str | None = None,
    trusted: bool = False,
) -> AppliedLayer:
    """Extract the layer in ``stream`` (compression detected when None) into ``target``.

    ``target`` is the layer's own directory (an overlay upper): whiteouts become 0/0
    character devices and opaque directories get ``trusted.overlay.opaque=y``.
    """
    plain = decompressed_reader(stream, compression)
    hashing = HashingReader(plain)
    applier = _Applier(target, trusted=trusted)
    try:
        with open_tar_stream(hashing, "r|", errorlevel=2) as tar:
            for member in tar:
                applier.apply(tar, member)
        hashing.drain()
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, LayerError):
            raise
        raise LayerError(f"layer is not a valid tar archive: {_describe(exc)}") from None
    finally:
        applier.close()
    applier.finish()
    return AppliedLayer(hashing.digest(), hashing.count, applier.skipped_devices)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in text.lower() or "unexpected end" in text:
        return f"truncated archive ({text})"
    return text


def clean_entry_name(name: str) -> tuple[str, ...]:
    """The path components of a tar entry name, refusing any that climb out with ``..``."""
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise LayerError(f"layer entry {name!r} points outside the root ('..')")
        parts.append(part)
    return tuple(parts)


class _Applier:
    def __init__(self, target: Path, *, trusted: bool) -> None:
        self.target = target
        target.mkdir(parents=True, exist_ok=True)
        self.root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        self.is_root = os.geteuid() == 0
        self.trusted = trusted and self.is_root
        self.skipped_devices = 0
        self._dir_fds: dict[tuple[str, ...], int] = {(): self.root_fd}
        self._dir_times: dict[tuple[str, ...], int] = {}

    # directory walking

    def _dir_fd(self, parts: tuple[str, ...], entry: str, *, create: bool = True) -> int:
        """An fd of the directory at ``parts``, creating missing ones, never following links."""
        fd = self._dir_fds.get(parts)
        if fd is not None:
            return fd
        parent = self._dir_fd(parts[:-1], entry, create=create)
        name = parts[-1]
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                where = "/".join(parts)
                if stat.S_ISLNK(st.st_mode):
                    raise LayerError(
                        f"layer entry {entry!r} would be written through the symlink {where!r}"
                    ) from None
                raise LayerError(f"layer entry {entry!r}: {where!r} is not a directory") from None
            raise
        self._dir_fds[parts] = fd
        return fd

    def _forget(self, parts: tuple[str, ...]) -> None:
        for key in [k for k in self._dir_fds if k[: len(parts)] == parts and k]:
            os.close(self._dir_fds.pop(key))

    def _remove(self, parent_fd: int, name: str, parts: tuple[str, ...]) -> None:
        """Remove whatever is at ``name`` (recursively for a directory)."""
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            self._forget(parts)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
            try:
                for child in os.listdir(fd):
                    self._remove(fd, child, (*parts, child))
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=parent_fd)
        else:
            os.unlink(name, dir_fd=parent_fd)

    # entries

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = clean_entry_name(member.name)
        if not parts:
            if member.isdir():
                self._metadata(self.root_fd, None, member, parts)
            return
        *parent_parts, name = parts
        parent = tuple(parent_parts)
        parent_fd = self._dir_fd(parent, member.name)

        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent_fd, parent, name, member)
            return

        existing = None
        with contextlib.suppress(FileNotFoundError):
            existing = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            self._remove(parent_fd, name, parts)

        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(name, 0o700, dir_fd=parent_fd)
            fd = self._dir_fd(parts, member.name)
            self._metadata(fd, None, member, parts)
        elif member.isreg():
            self._regular(tar, member, parent_fd, name)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=parent_fd)
            self._metadata(parent_fd, name, member, parts)
        elif member.islnk():
            self._hardlink(member, parent_fd, name)
        elif member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=parent_fd)
            self._metadata(parent_fd, name, member, parts)
        elif member.ischr() or member.isblk():
            if not self.trusted:
                self.skipped_devices += 1
                return
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(
                name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent_fd
            )
            self._metadata(parent_fd, name, member, parts)
        else:
            raise LayerError(f"layer entry {member.name!r} has an unsupported type")

    def _regular(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent_fd: int, name: str
    ) -> None:
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=parent_fd,
        )
        try:
            source = tar.extractfile(member)
            remaining = member.size
            if source is not None:
                while remaining > 0:
                    chunk = source.read(min(_COPY_CHUNK, remaining))
                    if not chunk:
                        raise LayerError(f"layer is truncated inside {member.name!r}")
                    os.write(fd, chunk)
                    remaining -= len(chunk)
            self._fd_metadata(fd, member)
        finally:
            os.close(fd)

    def _hardlink(self, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
        try:
            link_parts = clean_entry_name(member.linkname)
        except LayerError:
            raise LayerError(
                f"layer entry {member.name!r} is a hard link to {member.linkname!r}, "
                "outside the root"
            ) from None
        if not link_parts:
            raise LayerError(f"layer entry {member.name!r} is a hard link to the root")
        try:
            src_fd = self._dir_fd(tuple(link_parts[:-1]), member.name, create=False)
            st = os.stat(link_parts[-1], dir_fd=src_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise LayerError(
                f"layer entry {member.name!r} is a hard link to {member.linkname!r}, "
                "which is not in this layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise LayerError(f"layer entry {member.name!r} is a hard link to a directory")
        os.link(
            link_parts[-1], name, src_dir_fd=src_fd, dst_dir_fd=parent_fd, follow_symlinks=False
        )

    def _whiteout(
        self, parent_fd: int, parent: tuple[str, ...], name: str, member: tarfile.TarInfo
    ) -> None:
        if name == OPAQUE_MARKER:
            for child in os.listdir(parent_fd):
                self._remove(parent_fd, child, (*parent, child))
            os.setxattr(parent_fd, OVERLAY_OPAQUE_XATTR, b"y")
            return
        if name.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk and the like): not content
        hidden = name[len(WHITEOUT_PREFIX) :]
        if hidden in ("", ".", ".."):
            raise LayerError(f"layer entry {member.name!r} is an invalid whiteout")
        self._remove(parent_fd, hidden, (*parent, hidden))
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent_fd)

    # metadata

    def _fd_metadata(self, fd: int, member: tarfile.TarInfo) -> None:
        if self.is_root:
            os.fchown(fd, member.uid, member.gid)
        os.fchmod(fd, member.mode & 0o7777)
        self._xattrs(fd, member)
        os.utime(fd, ns=(int(member.mtime * 1e9),) * 2)

    def _metadata(
        self, fd: int, name: str | None, member: tarfile.TarInfo, parts: tuple[str, ...]
    ) -> None:
        if name is None:
            # a directory opened by fd; its mtime is set at the end, after its children
            if self.is_root:
                os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            self._xattrs(fd, member)
            self._dir_times[parts] = int(member.mtime * 1e9)
            return
        if self.is_root:
            os.chown(name, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        if not member.issym():
            os.chmod(name, member.mode & 0o7777, dir_fd=fd)
        if member.pax_headers:
            self._xattrs_at(fd, name, member)
        os.utime(name, ns=(int(member.mtime * 1e9),) * 2, dir_fd=fd, follow_symlinks=False)

    def _xattr_items(self, member: tarfile.TarInfo) -> Iterator[tuple[str, bytes]]:
        for key, value in member.pax_headers.items():
            if not key.startswith(_XATTR_PREFIX):
                continue
            attr = key[len(_XATTR_PREFIX) :]
            if attr.startswith("trusted.overlay."):
                continue
            if not self.is_root and not attr.startswith("user."):
                continue
            raw = value.encode("utf-8", "surrogateescape")
            yield attr, raw

    def _xattrs(self, fd: int, member: tarfile.TarInfo) -> None:
        for attr, raw in self._xattr_items(member):
            with contextlib.suppress(OSError):
                os.setxattr(fd, attr, raw)

    def _xattrs_at(self, fd: int, name: str, member: tarfile.TarInfo) -> None:
        for attr, raw in self._xattr_items(member):
            with contextlib.suppress(OSError):
                os.setxattr(f"/proc/self/fd/{fd}/{name}", attr, raw, follow_symlinks=False)

    def finish(self) -> None:
        """Set directory mtimes last, deepest first, so that writing children does not move them."""
        for parts, mtime in sorted(self._dir_times.items(), key=lambda kv: -len(kv[0])):
            fd = _open_dir_nofollow(self.target, parts)
            if fd is None:
                continue
            try:
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)

    def close(self) -> None:
        for fd in self._dir_fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._dir_fds = {}


def _open_dir_nofollow(root: Path, parts: tuple[str, ...]) -> int | None:
    """Open ``root/parts`` without following any symlink; None if it is not a directory now."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for part in parts:
        try:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = child
    return fd
