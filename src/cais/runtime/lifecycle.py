"""The container lifecycle: create, start, stop, kill, remove, and what follows an exit.

Files of a container ``<id>``::

    <runroot>/containers/<id>/          the OCI bundle: config.json, rootfs/ (mount point),
                                        conmon's attach socket and ctl fifo, pid files
    <runroot>/exits/<id>                written by conmon when the container exits
    <root>/containers/<id>/             hostname, hosts, resolv.conf (bind-mounted)
    <root>/containers/<id>/userdata/    ctr.log (conmon's k8s-file log), oom, exit

Every operation on a container holds its lock (``<runroot>/locks/<id>``). A CLI that
streams a container's output also holds ``attached.lock`` in the bundle, which tells the
monitor to leave the clean-up after the exit to that CLI.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from cais.errors import CaisError, ConflictError, NotFoundError
from cais.fsutil import atomic_write
from cais.oci.config import chain_ids
from cais.oci.digest import Digest
from cais.runtime import conmon, mounts
from cais.runtime.hostfiles import (
    alive,
    anonymous_volume_name,
    copy_up,
    etc_files_of,
    hosts_text,
    read_exit,
    rewrite_in_place,
    write_etc_files,
)
from cais.runtime.model import (
    CREATED,
    EXITED,
    PAUSED,
    RESTARTING,
    RUNNING,
    Container,
    ContainerConfig,
    Health,
    needs_monitor,
)
from cais.runtime.oci import CliRuntime, runtime_for
from cais.runtime.specgen import ResolvedMount, build, missing_seccomp
from cais.runtime.store import ContainerStore, new_container
from cais.settings import Settings

if TYPE_CHECKING:
    from cais.images.service import ImageService
    from cais.images.store import ImageStore
    from cais.runtime.volumes import Volume, VolumeStore
    from cais.snapshots.overlay import OverlaySnapshotter

STOP_POLL = 0.01
RESTART_BACKOFF_MAX = 60.0
MONITOR_RECHECK = 1.0  # seconds between checks that the monitor runs, per service


class ContainerNotRunningError(ConflictError):
    pass


def snapshot_key(cid: str) -> str:
    return f"container-{cid}"


class ContainerService:
    def __init__(
        self,
        settings: Settings,
        store: ContainerStore,
        images: Callable[[], ImageService],
        snapshotter: OverlaySnapshotter,
        volumes: VolumeStore,
        *,
        image_store: ImageStore,
    ) -> None:
        self.settings = settings
        self.store = store
        self._images = images  # made on first use: running a container does not need it
        self.image_store = image_store
        self.snapshotter = snapshotter
        self.volumes = volumes
        self._runtimes: dict[str, CliRuntime] = {}
        self._host_ready = False
        self._seccomp_warned = False  # the warning is shown once per process
        # the monitor turns this off for itself; others check at most every MONITOR_RECHECK
        self.watch_monitor = True
        self._monitor_checked = -MONITOR_RECHECK
        # hooks the network room fills in (see Engine.containers)
        self.on_create: Callable[[Container], None] = lambda c: None
        self.on_remove: Callable[[Container], None] = lambda c: None
        self.on_network_attach: Callable[[Container], str | None] = lambda c: None
        self.on_network_ready: Callable[[Container], None] = lambda c: None
        self.on_held_ports: Callable[[Container], tuple[int, ...]] = lambda c: ()
        self.on_network_detach: Callable[[Container], None] = lambda c: None
        self.on_files: Callable[[Container], dict[str, str]] = lambda c: {}

    @property
    def images(self) -> ImageService:
        return self._images()

    # paths and locks

    def bundle(self, cid: str) -> Path:
        return self.settings.runroot / "containers" / cid

    def state_dir(self, cid: str) -> Path:
        return self.settings.root / "containers" / cid

    def paths(self, cid: str) -> conmon.Paths:
        return conmon.Paths(
            bundle=self.bundle(cid),
            userdata=self.state_dir(cid) / "userdata",
            exit_dir=self.settings.runroot / "exits",
            socket_dir=self.settings.runroot / "socket",
        )

    def rootfs(self, cid: str) -> Path:
        return self.bundle(cid) / "rootfs"

    def log_path(self, cid: str) -> Path:
        return self.paths(cid).log

    @contextlib.contextmanager
    def lock(self, cid: str, *, blocking: bool = True) -> Iterator[bool]:
        locks = self.settings.runroot / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / cid, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def runtime(self, name: str) -> CliRuntime:
        if name not in self._runtimes:
            self._runtimes[name] = runtime_for(name, self.settings.runroot)
        return self._runtimes[name]

    def _prepare_host(self, runtime: str) -> None:
        if not self._host_ready:
            from cais.runtime.hostprep import prepare_host

            prepare_host(self.settings.runroot, runtime)
            self._host_ready = True

    # create

    def create(self, config: ContainerConfig, *, name: str | None = None) -> Container:
        """Record the container and prepare its read/write layer; nothing runs yet."""
        image = self.image_store.get(Digest.parse(config.image_id))
        self.runtime(config.runtime)  # refuse an unknown runtime before anything is stored
        cid = self.store.new_id()
        container = new_container(cid, name or self.store.random_name(), config)
        if not config.hostname:
            container = replace(container, config=replace(config, hostname=cid[:12]))
        chain = chain_ids(image.config.diff_ids)
        parent = str(chain[-1]) if chain else None
        self.store.insert(container)
        try:
            self.on_create(container)
            self.snapshotter.prepare(snapshot_key(cid), parent)
            self.state_dir(cid).mkdir(parents=True, exist_ok=True)
            for request in config.mounts:
                if request.type == "volume" and request.source:
                    self.volumes.create(request.source)
                elif request.type == "volume":
                    self._anonymous_volume(container, request.target)
        except BaseException:
            self._discard(cid)
            raise
        return container

    def _discard(self, cid: str) -> None:
        container = self.store.find(cid)
        if container is not None:
            with contextlib.suppress(CaisError):
                self.on_remove(container)
        with contextlib.suppress(NotFoundError):
            self.snapshotter.remove(snapshot_key(cid))
        shutil.rmtree(self.state_dir(cid), ignore_errors=True)
        shutil.rmtree(self.bundle(cid), ignore_errors=True)
        self.store.delete(cid)

    # start

    def start(
        self, cid: str, *, before_start: Callable[[Container], None] | None = None
    ) -> Container:
        """Mount, write the spec, let conmon create the container, then start it."""
        with self.lock(cid):
            container = self.refresh(self.store.resolve(cid))
            if container.state.status in (RUNNING, PAUSED):
                return container
            return self._start_locked(container, before_start=before_start)

    def _start_locked(
        self, container: Container, *, before_start: Callable[[Container], None] | None = None
    ) -> Container:
        cid = container.id
        cfg = container.config
        runtime = self.runtime(cfg.runtime)
        self._prepare_host(cfg.runtime)
        bundle = self.bundle(cid)
        bundle.mkdir(parents=True, exist_ok=True)
        rootfs = self.rootfs(cid)
        netns = None
        try:
            if not mounts.is_mounted(rootfs):
                mounts.mount(self.snapshotter.mounts(snapshot_key(cid)), rootfs)
            resolved = self._resolve_mounts(container, rootfs)
            netns = self.on_network_attach(container)
            owner = self._network_owner(container)
            files = self._write_files(container) if owner is None else self._shared_files(owner)
            self._warn_seccomp(container)
            spec = build(
                container if owner is None else _with_hostname(container, owner.config.hostname),
                rootfs=rootfs,
                mounts=resolved,
                files=files,
                netns=netns,
                cgroup=self.settings.cgroup_of(cid, cfg.cgroup_parent),
                seccomp_profile=self.settings.seccomp_profile,
            )
            atomic_write(bundle / "config.json", json.dumps(spec).encode(), durable=False)
            if runtime.knows(cid):
                runtime.delete(cid, force=True)  # a leftover of a crash would block create
            pid = conmon.launch(
                runtime,
                cid,
                self.paths(cid),
                name=container.name,
                terminal=cfg.tty,
                stdin=cfg.stdin_open,
                log_size_max=cfg.log_size_max or conmon.DEFAULT_LOG_SIZE_MAX,
                keep_fds=self.on_held_ports(container) if netns is not None else (),
            )
            if netns is not None:
                # the network was set up while the runtime created the container
                self.on_network_ready(container)
                if owner is None:
                    self._write_hosts(container, files["/etc/hosts"])
            if before_start is not None:
                before_start(container)
            started_at = time.time()
            runtime.start(cid)
        except BaseException as exc:
            self._teardown(container)
            message = str(exc) if isinstance(exc, CaisError) else repr(exc)
            self.store.set_state(
                cid,
                status=EXITED if container.state.started_at else CREATED,
                error=message,
                exit_code=127,
                pid=0,
            )
            raise
        health = Health() if cfg.healthcheck and cfg.healthcheck.test[:1] != ("NONE",) else None
        started = self.store.set_state(
            cid,
            status=RUNNING,
            pid=pid,
            conmon_pid=conmon.conmon_pid(self.paths(cid)) or 0,
            started_at=started_at,
            finished_at=0.0,
            exit_code=0,
            oom_killed=False,
            error="",
            stopped_by_user=False,
            health=health,
        )
        self.ensure_monitor()
        return started

    def _warn_seccomp(self, container: Container) -> None:
        if self._seccomp_warned:
            return
        warning = missing_seccomp(container, self.settings.seccomp_profile)
        if warning is not None:
            self._seccomp_warned = True
            sys.stderr.write(warning + "\n")
            sys.stderr.flush()

    def _resolve_mounts(self, container: Container, rootfs: Path) -> list[ResolvedMount]:
        out = []
        for request in container.config.mounts:
            if request.type == "bind":
                if not os.path.exists(request.source):
                    raise CaisError(
                        f'invalid mount config for type "bind": bind source path does not '
                        f"exist: {request.source}"
                    )
                out.append(ResolvedMount(request.target, request.source, "bind", request.readonly))
            elif request.type == "tmpfs":
                out.append(
                    ResolvedMount(
                        request.target, "tmpfs", "tmpfs", request.readonly, request.options
                    )
                )
            else:
                volume = (
                    self.volumes.create(request.source or None)
                    if request.source
                    else self._anonymous_volume(container, request.target)
                )
                if "nocopy" not in request.options:
                    copy_up(rootfs, request.target, volume.mountpoint)
                out.append(
                    ResolvedMount(request.target, str(volume.mountpoint), "bind", request.readonly)
                )
        return out

    def _anonymous_volume(self, container: Container, target: str) -> Volume:
        name = anonymous_volume_name(container.id, target)
        return self.volumes.create(name, labels={"cais.anonymous": "true"})

    def _hosts_text(self, container: Container) -> str:
        return hosts_text(container.config.extra_hosts, self.on_files(container).get("hosts", ""))

    def _write_files(self, container: Container) -> dict[str, Path]:
        return write_etc_files(
            self.state_dir(container.id), container.config, self._hosts_text(container)
        )

    def _network_owner(self, container: Container) -> Container | None:
        """The container whose network ``--network container:NAME`` joins (None otherwise)."""
        mode = container.config.network
        if not mode.startswith("container:"):
            return None
        return self.store.resolve(mode.split(":", 1)[1])

    def _shared_files(self, owner: Container) -> dict[str, Path]:
        """Docker's rule: a container that joins another's network sees that container's
        hostname, hosts and resolv.conf (the same files, so later updates show too)."""
        return etc_files_of(self.state_dir(owner.id))

    def _write_hosts(self, container: Container, path: Path) -> None:
        rewrite_in_place(path, self._hosts_text(container))

    # exits

    def refresh(self, container: Container) -> Container:
        """Bring a container's record up to date if it exited while nobody was looking, and
        start the monitor again if it should watch the container but died (kill -9, OOM)."""
        fresh = self._refresh(container)
        if self.watch_monitor and needs_monitor(fresh):
            now = time.monotonic()
            if now - self._monitor_checked >= MONITOR_RECHECK:
                self._monitor_checked = now
                self.ensure_monitor()
        return fresh

    def _refresh(self, container: Container) -> Container:
        if container.state.status not in (RUNNING, PAUSED):
            return container
        paths = self.paths(container.id)
        if paths.exit_file.exists():
            return self.reconcile(container.id, blocking=False) or self.store.get(container.id)
        if container.state.conmon_pid and not alive(container.state.conmon_pid):
            return self.reconcile(container.id, blocking=False) or self.store.get(container.id)
        return container

    def reconcile(self, cid: str, *, blocking: bool = True) -> Container | None:
        """After an exit: record code and OOM, release the runtime, unmount, maybe restart."""
        with self.lock(cid, blocking=blocking) as locked:
            if not locked:
                return None
            return self._reconcile_locked(self.store.get(cid))

    def _reconcile_locked(self, container: Container) -> Container:
        if container.state.status not in (RUNNING, PAUSED):
            return container
        paths = self.paths(container.id)
        code, finished = read_exit(paths)
        if code is None and container.state.conmon_pid and alive(container.state.conmon_pid):
            return container  # still running
        oom = paths.oom_file.exists()
        self._teardown(container)
        updated = self.store.set_state(
            container.id,
            status=EXITED,
            pid=0,
            conmon_pid=0,
            exit_code=255 if code is None else code,
            oom_killed=oom,
            # the exit file's mtime comes from a coarse clock: never before the start
            finished_at=max(finished or time.time(), container.state.started_at),
        )
        return self._after_exit(updated)

    def _after_exit(self, container: Container) -> Container:
        policy = container.config.restart
        state = container.state
        restart = not state.stopped_by_user and (
            policy.name in ("always", "unless-stopped")
            or (
                policy.name == "on-failure"
                and state.exit_code != 0
                and (not policy.max_retries or state.restart_count < policy.max_retries)
            )
        )
        if restart:
            return self.store.set_state(container.id, status=RESTARTING)
        return container

    def _teardown(self, container: Container) -> None:
        cid = container.id
        runtime = self.runtime(container.config.runtime)
        # the network's CNI DELs take the longest: they run while the rest is given back
        detach = threading.Thread(target=self._detach_network, args=(container,))
        detach.start()
        if runtime.knows(cid):
            with contextlib.suppress(CaisError):
                runtime.delete(cid, force=True)
        rootfs = self.rootfs(cid)
        if mounts.is_mounted(rootfs):
            try:
                mounts.unmount(rootfs)
            except CaisError:
                mounts.unmount(rootfs, lazy=True)
        detach.join()
        paths = self.paths(cid)
        paths.exit_file.unlink(missing_ok=True)

    def _detach_network(self, container: Container) -> None:
        with contextlib.suppress(CaisError):
            self.on_network_detach(container)

    # stop, kill, restart

    def stop(self, cid: str, *, timeout: float | None = None) -> Container:
        """The stop signal, then SIGKILL after ``timeout`` seconds (the container's default)."""
        with self.lock(cid):
            container = self.store.resolve(cid)
            container = self._mark_stopped(container)
            if container.state.status == RESTARTING:
                return self.store.set_state(container.id, status=EXITED)
            if container.state.status not in (RUNNING, PAUSED):
                return container
            wait = container.config.stop_timeout if timeout is None else timeout
            self._signal(container, container.config.stop_signal)
            if not self._wait_exit(container, wait):
                self._signal(container, "SIGKILL", all_processes=True)
                self._wait_exit(container, 30)
            return self._reconcile_locked(self.store.get(container.id))

    def _mark_stopped(self, container: Container) -> Container:
        return self.store.set_state(container.id, stopped_by_user=True)

    def kill(self, cid: str, signal: str = "SIGKILL") -> Container:
        with self.lock(cid):
            container = self.refresh(self.store.resolve(cid))
            if container.state.status not in (RUNNING, PAUSED):
                raise ContainerNotRunningError(
                    f"Cannot kill container: {cid}: container {container.id} is not running"
                )
            if signal in ("SIGKILL", "SIGTERM", "SIGINT"):
                container = self._mark_stopped(container)
            self._signal(container, signal)
            if signal == "SIGKILL":
                self._wait_exit(container, 30)
                return self._reconcile_locked(self.store.get(container.id))
            return container

    def _signal(self, container: Container, signal: str, *, all_processes: bool = False) -> None:
        runtime = self.runtime(container.config.runtime)
        with contextlib.suppress(CaisError):
            runtime.kill(container.id, signal, all_processes=all_processes)
        if container.state.status == PAUSED:
            with contextlib.suppress(CaisError):
                runtime.resume(container.id)

    def _wait_exit(self, container: Container, timeout: float) -> bool:
        paths = self.paths(container.id)
        deadline = time.monotonic() + timeout
        delay = 0.002
        while time.monotonic() < deadline:
            if paths.exit_file.exists():
                return True
            if container.state.conmon_pid and not alive(container.state.conmon_pid):
                return True
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return paths.exit_file.exists()

    def wait(self, cid: str, *, timeout: float | None = None) -> Container:
        """Block until the container is not running; returns it (with its exit code)."""
        container = self.store.resolve(cid)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.002
        while True:
            container = self.refresh(self.store.get(container.id))
            if container.state.status in (EXITED, CREATED):
                return container
            if deadline is not None and time.monotonic() > deadline:
                return container
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def restart(self, cid: str, *, timeout: float | None = None) -> Container:
        container = self.stop(cid, timeout=timeout)
        return self.start(container.id)

    def pause(self, cid: str) -> Container:
        with self.lock(cid):
            container = self.refresh(self.store.resolve(cid))
            if container.state.status == PAUSED:
                raise ConflictError(f"Container {container.id} is already paused")
            if container.state.status != RUNNING:
                raise ContainerNotRunningError(f"Container {container.id} is not running")
            self.runtime(container.config.runtime).pause(container.id)
            return self.store.set_state(container.id, status=PAUSED)

    def unpause(self, cid: str) -> Container:
        with self.lock(cid):
            container = self.refresh(self.store.resolve(cid))
            if container.state.status != PAUSED:
                raise ConflictError(f"Container {container.id} is not paused")
            self.runtime(container.config.runtime).resume(container.id)
            return self.store.set_state(container.id, status=RUNNING)

    def rename(self, cid: str, name: str) -> None:
        container = self.store.resolve(cid)
        self.store.rename(container.id, name)

    # remove

    def remove(self, cid: str, *, force: bool = False, volumes: bool = False) -> Container:
        with self.lock(cid):
            container = self.refresh(self.store.resolve(cid))
            if container.state.status in (RUNNING, PAUSED, RESTARTING):
                if not force:
                    raise ConflictError(
                        f'cannot remove container "/{container.name}": container is '
                        f"{container.state.status}: stop the container before removing or "
                        "force remove"
                    )
                if container.state.status != RESTARTING:
                    container = self._mark_stopped(container)
                    self._signal(container, "SIGKILL", all_processes=True)
                    self._wait_exit(container, 30)
                container = self._reconcile_locked(self.store.get(container.id))
            self._teardown(container)
            with contextlib.suppress(NotFoundError):
                self.snapshotter.remove(snapshot_key(container.id))
            shutil.rmtree(self.state_dir(container.id), ignore_errors=True)
            shutil.rmtree(self.bundle(container.id), ignore_errors=True)
            self.on_remove(container)
            self.store.delete(container.id)
            if volumes:
                for request in container.config.mounts:
                    if request.type == "volume" and request.anonymous:
                        self.volumes.remove(
                            anonymous_volume_name(container.id, request.target), force=True
                        )
        (self.settings.runroot / "locks" / container.id).unlink(missing_ok=True)
        return container

    # the per-host monitor

    def ensure_monitor(self) -> None:
        from cais.runtime.monitor import ensure_running

        ensure_running(self.settings)

    def users_of_volume(self, name: str) -> list[str]:
        out = []
        for container in self.store.all():
            for request in container.config.mounts:
                if request.type != "volume":
                    continue
                vname = request.source or anonymous_volume_name(container.id, request.target)
                if vname == name:
                    out.append(container.id)
        return out


def _with_hostname(container: Container, hostname: str) -> Container:
    return replace(container, config=replace(container.config, hostname=hostname))
