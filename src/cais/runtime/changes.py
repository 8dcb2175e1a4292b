"""A container's read/write layer: ``diff`` (what changed) and ``commit`` (as a new image)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from cais.images.importer import apply_changes, commit_image, store_layer_from_dir
from cais.images.store import Image
from cais.layers.diff import is_whiteout_device
from cais.oci.config import HistoryEntry, rfc3339
from cais.oci.digest import Digest
from cais.oci.reference import Reference
from cais.runtime.lifecycle import ContainerService, snapshot_key
from cais.runtime.model import Container


def changes(service: ContainerService, container: Container) -> list[tuple[str, str]]:
    """("A"|"C"|"D", path) for every entry of the container's upper directory, sorted."""
    upper = service.snapshotter.upper_dir(snapshot_key(container.id))
    info = service.snapshotter.stat(snapshot_key(container.id))
    lowers = []
    parent = info.parent
    while parent:
        lowers.append(service.snapshotter.directory(parent))
        parent = service.snapshotter.stat(parent).parent
    out = []
    for rel, st in _walk(upper):
        if is_whiteout_device(st):
            out.append(("D", "/" + rel))
        elif any(os.path.lexists(lower / rel) for lower in lowers):
            out.append(("C", "/" + rel))
        else:
            out.append(("A", "/" + rel))
    return sorted(out, key=lambda item: item[1])


def _walk(root: Path, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        rel = prefix + entry.name
        yield rel, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(Path(entry.path), rel + "/")


def commit(
    service: ContainerService,
    container: Container,
    *,
    names: list[Reference],
    message: str = "",
    author: str = "",
    change: list[str] | None = None,
    pause: bool = True,
) -> Image:
    """``cais commit``: the container's changes as a new layer on top of its image."""
    images = service.images
    base = images.store.get(Digest.parse(container.config.image_id))
    paused = False
    if pause and container.state.status == "running":
        service.runtime(container.config.runtime).pause(container.id)
        paused = True
    try:
        upper = service.snapshotter.upper_dir(snapshot_key(container.id))
        with images.ingest_session() as lease:
            layer = store_layer_from_dir(images, upper, lease)
            cfg = container.config
            image_cfg = replace(
                base.config.config,
                env=cfg.env,
                cmd=cfg.cmd,
                entrypoint=cfg.entrypoint,
                working_dir=cfg.working_dir
                if cfg.working_dir != "/"
                else base.config.config.working_dir,
                user=cfg.user,
                labels=dict(cfg.labels),
            )
            image_cfg = apply_changes(image_cfg, change or [])
            created = rfc3339()
            config = replace(
                base.config, config=image_cfg, created=created, author=author or base.config.author
            ).with_layer(
                layer.diff_id,
                HistoryEntry(
                    created=created, created_by=" ".join(cfg.args), author=author, comment=message
                ),
            )
            manifest = images.store.read_manifest(base.manifest_digest)
            from cais.oci import mediatypes as mt

            layers = [
                (d.digest, d.size, mt.layer_compression(d.media_type) or "")
                for d in manifest.layers
            ]
            layers.append((layer.digest, layer.size, layer.compression))
            return commit_image(images, layers, config, lease, names=names)
    finally:
        if paused:
            service.runtime(container.config.runtime).resume(container.id)
