"""``cais cp``: copying between a container's filesystem and the host, as Docker does.

Inside the container every path is resolved in a forked child that has chrooted into the
container's root, so a symlink in the container can never lead to the host's files.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import tarfile
from collections.abc import Iterator
from pathlib import Path

from cais.errors import CaisError, NotFoundError
from cais.runtime import mounts
from cais.runtime.lifecycle import ContainerService, snapshot_key
from cais.runtime.model import Container


@contextlib.contextmanager
def mounted_rootfs(service: ContainerService, container: Container) -> Iterator[Path]:
    """The container's merged root: its live mount, or a temporary one when it is stopped."""
    rootfs = service.rootfs(container.id)
    if mounts.is_mounted(rootfs):
        yield rootfs
        return
    with service.lock(container.id):
        mounts.mount(service.snapshotter.mounts(snapshot_key(container.id)), rootfs)
        try:
            yield rootfs
        finally:
            mounts.unmount(rootfs)


def _in_chroot(rootfs: Path, work: object) -> bytes:
    """Run ``work(pipe_write_fd)`` chrooted in a child; returns what it wrote (or raises)."""
    read_fd, write_fd = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.close(err_r)
        code = 0
        try:
            os.chroot(rootfs)
            os.chdir("/")
            work(write_fd)  # type: ignore[operator]
        except BaseException as exc:
            os.write(err_w, str(exc).encode()[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    os.close(err_w)
    chunks = []
    while chunk := os.read(read_fd, 1 << 20):
        chunks.append(chunk)
    os.close(read_fd)
    error = os.read(err_r, 4096).decode(errors="replace")
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise CaisError(error or "copy failed")
    return b"".join(chunks)


def copy_out(service: ContainerService, container: Container, src: str, dest: str) -> bytes | None:
    """Copy ``src`` out of the container to host path ``dest`` (``-``: return a tar)."""
    contents_only = src.endswith("/.")
    with mounted_rootfs(service, container) as rootfs:

        def pack(fd: int) -> None:
            path = posixpath.normpath(src)
            if not os.path.lexists(path):
                raise NotFoundError(f"Could not find the file {src} in container {container.name}")
            with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w|") as tar:
                if contents_only and os.path.isdir(path):
                    for name in sorted(os.listdir(path)):
                        tar.add(os.path.join(path, name), arcname=name)
                else:
                    tar.add(path, arcname=posixpath.basename(path) or "root")

        data = _in_chroot(rootfs, pack)
    if dest == "-":
        return data
    target = Path(dest)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        if not members:
            return None
        top = members[0].name.split("/")[0]
        single_file = len(members) == 1 and not members[0].isdir()
        if (
            contents_only
            or (target.exists() and target.is_dir() and not single_file)
            or (single_file and target.is_dir())
        ):
            target.mkdir(parents=True, exist_ok=True)
            tar.extractall(target, filter="tar")
        else:
            # rename the top entry to the destination's name
            if not target.parent.exists():
                raise NotFoundError(f"destination directory {target.parent} does not exist")
            for member in members:
                rest = member.name[len(top) :]
                member.name = target.name + rest
            tar.extractall(target.parent, filter="tar")
    return None


def copy_in(service: ContainerService, container: Container, src: str | bytes, dest: str) -> None:
    """Copy host path ``src`` (or a tar stream's bytes) into the container at ``dest``."""
    if isinstance(src, bytes):
        data, name = src, ""
    else:
        source = Path(src)
        if not source.exists() and not source.is_symlink():
            raise NotFoundError(f"stat {src}: no such file or directory")
        buf = io.BytesIO()
        contents_only = src.endswith("/.")
        with tarfile.open(fileobj=buf, mode="w") as tar:
            if contents_only:
                for child in sorted(source.iterdir()):
                    tar.add(child, arcname=child.name)
            else:
                tar.add(source, arcname=source.name)
        data, name = buf.getvalue(), "" if contents_only else source.name

    with mounted_rootfs(service, container) as rootfs:

        def unpack(fd: int) -> None:
            os.close(fd)
            target = posixpath.normpath(dest)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                if os.path.isdir(target) or not name:
                    if not os.path.isdir(target):
                        raise NotFoundError(
                            f"Could not find the file {target} in container {container.name}"
                        )
                    tar.extractall(target, filter="tar")
                    return
                parent = posixpath.dirname(target) or "/"
                if not os.path.isdir(parent):
                    raise NotFoundError(
                        f"Could not find the file {parent} in container {container.name}"
                    )
                for member in tar.getmembers():
                    member.name = posixpath.basename(target) + member.name[len(name) :]
                tar.extractall(parent, filter="tar")

        _in_chroot(rootfs, unpack)
