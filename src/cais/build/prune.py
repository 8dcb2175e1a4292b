"""``cais builder prune``: forget the build cache and the intermediate images it kept."""

from __future__ import annotations

from typing import Protocol

from cais.build.cache import BuildCache
from cais.images.service import ImageService
from cais.state.sqlite import Database


class PruneEngine(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def images(self) -> ImageService: ...


def prune_build_cache(engine: PruneEngine) -> tuple[int, int]:
    """Remove untagged intermediate images no container uses; (images removed, bytes freed)."""
    images = engine.images
    before = images.disk_usage()
    removed = 0
    for image in images.store.all():
        if not image.intermediate or image.tags or images.users(image.id):
            continue
        images.store.delete(image.id)
        removed += 1
    cache = BuildCache(engine.db)
    cache.drop_images(cache.image_ids())
    images.gc()
    return removed, max(0, before - images.disk_usage())
