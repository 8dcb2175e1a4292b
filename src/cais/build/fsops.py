"""Writing into a build step's root filesystem (Linux): COPY, ADD and WORKDIR.

The root is a mounted snapshot. Paths inside it are resolved the way the container
would see them: symlinks are followed, but always inside the root (an absolute link
target starts again at the root, ``..`` stops there), so no link planted in an image can
make a write land on the host. Writes go through directory file descriptors with
``O_NOFOLLOW`` on the last component.

Copy semantics are Docker's: a directory source copies its *contents*; a destination
that exists as a directory (or ends with ``/``) receives a file source under its own
name; directories created on the way are 0755 and belong to ``--chown``'s owner (root
otherwise); copied entries keep their mode (``--chmod`` replaces it), their mtime, and
their owner only when they come from another stage or image.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cais.errors import CaisError
from cais.layers.apply import clean_entry_name
from cais.streams import Reader, open_tar_stream

MAX_SYMLINKS = 255
_COPY_CHUNK = 1 << 30
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SKIP_XATTRS = ("trusted.overlay.", "security.selinux")


class FileOpError(CaisError):
    """A COPY/ADD/WORKDIR that cannot be done (a file where a directory must be …)."""


class SourceFilter(Protocol):
    """Which source paths a copy leaves out (``.dockerignore``, ``--exclude``)."""

    def ignored(self, rel: str) -> bool: ...

    def may_hold_exceptions(self, rel: str) -> bool:
        """Whether an ignored directory may hold a path that is not ignored."""
        ...


@dataclass(frozen=True)
class CopyPolicy:
    """How copied entries are owned and moded.

    ``owner`` (uid, gid) from ``--chown`` wins; otherwise entries keep the source's
    owner when ``keep_owner`` (another stage) and become root's when not (the context).
    """

    owner: tuple[int, int] | None = None
    keep_owner: bool = False
    mode: int | None = None

    def ids(self, st: os.stat_result) -> tuple[int, int]:
        if self.owner is not None:
            return self.owner
        if self.keep_owner:
            return st.st_uid, st.st_gid
        return 0, 0


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> str:
    """``path`` as seen inside ``root``, all symlinks resolved there; ``""`` is the root."""
    pending = [p for p in path.split("/") if p not in ("", ".")]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    missing = False
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        if missing or (not pending and not follow_last):
            resolved.append(part)
            continue
        host = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            missing = True
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise FileOpError(f"{path}: too many levels of symbolic links")
        target = os.readlink(host)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
    return "/".join(resolved)


class Destination:
    """A root filesystem being written; every path given is as the container sees it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Destination:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # looking

    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        return resolve_in_root(self.root, path, follow_last=follow_last)

    def lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.stat(rel or ".", dir_fd=self.fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def is_dir(self, path: str) -> bool:
        st = self.lstat(self.resolve(path))
        return st is not None and stat.S_ISDIR(st.st_mode)

    # directories

    @contextlib.contextmanager
    def directory(
        self, rel: str, *, create: bool = False, owner: tuple[int, int] | None = None
    ) -> Iterator[int]:
        """An fd of the directory ``rel`` (resolved), made with its parents if ``create``."""
        fd = os.dup(self.fd)
        try:
            for part in [p for p in rel.split("/") if p]:
                child = _child_dir(fd, part, create=create, owner=owner, where=rel)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def make_dirs(self, path: str, *, owner: tuple[int, int] | None = None) -> str:
        """``mkdir -p`` (0755, ``owner`` for the ones made); returns the resolved path."""
        rel = self.resolve(path)
        with self.directory(rel, create=True, owner=owner):
            pass
        return rel

    # copying

    def copy(
        self,
        source: Path,
        dest: str,
        policy: CopyPolicy,
        *,
        only: SourceFilter | None = None,
        name: str = "",
    ) -> None:
        """Copy ``source`` (a host path, already resolved) to ``dest`` with Docker's rules.

        ``name`` is the source's name as written (a symlink's name, not its target's);
        ``only`` leaves out the paths (relative to ``source``) it ignores.
        """
        src_st = os.stat(source)  # the top-level source is followed, as Docker does
        rel = self.resolve(dest)
        if dest.endswith("/"):
            self.make_dirs(rel, owner=policy.owner)
        target = self.lstat(rel)
        target_is_dir = target is not None and stat.S_ISDIR(target.st_mode)
        if not stat.S_ISDIR(src_st.st_mode) and target_is_dir:
            rel = posixpath.join(rel, name or source.name)
        parent, _, leaf = rel.rpartition("/")
        copier = _Copier(self, policy, only)
        if stat.S_ISDIR(src_st.st_mode):
            with self.directory(rel, create=True, owner=policy.owner) as fd:
                copier.children(source, fd, "")
            return
        if not leaf:
            raise FileOpError(f"cannot copy {name or source.name} onto the root directory")
        with self.directory(parent, create=True, owner=policy.owner) as fd:
            copier.entry(source, src_st, fd, leaf, "")

    def write_file(
        self,
        dest: str,
        data: bytes,
        *,
        name: str,
        mode: int = 0o644,
        owner: tuple[int, int] = (0, 0),
        dir_owner: tuple[int, int] | None = None,
        mtime_ns: int | None = None,
    ) -> None:
        """Write a file made by the build (a heredoc, a download) at ``dest``."""
        rel = self.resolve(dest)
        if dest.endswith("/"):
            self.make_dirs(rel, owner=dir_owner)
        target = self.lstat(rel)
        if target is not None and stat.S_ISDIR(target.st_mode):
            rel = posixpath.join(rel, name)
        parent, _, leaf = rel.rpartition("/")
        with self.directory(parent, create=True, owner=dir_owner) as fd:
            existing = _lstat_at(fd, leaf)
            if existing is not None:
                if stat.S_ISDIR(existing.st_mode):
                    raise FileOpError(f"cannot replace to directory {leaf} with file")
                os.unlink(leaf, dir_fd=fd)
            out = os.open(
                leaf,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=fd,
            )
            try:
                _write_all(out, data)
                os.fchown(out, *owner)
                os.fchmod(out, mode)
                if mtime_ns is not None:
                    os.utime(out, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(out)

    # archives (ADD)

    def extract(self, stream: Reader, dest: str, *, owner: tuple[int, int] | None) -> None:
        """Unpack a tar stream into the directory ``dest`` (made if missing).

        Each entry's parent is resolved inside the root, so an archive meant for ``/``
        lands through the image's own symlinks (``/bin`` → ``usr/bin``), never outside.
        """
        base = self.make_dirs(dest, owner=owner)
        links: list[tuple[str, str]] = []
        dir_times: list[tuple[str, int]] = []
        with open_tar_stream(stream, "r|", errorlevel=1) as tar:
            for member in tar:
                parts = clean_entry_name(member.name)
                if not parts:
                    continue
                parent = self.resolve(posixpath.join(base, *parts[:-1]))
                with self.directory(parent, create=True, owner=owner) as fd:
                    self._extract_member(tar, member, fd, parts[-1], owner=owner, links=links)
                if member.isdir():
                    dir_times.append((posixpath.join(parent, parts[-1]), int(member.mtime)))
        for rel, target in links:
            parent, _, leaf = rel.rpartition("/")
            source = self.resolve(posixpath.join(base, target), follow_last=False)
            with self.directory(parent) as fd:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leaf, dir_fd=fd)
                os.link(
                    source or ".", leaf, src_dir_fd=self.fd, dst_dir_fd=fd, follow_symlinks=False
                )
        for rel, mtime in reversed(dir_times):
            with contextlib.suppress(OSError):
                os.utime(rel, ns=(mtime * 10**9,) * 2, dir_fd=self.fd, follow_symlinks=False)

    def _extract_member(
        self,
        tar: tarfile.TarFile,
        member: tarfile.TarInfo,
        fd: int,
        name: str,
        *,
        owner: tuple[int, int] | None,
        links: list[tuple[str, str]],
    ) -> None:
        uid, gid = owner if owner is not None else (member.uid, member.gid)
        mode = member.mode & 0o7777
        existing = _lstat_at(fd, name)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            if stat.S_ISDIR(existing.st_mode):
                raise FileOpError(f"cannot replace directory {name} with a file from the archive")
            os.unlink(name, dir_fd=fd)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(name, 0o700, dir_fd=fd)
        elif member.isreg():
            out = os.open(
                name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd
            )
            try:
                data = tar.extractfile(member)
                if data is not None:
                    while chunk := data.read(1 << 20):
                        _write_all(out, chunk)
            finally:
                os.close(out)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=fd)
        elif member.islnk():
            parts = clean_entry_name(member.linkname)
            links.append((_relative(self.fd, fd, name), "/".join(parts)))
            return
        elif member.isfifo():
            os.mkfifo(name, mode, dir_fd=fd)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(name, kind | mode, os.makedev(member.devmajor, member.devminor), dir_fd=fd)
        else:
            return
        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
        if not member.issym():
            os.chmod(name, mode, dir_fd=fd)
        os.utime(name, ns=(int(member.mtime) * 10**9,) * 2, dir_fd=fd, follow_symlinks=False)


