"""Unpack an image's layers into committed snapshots named by chain ID.

Each layer is applied in its own active snapshot and committed only after its diff ID
checks out against the config; a crash mid-way leaves an ``extract-`` snapshot that the
next unpack of that layer discards.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from cais.content.store import ContentStore, Lease
from cais.errors import NotFoundError
from cais.fsutil import syncfs
from cais.layers.apply import LayerError, apply_layer
from cais.oci import mediatypes as mt
from cais.oci.config import ImageConfig, chain_ids
from cais.oci.digest import Digest
from cais.oci.manifest import Manifest
from cais.snapshots.types import Snapshotter

SIZE_LABEL = "cais.layer.size"
DIFF_ID_LABEL = "cais.layer.diff-id"


def unpack(
    content: ContentStore,
    snapshotter: Snapshotter,
    manifest: Manifest,
    config: ImageConfig,
    *,
    locks: Path,
    lease: Lease,
    trusted: bool = False,
) -> Digest | None:
    """Make sure every layer is a committed snapshot; returns the top chain ID.

    Each chain ID is put under ``lease`` before it is looked at, so a concurrent GC cannot
    remove a layer between here and the moment the caller records the image.
    """
    parent: str | None = None
    top: Digest | None = None
    for desc, diff_id, chain_id in zip(
        manifest.layers, config.diff_ids, chain_ids(config.diff_ids), strict=True
    ):
        name = str(chain_id)
        content.hold_snapshot(lease, name)
        if not _committed(snapshotter, name):
            with _lock(locks, chain_id):
                if not _committed(snapshotter, name):
                    _extract(
                        content,
                        snapshotter,
                        blob=desc.digest,
                        media_type=desc.media_type,
                        diff_id=diff_id,
                        name=name,
                        parent=parent,
                        trusted=trusted,
                    )
        parent, top = name, chain_id
    return top


def _committed(snapshotter: Snapshotter, name: str) -> bool:
    try:
        snapshotter.stat(name)
    except NotFoundError:
        return False
    return True


def _extract(
    content: ContentStore,
    snapshotter: Snapshotter,
    *,
    blob: Digest,
    media_type: str,
    diff_id: Digest,
    name: str,
    parent: str | None,
    trusted: bool,
) -> None:
    key = f"extract-{name}"
    if _committed(snapshotter, key):
        snapshotter.remove(key)  # left by a process that died mid-extract
    snapshotter.prepare(key, parent)
    try:
        upper = snapshotter.upper_dir(key)
        compression = mt.layer_compression(media_type)
        with content.open(blob) as fh:
            applied = apply_layer(fh, upper, compression=compression or None, trusted=trusted)
        if applied.diff_id != diff_id:
            raise LayerError(
                f"layer {blob}: its content has diff ID {applied.diff_id}, "
                f"the image config says {diff_id}"
            )
        syncfs(upper)
        snapshotter.commit(
            name, key, labels={SIZE_LABEL: str(applied.size), DIFF_ID_LABEL: str(diff_id)}
        )
    except BaseException:
        with contextlib.suppress(Exception):
            snapshotter.remove(key)
        raise


def layer_size(snapshotter: Snapshotter, chain_id: Digest) -> int:
    try:
        info = snapshotter.stat(str(chain_id))
    except NotFoundError:
        return 0
    return int(info.labels.get(SIZE_LABEL, "0"))


@contextlib.contextmanager
def _lock(locks: Path, chain_id: Digest) -> Iterator[None]:
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / f"unpack-{chain_id.encoded[:32]}", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
