"""Images made here rather than pulled: ``import`` of a root filesystem tar, ``commit``-style
layers from a directory, and the config changes ``--change`` accepts.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from cais.content.store import Lease
from cais.errors import InvalidArgumentError
from cais.images.service import ImageService, docker_manifest
from cais.images.store import Image
from cais.layers.compression import HashingWriter, compressed_writer, decompressed_reader
from cais.layers.diff import WrittenLayer, write_layer
from cais.oci.config import ContainerConfig, HistoryEntry, ImageConfig, rfc3339
from cais.oci.digest import Digest
from cais.oci.platform import host_platform
from cais.oci.reference import Reference
from cais.streams import Reader

LAYER_COMPRESSION = "gzip"
LAYER_LEVEL = 1  # fast: layers made here are compressed again only when pushed


def new_config(*, created: str | None = None, config: ContainerConfig | None = None) -> ImageConfig:
    plat = host_platform()
    return ImageConfig(
        architecture=plat.architecture,
        os=plat.os,
        variant=plat.variant,
        config=config or ContainerConfig(),
        created=created or rfc3339(),
    )


def store_layer_from_stream(service: ImageService, stream: Reader, lease: Lease) -> WrittenLayer:
    """Compress a (possibly compressed) tar stream into the content store."""
    plain = decompressed_reader(stream)
    with service.content.writer(lease=lease) as blob:
        outer = HashingWriter(blob)
        compressor = compressed_writer(outer, LAYER_COMPRESSION, LAYER_LEVEL)
        inner = HashingWriter(compressor)
        while chunk := plain.read(1 << 20):
            inner.write(chunk)
        compressor.close()
        info = blob.commit()
    return WrittenLayer(inner.digest(), info.digest, info.size, inner.count, LAYER_COMPRESSION)


def store_layer_from_dir(
    service: ImageService,
    source: Path,
    lease: Lease,
    *,
    overlay_whiteouts: bool = True,
    owner: tuple[int, int] | None = None,
    mtime: int | None = None,
) -> WrittenLayer:
    with service.content.writer(lease=lease) as blob:
        written = write_layer(
            source,
            blob,
            compression=LAYER_COMPRESSION,
            level=LAYER_LEVEL,
            overlay_whiteouts=overlay_whiteouts,
            owner=owner,
            mtime=mtime,
        )
        blob.commit(written.digest, written.size)
    return written


def commit_image(
    service: ImageService,
    layers: Sequence[tuple[Digest, int, str]],
    config: ImageConfig,
    lease: Lease,
    *,
    names: Iterable[Reference] = (),
    intermediate: bool = False,
) -> Image:
    """Record an image whose blobs are in the store: ``layers`` are (digest, size, compression)."""
    config_bytes = config.to_bytes()
    info = service.content.put(config_bytes, lease=lease)
    manifest = docker_manifest(info.digest, info.size, list(layers))
    return service.add_manifest(
        manifest.to_bytes(), names=list(names), lease=lease, intermediate=intermediate
    )


def import_rootfs(
    service: ImageService,
    stream: Reader,
    *,
    names: Iterable[Reference] = (),
    changes: Sequence[str] = (),
    message: str = "",
    source: str = "-",
) -> Image:
    """``cais import``: a one-layer image from a root filesystem tar (gzip/zstd accepted)."""
    with service.ingest_session() as lease:
        layer = store_layer_from_stream(service, stream, lease)
        created = rfc3339()
        config = new_config(created=created, config=apply_changes(ContainerConfig(), changes))
        config = config.with_layer(
            layer.diff_id,
            HistoryEntry(
                created=created, created_by="", comment=message or f"Imported from {source}"
            ),
        )
        return commit_image(
            service,
            [(layer.digest, layer.size, layer.compression)],
            config,
            lease,
            names=names,
        )


_CHANGE_KEYS = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
)


def _words(value: str) -> tuple[str, ...]:
    value = value.strip()
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return tuple(parsed)
    return ("/bin/sh", "-c", value)


def _pairs(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    tokens = shlex.split(value)
    if len(tokens) >= 1 and "=" not in tokens[0]:
        key, _, rest = value.strip().partition(" ")
        return {key: rest.strip()}
    for token in tokens:
        key, eq, val = token.partition("=")
        if not eq or not key:
            raise InvalidArgumentError(f"invalid key=value {token!r}")
        out[key] = val
    return out


def apply_changes(config: ContainerConfig, changes: Sequence[str]) -> ContainerConfig:
    """Apply ``--change`` instructions (a Dockerfile subset) to an image's config."""
    for change in changes:
        keyword, _, value = change.strip().partition(" ")
        keyword = keyword.upper()
        if keyword not in _CHANGE_KEYS:
            raise InvalidArgumentError(
                f"invalid --change {change!r}: {keyword} is not one of {', '.join(_CHANGE_KEYS)}"
            )
        if keyword == "CMD":
            config = replace(config, cmd=_words(value))
        elif keyword == "ENTRYPOINT":
            config = replace(config, entrypoint=_words(value))
        elif keyword == "ENV":
            env = config.env_map()
            env.update(_pairs(value))
            config = replace(config, env=tuple(f"{k}={v}" for k, v in env.items()))
        elif keyword == "LABEL":
            config = replace(config, labels={**config.labels, **_pairs(value)})
        elif keyword == "EXPOSE":
            ports = set(config.exposed_ports)
            for port in value.split():
                ports.add(port if "/" in port else f"{port}/tcp")
            config = replace(config, exposed_ports=tuple(sorted(ports)))
        elif keyword == "VOLUME":
            vols = set(config.volumes) | set(
                _words(value) if value.strip().startswith("[") else value.split()
            )
            config = replace(config, volumes=tuple(sorted(vols)))
        elif keyword == "USER":
            config = replace(config, user=value.strip())
        elif keyword == "WORKDIR":
            config = replace(config, working_dir=value.strip())
        elif keyword == "STOPSIGNAL":
            config = replace(config, stop_signal=value.strip())
        elif keyword == "ONBUILD":
            config = replace(config, on_build=(*config.on_build, value.strip()))
    return config