class _Copier:
    """One COPY source into a destination: the policy, the filter, the hard links seen."""

    def __init__(self, dest: Destination, policy: CopyPolicy, only: SourceFilter | None) -> None:
        self.dest = dest
        self.policy = policy
        self.only = only
        self._links: dict[tuple[int, int], str] = {}

    def mode(self, st: os.stat_result) -> int:
        return stat.S_IMODE(st.st_mode) if self.policy.mode is None else self.policy.mode

    def children(self, source: Path, dir_fd: int, rel: str) -> None:
        with os.scandir(source) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            if self.only is not None and self.only.ignored(child_rel):
                if stat.S_ISDIR(st.st_mode) and self.only.may_hold_exceptions(child_rel):
                    self.ignored_dir(Path(entry.path), st, dir_fd, entry.name, child_rel)
                continue
            self.entry(Path(entry.path), st, dir_fd, entry.name, child_rel)

    def ignored_dir(
        self, source: Path, st: os.stat_result, dir_fd: int, name: str, rel: str
    ) -> None:
        """An ignored directory that an exception may reach into: kept only if not empty."""
        existing = _lstat_at(dir_fd, name)
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    self.children(source, fd, rel)
                finally:
                    os.close(fd)
            return
        self.entry(source, st, dir_fd, name, rel)
        with contextlib.suppress(OSError):
            os.rmdir(name, dir_fd=dir_fd)  # fails (and stays) when something was copied

    def entry(self, source: Path, st: os.stat_result, dir_fd: int, name: str, rel: str) -> None:
        mode = self.mode(st)
        uid, gid = self.policy.ids(st)
        if stat.S_ISDIR(st.st_mode):
            existing = _lstat_at(dir_fd, name)
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                raise FileOpError(f"cannot copy to non-directory: {name}")
            if existing is None:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                _copy_xattrs(source, fd)
                self.children(source, fd, rel)
                os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fd)
            return
        existing = _lstat_at(dir_fd, name)
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                raise FileOpError(f"cannot replace to directory {name} with file")
            os.unlink(name, dir_fd=dir_fd)
        if stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            first = self._links.get(key) if st.st_nlink > 1 else None
            if first is not None:
                try:
                    os.link(
                        first,
                        name,
                        src_dir_fd=self.dest.fd,
                        dst_dir_fd=dir_fd,
                        follow_symlinks=False,
                    )
                    return
                except OSError:
                    pass
            self.file(source, st, dir_fd, name)
            if st.st_nlink > 1:
                self._links[key] = _relative(self.dest.fd, dir_fd, name)
            return
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(source), name, dir_fd=dir_fd)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(name, mode, dir_fd=dir_fd)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(name, stat.S_IFMT(st.st_mode) | mode, st.st_rdev, dir_fd=dir_fd)
        else:
            return  # sockets are not copied
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, mode, dir_fd=dir_fd)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dir_fd, follow_symlinks=False)

    def file(self, source: Path, st: os.stat_result, dir_fd: int, name: str) -> None:
        src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            dst = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            try:
                _copy_data(src, dst, st.st_size)
                os.fchown(dst, *self.policy.ids(st))
                os.fchmod(dst, self.mode(st))
                _copy_xattrs(source, dst)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst)
        finally:
            os.close(src)


