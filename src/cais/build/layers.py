"""A step's result as an image: its snapshot becomes a layer, its state a config.

A step that changed files leaves them in an active snapshot's upper directory. Its
layer tar is written once, straight from that directory (whiteouts included), and the
snapshot itself is committed under the layer's chain ID, so the files are never
extracted again. Every step's result is recorded as an *intermediate* image (hidden
from ``cais images``, shown by ``cais images -a``): the cache points at it, and a RUN's
container is created from it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cais.build.state import StageState
from cais.content.store import Lease
from cais.errors import NotFoundError
from cais.fsutil import syncfs
from cais.images.importer import commit_image
from cais.images.service import ImageService
from cais.images.store import Image
from cais.images.unpack import DIFF_ID_LABEL, SIZE_LABEL
from cais.layers.diff import write_layer
from cais.oci import mediatypes as mt
from cais.oci.config import HistoryEntry, ImageConfig, chain_ids, rfc3339
from cais.oci.digest import Digest
from cais.oci.platform import host_platform
from cais.snapshots.types import SnapshotError, Snapshotter

LayerRef = tuple[Digest, int, str]  # blob digest, size, compression


@dataclass(frozen=True)
class StepImage:
    """An image a stage is at: the record and its manifest's layers (for the next one)."""

    image: Image
    layers: tuple[LayerRef, ...]

    @property
    def id(self) -> Digest:
        return self.image.id

    @property
    def config(self) -> ImageConfig:
        return self.image.config

    @property
    def top(self) -> str | None:
        """The committed snapshot of the top layer (None for an image with no layers)."""
        chain = chain_ids(self.image.config.diff_ids)
        return str(chain[-1]) if chain else None


class ImageWriter:
    """Records step results as intermediate images, under one lease for the whole build."""

    def __init__(
        self,
        images: ImageService,
        snapshotter: Snapshotter,
        lease: Lease,
        *,
        compression: str = "",
    ) -> None:
        self.images = images
        self.snapshotter = snapshotter
        self.lease = lease
        self.compression = compression

    def load(self, image: Image) -> StepImage:
        manifest = self.images.store.read_manifest(image.manifest_digest)
        layers = tuple(
            (d.digest, d.size, mt.layer_compression(d.media_type) or "") for d in manifest.layers
        )
        return StepImage(image, layers)

    def scratch(self) -> StepImage:
        """An image with no layers and no history: where ``FROM scratch`` starts."""
        plat = host_platform()
        config = ImageConfig(architecture=plat.architecture, os=plat.os, variant=plat.variant)
        return self._record(config, ())

    def _record(
        self, config: ImageConfig, layers: Sequence[LayerRef], *, intermediate: bool = True
    ) -> StepImage:
        image = commit_image(
            self.images, list(layers), config, self.lease, intermediate=intermediate
        )
        return StepImage(image, tuple(layers))

    def _config(self, parent: StepImage, state: StageState, created: str) -> ImageConfig:
        return replace(
            parent.config,
            config=state.config,
            author=state.author,
            created=created,
        )

    def commit_config(self, parent: StepImage, state: StageState, history: str) -> StepImage:
        """A step that changed only the config (or a file step that changed nothing)."""
        created = rfc3339()
        config = self._config(parent, state, created)
        config = replace(
            config,
            history=(
                *parent.config.history,
                HistoryEntry(created=created, created_by=history, empty_layer=True),
            ),
        )
        return self._record(config, parent.layers)

    def commit_snapshot(
        self, parent: StepImage, key: str, state: StageState, history: str
    ) -> StepImage:
        """The active snapshot ``key`` (a child of ``parent``'s top) as the step's layer.

        The snapshot is committed under the new chain ID, or removed when that layer
        exists already; an empty upper directory gives no layer at all.
        """
        upper = self.snapshotter.upper_dir(key)
        if not any(os.scandir(upper)):
            self._discard(key)
            return self.commit_config(parent, state, history)
        with self.images.content.writer(lease=self.lease) as blob:
            written = write_layer(upper, blob, compression=self.compression)
            blob.commit(written.digest, written.size)
        diff_ids = (*parent.config.diff_ids, written.diff_id)
        chain = str(chain_ids(diff_ids)[-1])
        labels = {SIZE_LABEL: str(written.uncompressed_size), DIFF_ID_LABEL: str(written.diff_id)}
        try:
            syncfs(upper)
            self.snapshotter.commit(chain, key, labels=labels)
        except SnapshotError:
            if not _exists(self.snapshotter, chain):
                raise
            self._discard(key)  # the same layer was made before: keep that one
        created = rfc3339()
        config = self._config(parent, state, created)
        config = replace(
            config,
            diff_ids=diff_ids,
            history=(*parent.config.history, HistoryEntry(created=created, created_by=history)),
        )
        layer = (written.digest, written.size, written.compression)
        return self._record(config, (*parent.layers, layer))

    def finish(self, result: StepImage, *, labels: dict[str, str] | None = None) -> StepImage:
        """The build's image: ``--label`` values added, recorded as a named image.

        It keeps the last step's creation time, so the same build gives the same ID.
        """
        if labels:
            cfg = result.config.config
            config = replace(result.config, config=replace(cfg, labels={**cfg.labels, **labels}))
            return self._record(config, result.layers, intermediate=False)
        manifest = self.images.content.read(result.image.manifest_digest)
        image = self.images.add_manifest(manifest, lease=self.lease, intermediate=False)
        return StepImage(image, result.layers)

    def _discard(self, key: str) -> None:
        try:
            self.snapshotter.remove(key)
        except NotFoundError:
            pass


def _exists(snapshotter: Snapshotter, key: str) -> bool:
    try:
        snapshotter.stat(key)
    except NotFoundError:
        return False
    return True
