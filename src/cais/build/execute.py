"""Running build steps (Linux): RUN in a real container, COPY/ADD/WORKDIR in a mount.

A RUN is an ordinary cais container made from the step's parent image with the stage's
environment, working directory, user and shell, on the default bridge network unless the
build says otherwise (as Docker's and buildah's RUN; released when the step ends); its output
is streamed from conmon while it runs. What it changed is the container's read/write
layer, which becomes the step's layer — minus the empty files and directories the OCI
runtime had to create as mount points (``/etc/hosts`` on an image without one).

File steps prepare a snapshot on the parent's top layer, mount it (in a forked child,
as the runtime does) and write into it through :class:`~cais.build.fsops.Destination`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cais.errors import CaisError, NotFoundError
from cais.runtime import conmon, mounts
from cais.runtime.attach import attached_lock
from cais.runtime.lifecycle import ContainerService, snapshot_key
from cais.runtime.model import ContainerConfig, MountRequest
from cais.snapshots.types import Mount, Snapshotter

# mount points the runtime creates in a root filesystem that lacks them
MOUNT_STUBS = ("proc", "sys", "dev", "etc/hostname", "etc/hosts", "etc/resolv.conf")
OUTPUT_TAIL = 20


@dataclass(frozen=True)
class RunRequest:
    """What a RUN step runs and how."""

    image_id: str
    args: tuple[str, ...]
    env: tuple[str, ...]
    working_dir: str
    user: str
    network: str  # none, host, or a network's name
    runtime: str
    scripts: tuple[tuple[str, str], ...] = ()  # (name, host file) mounted at /dev/pipes/name


@dataclass(frozen=True)
class RunOutcome:
    container_id: str
    exit_code: int
    tail: tuple[str, ...]
    error: str = ""


class OutputTail:
    """The last lines a step printed (shown when it fails)."""

    def __init__(self, keep: int = OUTPUT_TAIL) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self._partial = b""

    def feed(self, data: bytes) -> None:
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        for line in complete:
            self.lines.append(line.decode(errors="replace").rstrip("\r"))

    def result(self) -> tuple[str, ...]:
        if self._partial:
            self.lines.append(self._partial.decode(errors="replace"))
            self._partial = b""
        return tuple(self.lines)


class RunStep:
    """Runs one RUN instruction in a container; the caller commits or drops its layer."""

    def __init__(self, containers: ContainerService, snapshotter: Snapshotter) -> None:
        self.containers = containers
        self.snapshotter = snapshotter

    @contextlib.contextmanager
    def run(
        self, request: RunRequest, *, on_output: Callable[[bytes], None]
    ) -> Iterator[RunOutcome]:
        """Run the container; while the block runs its snapshot still exists (key:
        ``snapshot_key(outcome.container_id)``); afterwards the container is gone."""
        config = ContainerConfig(
            image=request.image_id,
            image_id=request.image_id,
            args=request.args,
            env=request.env,
            working_dir=request.working_dir or "/",
            user=request.user,
            labels={"cais.build": "step"},
            network=request.network,
            runtime=request.runtime,
            mounts=tuple(
                MountRequest("bind", f"/dev/pipes/{name}", source=path, readonly=True)
                for name, path in request.scripts
            ),
        )
        container = self.containers.create(config, name=f"cais-build-{secrets.token_hex(6)}")
        try:
            yield self._run(container.id, on_output)
        finally:
            with contextlib.suppress(CaisError):
                self.containers.remove(container.id, force=True)

    def _run(self, cid: str, on_output: Callable[[bytes], None]) -> RunOutcome:
        tail = OutputTail()

        def emit(data: bytes) -> None:
            tail.feed(data)
            on_output(data)

        bundle = self.containers.bundle(cid)
        holder: list[conmon.Attachment] = []

        def connect(_: object) -> None:
            holder.append(conmon.Attachment(bundle))

        with attached_lock(bundle):
            try:
                self.containers.start(cid, before_start=connect)
            except CaisError as exc:
                for attachment in holder:
                    attachment.close()
                return RunOutcome(cid, 127, tail.result(), error=str(exc))
            for attachment in holder:
                try:
                    for _, data in attachment.frames():
                        emit(data)
                finally:
                    attachment.close()
            final = self.containers.wait(cid)
        return RunOutcome(cid, final.state.exit_code, tail.result())

    def remove_stubs(self, cid: str, lowers: list[Path]) -> None:
        """Drop the mount points the runtime made that the image did not have."""
        upper = self.snapshotter.upper_dir(snapshot_key(cid))
        for stub in MOUNT_STUBS:
            if _exists_in_layers(lowers, stub):
                continue
            path = upper / stub
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(path)  # only when empty
                elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                    os.unlink(path)
            parent = Path(stub).parent
            while str(parent) != "." and not _exists_in_layers(lowers, str(parent)):
                with contextlib.suppress(OSError):
                    os.rmdir(upper / parent)
                parent = parent.parent


class LayerSnapshotter(Snapshotter, Protocol):
    """A snapshotter whose committed snapshots are directories (the overlay one)."""

    def directory(self, key: str) -> Path: ...


def layer_dirs(snapshotter: LayerSnapshotter, top: str | None) -> list[Path]:
    """The directories of a committed snapshot chain, top layer first."""
    out = []
    key = top
    while key is not None:
        out.append(snapshotter.directory(key))
        key = snapshotter.stat(key).parent
    return out


def _exists_in_layers(lowers: list[Path], rel: str) -> bool:
    """Whether ``rel`` exists in the union of ``lowers`` (top first), whiteouts honoured."""
    for lower in lowers:
        try:
            st = os.lstat(lower / rel)
        except (FileNotFoundError, NotADirectoryError):
            continue
        return not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
    return False


class MountedSnapshot:
    """An active (writable) or view (read-only) snapshot mounted at a private directory."""

    def __init__(self, snapshotter: Snapshotter, workdir: Path) -> None:
        self.snapshotter = snapshotter
        self.workdir = workdir

    @contextlib.contextmanager
    def active(self, parent: str | None) -> Iterator[tuple[str, Path]]:
        """A new active snapshot on ``parent``, mounted; yields (key, mount point).

        On an error the snapshot is removed; on success the caller commits or removes it.
        """
        key = f"build-{secrets.token_hex(8)}"
        target = self.workdir / key
        self.snapshotter.prepare(key, parent)
        try:
            with self._mounted(self.snapshotter.mounts(key), target):
                yield key, target
        except BaseException:
            with contextlib.suppress(NotFoundError):
                self.snapshotter.remove(key)
            raise

    @contextlib.contextmanager
    def view(self, top: str | None) -> Iterator[Path]:
        """A read-only view of a committed snapshot chain (an empty directory for none)."""
        key = f"build-view-{secrets.token_hex(8)}"
        target = self.workdir / key
        if top is None:
            target.mkdir(parents=True)
            try:
                yield target
            finally:
                shutil.rmtree(target, ignore_errors=True)
            return
        self.snapshotter.view(key, top)
        try:
            with self._mounted(self.snapshotter.mounts(key), target):
                yield target
        finally:
            with contextlib.suppress(NotFoundError):
                self.snapshotter.remove(key)

    @contextlib.contextmanager
    def _mounted(self, plan: list[Mount], target: Path) -> Iterator[None]:
        target.mkdir(parents=True, exist_ok=True)
        try:
            mounts.mount(plan, target)
            try:
                yield
            finally:
                try:
                    mounts.unmount(target)
                except CaisError:
                    mounts.unmount(target, lazy=True)
        finally:
            with contextlib.suppress(OSError):
                target.rmdir()