def _child_dir(
    parent: int, name: str, *, create: bool, owner: tuple[int, int] | None, where: str
) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise FileOpError(
                f"cannot create directory /{where}: /{name} is not a directory"
            ) from None
        raise
    os.mkdir(name, 0o755, dir_fd=parent)
    child = os.open(name, _DIR_FLAGS, dir_fd=parent)
    os.fchmod(child, 0o755)
    if owner is not None:
        os.fchown(child, *owner)
    return child


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _relative(root_fd: int, dir_fd: int, name: str) -> str:
    """The path of ``name`` in ``dir_fd`` relative to ``root_fd`` (both open directories)."""
    root = os.readlink(f"/proc/self/fd/{root_fd}")
    here = os.readlink(f"/proc/self/fd/{dir_fd}")
    rel = os.path.relpath(here, root)
    return name if rel == "." else f"{rel}/{name}"


def _copy_data(src: int, dst: int, size: int) -> None:
    remaining = size
    try:
        while remaining > 0:
            sent = os.sendfile(dst, src, None, min(remaining, _COPY_CHUNK))
            if sent == 0:
                break
            remaining -= sent
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS):
            raise
        while chunk := os.read(src, 1 << 20):
            _write_all(dst, chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy_xattrs(source: Path, fd: int) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith(_SKIP_XATTRS):
            continue
        with contextlib.suppress(OSError):
            os.setxattr(fd, name, os.getxattr(source, name, follow_symlinks=False))
