"""Make a layer tar from a directory, turning overlayfs whiteouts into tar whiteouts.

Entries are written in sorted order with numeric owners and whole-second mtimes, so the
same tree always gives the same bytes (and the same diff ID).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cais.layers.apply import OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX
from cais.layers.compression import HashingWriter, compressed_writer
from cais.oci.digest import Digest
from cais.streams import Writer, open_tar_stream

_XATTR_PREFIX = "SCHILY.xattr."


@dataclass(frozen=True)
class WrittenLayer:
    diff_id: Digest
    digest: Digest
    size: int
    uncompressed_size: int
    compression: str


def write_layer(
    source: Path,
    out: Writer,
    *,
    compression: str = "gzip",
    level: int | None = None,
    overlay_whiteouts: bool = True,
    owner: tuple[int, int] | None = None,
    mtime: int | None = None,
) -> WrittenLayer:
    """Tar ``source``'s contents (not the directory itself) into ``out``.

    ``owner`` and ``mtime``, when given, replace every entry's (for images made from a
    directory the caller owns, such as a bootstrapped root filesystem).
    """
    outer = HashingWriter(out)
    compressor = compressed_writer(outer, compression, level)
    inner = HashingWriter(compressor)
    tar = open_tar_stream(inner, "w|", format=tarfile.PAX_FORMAT)
    try:
        writer = _TreeWriter(tar, overlay_whiteouts=overlay_whiteouts, owner=owner, mtime=mtime)
        writer.add_tree(source)
    finally:
        tar.close()
    compressor.close()
    return WrittenLayer(
        diff_id=inner.digest(),
        digest=outer.digest(),
        size=outer.count,
        uncompressed_size=inner.count,
        compression=compression,
    )


def is_whiteout_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class _TreeWriter:
    def __init__(
        self,
        tar: tarfile.TarFile,
        *,
        overlay_whiteouts: bool,
        owner: tuple[int, int] | None = None,
        mtime: int | None = None,
    ) -> None:
        self.tar = tar
        self.overlay = overlay_whiteouts
        self.owner = owner
        self.mtime = mtime
        self._links: dict[tuple[int, int], str] = {}

    def add_tree(self, root: Path) -> None:
        for rel, path, st in _walk(root):
            self.add(rel, path, st)

    def add(self, rel: str, path: Path, st: os.stat_result) -> None:
        if self.overlay and is_whiteout_device(st):
            parent, _, name = rel.rpartition("/")
            info = tarfile.TarInfo((parent + "/" if parent else "") + WHITEOUT_PREFIX + name)
            info.mtime = int(st.st_mtime)
            info.mode = 0o644
            self.tar.addfile(info)
            return
        info = tarfile.TarInfo(rel + ("/" if stat.S_ISDIR(st.st_mode) else ""))
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = self.owner or (st.st_uid, st.st_gid)
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime) if self.mtime is None else self.mtime
        info.pax_headers = _xattrs(path)
        fileobj = None
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self._links:
                info.type = tarfile.LNKTYPE
                info.linkname = self._links[key]
            else:
                if st.st_nlink > 1:
                    self._links[key] = rel
                info.type = tarfile.REGTYPE
                info.size = st.st_size
                fileobj = open(path, "rb")  # noqa: SIM115 - closed below
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            return  # sockets are not layer content
        try:
            self.tar.addfile(info, fileobj)
        finally:
            if fileobj is not None:
                fileobj.close()
        if stat.S_ISDIR(st.st_mode) and self.overlay and is_opaque(path):
            marker = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
            marker.mtime = int(st.st_mtime)
            marker.mode = 0o644
            self.tar.addfile(marker)


def _walk(root: Path, prefix: str = "") -> Iterator[tuple[str, Path, os.stat_result]]:
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        st = entry.stat(follow_symlinks=False)
        yield rel, Path(entry.path), st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(Path(entry.path), rel + "/")


def _xattrs(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for name in sorted(os.listxattr(path, follow_symlinks=False)):
            if name.startswith("trusted.overlay.") or name == "security.selinux":
                continue
            with contextlib.suppress(OSError):
                value = os.getxattr(path, name, follow_symlinks=False)
                out[_XATTR_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return out
