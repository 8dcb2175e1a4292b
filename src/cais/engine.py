"""The engine: the rooms of one cais root wired together (a library, no daemon).

Everything is created lazily so that a command pays only for what it touches.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from cais.settings import Settings
from cais.state.sqlite import Database

if TYPE_CHECKING:
    from cais.content.store import LocalContentStore
    from cais.images.service import ImageService
    from cais.images.store import ImageStore
    from cais.network.service import NetworkService
    from cais.runtime.lifecycle import ContainerService
    from cais.runtime.model import Container
    from cais.runtime.store import ContainerStore
    from cais.runtime.volumes import VolumeStore
    from cais.snapshots.overlay import OverlaySnapshotter


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        self.settings.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Database(self.settings.database)

    @cached_property
    def content(self) -> LocalContentStore:
        from cais.content.store import LocalContentStore

        return LocalContentStore(self.settings.root, self.db)

    @cached_property
    def snapshotter(self) -> OverlaySnapshotter:
        from cais.snapshots.overlay import OverlaySnapshotter

        return OverlaySnapshotter(self.settings.root, self.db)

    @cached_property
    def image_store(self) -> ImageStore:
        from cais.images.store import ImageStore

        return ImageStore(self.db, self.content)

    @cached_property
    def images(self) -> ImageService:
        from cais.images.service import ContainerUse, ImageService

        def users(image_id: object) -> list[ContainerUse]:
            return [
                ContainerUse(c.id, c.name, c.state.running)
                for c in self.container_store.using_image(str(image_id))
            ]

        return ImageService(
            self.image_store,
            self.content,
            self.snapshotter,
            locks=self.settings.root / "locks",
            users=users,
        )

    @cached_property
    def container_store(self) -> ContainerStore:
        from cais.runtime.store import ContainerStore

        return ContainerStore(self.db)

    @cached_property
    def volumes(self) -> VolumeStore:
        from cais.runtime.volumes import VolumeStore

        store = VolumeStore(self.settings.root, self.db)

        def users(name: str) -> list[str]:
            return self.containers.users_of_volume(name)  # resolved lazily: no cycle

        store.users = users
        return store

    @cached_property
    def containers(self) -> ContainerService:
        from cais.runtime.lifecycle import ContainerService

        service = ContainerService(
            self.settings,
            self.container_store,
            lambda: self.images,
            self.snapshotter,
            self.volumes,
            image_store=self.image_store,
        )

        # the network room plugs in here; it is imported only when a container uses it
        # containers of the host's network or of none (crun's own namespace) never touch it
        def networked(c: Container) -> bool:
            return c.config.network not in ("host", "none")

        service.on_create = lambda c: self.networks.record(c) if networked(c) else None
        service.on_remove = lambda c: self.networks.forget(c.id) if networked(c) else None
        service.on_network_attach = lambda c: self.networks.attach(c) if networked(c) else None
        service.on_network_ready = lambda c: self.networks.ready(c) if networked(c) else None
        service.on_held_ports = lambda c: self.networks.held_ports(c) if networked(c) else ()
        service.on_network_detach = lambda c: self.networks.detach(c) if networked(c) else None
        service.on_files = lambda c: {"hosts": self.networks.hosts_lines(c)} if networked(c) else {}
        return service

    @cached_property
    def networks(self) -> NetworkService:
        from cais.network.service import NetworkService
        from cais.network.store import NetworkStore

        return NetworkService(self.settings, NetworkStore(self.db), self.container_store)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()
