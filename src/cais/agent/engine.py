"""The agent's seam to the engine: what a task supervisor asks of containers.

:class:`TaskEngine` is all a supervisor needs (images, containers, volumes, the pause
container of an awsvpc task); :class:`CaisEngine` does it with the cais engine of this
machine's root. Every method blocks: the agent calls them on worker threads. Unit tests
give the supervisor a fake.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cais.agent.protocol import NetworkBinding, RegistryAuth
from cais.errors import CaisError, ConflictError, NotFoundError
from cais.runtime.configure import RunOptions

if TYPE_CHECKING:
    from cais.engine import Engine
    from cais.images.store import Image

PAUSE_IMAGE = "cais.local/ecs-pause:1"  # made on this machine, never pulled
PAUSE_BINARY = Path("/usr/bin/catatonit")  # -P: pause mode (sleeps, reaps, exits on TERM)
PULL_BEHAVIORS = ("default", "always", "once", "prefer-cached")


class ImagePullError(CaisError):
    """The image could not be had; the message names it (``CannotPullContainerError``)."""


@dataclass(frozen=True)
class ContainerView:
    """A container as the engine sees it now."""

    status: str  # created, running, exited, missing
    exit_code: int | None = None
    health: str = ""  # healthy, unhealthy, starting, "" (no health check)
    oom_killed: bool = False
    error: str = ""
    bindings: tuple[NetworkBinding, ...] = ()
    address: str = ""  # its first network address (bridge peers, awsvpc task address)


class TaskEngine(Protocol):
    def ensure_image(self, image: str, auth: RegistryAuth | None) -> str:
        """The image present locally (pulled as the pull behaviour says); its digest."""
        ...

    def create(self, name: str, image: str, options: RunOptions) -> str:
        """A new container (not started); returns its ID."""
        ...

    def start(self, cid: str) -> ContainerView: ...

    def inspect(self, cid: str) -> ContainerView: ...

    def stop(self, cid: str, timeout: float) -> ContainerView:
        """The stop signal, SIGKILL after ``timeout`` seconds."""
        ...

    def remove(self, cid: str) -> None: ...

    def create_volume(self, name: str, *, labels: dict[str, str]) -> None: ...

    def volume_exists(self, name: str) -> bool: ...

    def remove_volume(self, name: str) -> None: ...

    def group_path(self, name: str) -> str:
        """The cgroup path of the group ``name`` (what containers get as cgroup parent)."""
        ...

    def create_group(self, name: str, cpu_units: int | None, memory_mib: int | None) -> None:
        """A cgroup for a task's containers with the task's limits."""

    def remove_group(self, name: str) -> None: ...

    def start_pause(self, name: str, labels: dict[str, str], network: str) -> tuple[str, str]:
        """Run a pause container on ``network``: (its ID, its address)."""
        ...

    def log_path(self, cid: str) -> Path: ...


class CaisEngine:
    """:class:`TaskEngine` over the cais engine of one root."""

    def __init__(self, engine: Engine, *, pull_behavior: str = "prefer-cached") -> None:
        if pull_behavior not in PULL_BEHAVIORS:
            raise CaisError(
                f"unknown image pull behaviour {pull_behavior!r}: one of {PULL_BEHAVIORS}"
            )
        self.engine = engine
        self.pull_behavior = pull_behavior

    # images

    def ensure_image(self, image: str, auth: RegistryAuth | None) -> str:
        from cais.images.store import ImageNotFoundError

        local = None
        with contextlib.suppress(ImageNotFoundError, CaisError):
            local = self.engine.image_store.resolve(image)
        if local is not None and self.pull_behavior in ("prefer-cached", "once"):
            return str(local.manifest_digest)
        try:
            pulled = self._pull(image, auth)
        except CaisError as exc:
            if local is not None and self.pull_behavior == "default":
                return str(local.manifest_digest)  # ECS's default: fall back to the cache
            raise ImagePullError(
                f"CannotPullContainerError: pull image {image}: {exc}".rstrip()
            ) from exc
        return str(pulled.manifest_digest)

    def _pull(self, image: str, auth: RegistryAuth | None) -> Image:
        from cais.distribution import Credential, pull

        credential = Credential(auth.username, auth.password) if auth is not None else None
        return pull(self.engine, image, auth=credential)

    # containers

    def create(self, name: str, image: str, options: RunOptions) -> str:
        from cais.runtime.configure import configure

        for request in options.mounts:
            if request.type == "bind" and not os.path.exists(request.source):
                os.makedirs(request.source, mode=0o755, exist_ok=True)  # as Docker's -v does
        found = self.engine.image_store.resolve(image)
        config = configure(found, image, options)
        return self.engine.containers.create(config, name=name).id

    def start(self, cid: str) -> ContainerView:
        self.engine.containers.start(cid)
        return self.inspect(cid)

    def inspect(self, cid: str) -> ContainerView:
        service = self.engine.containers
        found = service.store.find(cid)
        if found is None:
            return ContainerView("missing")
        container = service.refresh(found)
        state = container.state
        status = {"paused": "running", "restarting": "running"}.get(state.status, state.status)
        exit_code = state.exit_code if status == "exited" else None
        bindings: list[NetworkBinding] = []
        address = ""
        if container.config.network not in ("none",) and status == "running":
            networks = self.engine.networks
            for mapping in networks.ports_of(cid):
                bindings.append(
                    NetworkBinding(
                        mapping.container_port,
                        mapping.host_port,
                        mapping.protocol,
                        mapping.host_ip or "0.0.0.0",
                    )
                )
            endpoints = networks.store.endpoints(container_id=cid)
            address = endpoints[0].ip if endpoints else ""
        return ContainerView(
            status=status,
            exit_code=exit_code,
            health=state.health.status if state.health is not None else "",
            oom_killed=state.oom_killed,
            error=state.error,
            bindings=tuple(bindings),
            address=address,
        )

    def stop(self, cid: str, timeout: float) -> ContainerView:
        with contextlib.suppress(NotFoundError):
            self.engine.containers.stop(cid, timeout=timeout)
        return self.inspect(cid)

    def remove(self, cid: str) -> None:
        with contextlib.suppress(NotFoundError):
            self.engine.containers.remove(cid, force=True, volumes=True)

    def log_path(self, cid: str) -> Path:
        return self.engine.containers.log_path(cid)

    # volumes

    def create_volume(self, name: str, *, labels: dict[str, str]) -> None:
        self.engine.volumes.create(name, labels=labels)

    def volume_exists(self, name: str) -> bool:
        return self.engine.volumes.find(name) is not None

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            self.engine.volumes.remove(name, force=True)

    # task-level limits

    def group_path(self, name: str) -> str:
        return f"{self.engine.settings.cgroup_parent.strip('/')}/{name}"

    def create_group(self, name: str, cpu_units: int | None, memory_mib: int | None) -> None:
        from cais.runtime.cgroupgroups import create_group

        create_group(
            self.group_path(name),
            cpu_units=cpu_units,
            memory_bytes=memory_mib << 20 if memory_mib else None,
        )

    def remove_group(self, name: str) -> None:
        from cais.runtime.cgroupgroups import remove_group

        remove_group(self.group_path(name))

    # awsvpc

    def start_pause(self, name: str, labels: dict[str, str], network: str) -> tuple[str, str]:
        self._ensure_network(network)
        self._ensure_pause_image()
        options = RunOptions(
            labels=labels,
            network=network,
            no_healthcheck=True,
            stop_timeout=2,
            runtime=self.engine.settings.runtime,
        )
        cid = self.create(name, PAUSE_IMAGE, options)
        view = self.start(cid)
        return cid, view.address

    def _ensure_network(self, name: str) -> None:
        networks = self.engine.networks
        if networks.store.find(name) is None:
            with contextlib.suppress(ConflictError):  # another task made it meanwhile
                networks.create(name, labels={"com.amazonaws.ecs.network-mode": "awsvpc"})

    def _ensure_pause_image(self) -> None:
        from cais.images.store import ImageNotFoundError

        try:
            self.engine.image_store.resolve(PAUSE_IMAGE)
        except ImageNotFoundError:
            make_pause_image(self.engine)


def make_pause_image(engine: Engine, binary: Path = PAUSE_BINARY) -> None:
    """An image of one static binary that holds a network namespace and does nothing else
    (the ECS agent's ``amazon/amazon-ecs-pause``); catatonit ships in Debian."""
    from cais.images.importer import commit_image, new_config, store_layer_from_dir
    from cais.oci.config import ContainerConfig, HistoryEntry
    from cais.oci.reference import parse_reference

    if not binary.exists():
        raise CaisError(f"{binary} is missing: install Debian's catatonit (awsvpc tasks need it)")
    service = engine.images
    with tempfile.TemporaryDirectory(prefix="cais-pause-") as tmp:
        root = Path(tmp)
        for directory in ("dev", "proc", "sys", "etc"):
            (root / directory).mkdir()
        shutil.copyfile(binary, root / "pause")
        (root / "pause").chmod(0o755)
        for name in ("passwd", "group", "hostname", "hosts", "resolv.conf"):
            (root / "etc" / name).write_text("root:x:0:0::/:/pause\n" if name == "passwd" else "")
        with service.ingest_session() as lease:
            layer = store_layer_from_dir(
                service, root, lease, overlay_whiteouts=False, owner=(0, 0), mtime=0
            )
            config = new_config(
                config=ContainerConfig(entrypoint=("/pause",), cmd=("-P",))
            ).with_layer(layer.diff_id, HistoryEntry(created_by="cais agent: pause (catatonit)"))
            commit_image(
                service,
                [(layer.digest, layer.size, layer.compression)],
                config,
                lease,
                names=[parse_reference(PAUSE_IMAGE)],
            )
