"""``save`` and ``load``: image archives as Docker and Podman read and write them.

``save`` writes one tar that is both a docker-archive (``manifest.json``) and an OCI
image layout (``oci-layout``, ``index.json``, ``blobs/``), as Docker 25+ does, with
uncompressed layers. ``load`` reads either (also gzip-compressed), verifying every blob.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cais.content.store import BlobInfo, Lease
from cais.errors import InvalidArgumentError
from cais.images.service import ImageService, docker_manifest
from cais.images.store import Image
from cais.layers.compression import HashingReader, decompressed_reader, detect_compression
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest, DigestError
from cais.oci.manifest import (
    Descriptor,
    Index,
    Manifest,
    ManifestError,
    canonical_json,
    load_json,
    parse_manifest,
)
from cais.oci.platform import host_platform
from cais.oci.reference import Reference, ReferenceError, parse_reference
from cais.streams import Reader, Writer, open_tar_stream

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
_SMALL = 4 << 20


class ArchiveError(InvalidArgumentError):
    """An archive that is not a valid docker-archive or OCI archive."""


@dataclass(frozen=True)
class Loaded:
    image: Image
    names: tuple[Reference, ...]


# saving


def save(
    service: ImageService, items: Iterable[tuple[Image, list[Reference]]], out: Writer
) -> None:
    """Write ``items`` (image, names to record) as one archive to ``out``."""
    tar = open_tar_stream(out, "w|", format=tarfile.PAX_FORMAT)
    try:
        _add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}))
        written: set[Digest] = set()
        index_entries: list[dict[str, Any]] = []
        docker_entries: list[dict[str, Any]] = []
        for image, names in items:
            manifest = service.store.read_manifest(image.manifest_digest)
            config_bytes = service.content.read(image.id)
            if image.id not in written:
                _add_bytes(tar, _blob_path(image.id), config_bytes)
                written.add(image.id)
            layers: list[Descriptor] = []
            sizes = service.layer_sizes(image.config)
            for desc, diff_id, size in zip(
                manifest.layers, image.config.diff_ids, sizes, strict=True
            ):
                if diff_id not in written:
                    _add_layer(service, tar, desc, diff_id, size)
                    written.add(diff_id)
                layers.append(Descriptor(mt.OCI_LAYER, diff_id, size))
            oci = Manifest(
                media_type=mt.OCI_MANIFEST,
                config=Descriptor(mt.OCI_CONFIG, image.id, len(config_bytes)),
                layers=tuple(layers),
            )
            oci_bytes = oci.to_bytes()
            oci_digest = Digest.from_bytes(oci_bytes)
            if oci_digest not in written:
                _add_bytes(tar, _blob_path(oci_digest), oci_bytes)
                written.add(oci_digest)
            base = {"mediaType": mt.OCI_MANIFEST, "digest": str(oci_digest), "size": len(oci_bytes)}
            tagged = [n for n in names if n.tag]
            for name in tagged:
                index_entries.append(
                    {**base, "annotations": {CONTAINERD_NAME: str(name), REF_NAME: name.tag}}
                )
            if not tagged:
                index_entries.append(base)
            docker_entries.append(
                {
                    "Config": _blob_path(image.id),
                    "RepoTags": [n.familiar() for n in tagged],
                    "Layers": [_blob_path(d.digest) for d in layers],
                }
            )
        _add_bytes(
            tar,
            "index.json",
            canonical_json(
                {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_entries}
            ),
        )
        _add_bytes(tar, "manifest.json", canonical_json(docker_entries))
    finally:
        tar.close()


def _blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.encoded}"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_layer(
    service: ImageService, tar: tarfile.TarFile, desc: Descriptor, diff_id: Digest, size: int
) -> None:
    info = tarfile.TarInfo(_blob_path(diff_id))
    info.size = size
    info.mode = 0o644
    compression = mt.layer_compression(desc.media_type)
    with service.content.open(desc.digest) as raw:
        reader = HashingReader(decompressed_reader(raw, compression or None))
        tar.addfile(info, reader)
        if reader.count != size or reader.digest() != diff_id:
            raise ArchiveError(f"layer {desc.digest} does not match its diff ID {diff_id}")


# loading


class _Reader:
    """Reads an archive once, sequentially, ingesting every file into the content store."""

    def __init__(self, service: ImageService, lease: Lease) -> None:
        self.service = service
        self.lease = lease
        self.files: dict[str, BlobInfo] = {}
        self.small: dict[str, bytes] = {}
        self.links: dict[str, str] = {}

    def read(self, stream: Reader) -> None:
        try:
            plain = decompressed_reader(stream)
            with open_tar_stream(plain, "r|") as tar:
                for member in tar:
                    self._member(tar, member)
        except tarfile.ReadError as exc:
            if "unexpected end" in str(exc):
                raise ArchiveError(f"archive is truncated ({exc})") from None
            raise ArchiveError(f"not a valid image archive: {exc}") from None
        except (EOFError, tarfile.TarError, OSError) as exc:
            if isinstance(exc, InvalidArgumentError):
                raise
            raise ArchiveError(
                f"archive is truncated or corrupt: {exc or type(exc).__name__}"
            ) from None

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
        if member.issym() or member.islnk():
            base = posixpath.dirname(name) if member.issym() else ""
            self.links[name] = posixpath.normpath(posixpath.join(base, member.linkname))
            return
        if not member.isreg():
            return
        source = tar.extractfile(member)
        assert source is not None
        self.add(name, source, member.size)

    def add(self, name: str, source: Reader, size: int) -> None:
        """Ingest one file of the archive (blobs are checked against their names)."""
        expected = None
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "blobs":
            try:
                expected = Digest.parse(f"{parts[1]}:{parts[2]}")
            except DigestError:
                expected = None
        if size <= _SMALL:
            data = source.read(size)
            if len(data) != size:
                raise ArchiveError(f"archive is truncated inside {name!r}")
            self.small[name] = data
            source = io.BytesIO(data)
        try:
            info = self.service.content.ingest(
                source, expected=expected, size=size, lease=self.lease
            )
        except InvalidArgumentError as exc:
            raise ArchiveError(f"archive entry {name!r}: {exc}") from None
        self.files[name] = info

    def resolve(self, path: str) -> BlobInfo:
        seen = 0
        path = posixpath.normpath(path)
        while path in self.links and seen < 16:
            path, seen = self.links[path], seen + 1
        info = self.files.get(path)
        if info is None:
            raise ArchiveError(f"archive names {path!r}, which it does not contain")
        return info

    def text(self, path: str) -> Any:
        data = self.small.get(path)
        if data is None:
            raise ArchiveError(f"archive has no {path!r}")
        try:
            return load_json(data, path)
        except ManifestError as exc:
            raise ArchiveError(str(exc)) from None


def load(service: ImageService, stream: Reader) -> list[Loaded]:
    """Read a docker-archive or OCI archive; nothing is recorded unless all of it is sound."""
    with service.ingest_session() as lease:
        reader = _Reader(service, lease)
        reader.read(stream)
        return _record(service, reader, lease)


def load_directory(service: ImageService, layout: Path) -> list[Loaded]:
    """Read an OCI image layout directory (as ``skopeo copy … oci:DIR`` writes)."""
    with service.ingest_session() as lease:
        reader = _Reader(service, lease)
        for path in sorted(layout.rglob("*")):
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as fh:
                    reader.add(path.relative_to(layout).as_posix(), fh, path.stat().st_size)
        return _record(service, reader, lease)


def _record(service: ImageService, reader: _Reader, lease: Lease) -> list[Loaded]:
    if "index.json" in reader.small:
        plans = _oci_plans(service, reader)
    elif "manifest.json" in reader.small:
        plans = _docker_plans(service, reader)
    else:
        raise ArchiveError(
            "archive has neither index.json nor manifest.json: not a docker or OCI archive"
        )
    # check every image before recording any, so that a bad archive records nothing
    for manifest_bytes, _ in plans:
        parsed = parse_manifest(manifest_bytes)
        assert isinstance(parsed, Manifest)
        service.store.validate(parsed)
        _verify_layers(service, parsed)
    loaded = []
    for manifest_bytes, names in plans:
        image = service.add_manifest(manifest_bytes, names=names, lease=lease)
        loaded.append(Loaded(image, tuple(names)))
    return loaded


def _verify_layers(service: ImageService, manifest: Manifest) -> None:
    """Uncompressed layers must hash to their diff IDs (the rest is checked on unpack)."""
    config = service.store.read_config(manifest.config.digest)
    for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
        if mt.layer_compression(desc.media_type) == "" and desc.digest != diff_id:
            with service.content.open(desc.digest) as fh:
                if detect_compression(fh.read(4)) == "":
                    raise ArchiveError(
                        f"layer {desc.digest} does not match the diff ID {diff_id} in the config"
                    )


def _oci_plans(service: ImageService, reader: _Reader) -> list[tuple[bytes, list[Reference]]]:
    doc = reader.text("index.json")
    try:
        index = parse_manifest(canonical_json(doc), mt.OCI_INDEX)
    except ManifestError as exc:
        raise ArchiveError(f"index.json: {exc}") from None
    assert isinstance(index, Index)
    docker_tags: dict[str, list[Reference]] = {}
    if "manifest.json" in reader.small:
        for entry, names in _docker_entries(reader):
            docker_tags[str(reader.resolve(entry["Config"]).digest)] = names
    plans: dict[Digest, tuple[bytes, list[Reference]]] = {}
    for desc in index.manifests:
        for manifest_bytes in _image_manifests(service, desc):
            parsed = parse_manifest(manifest_bytes)
            assert isinstance(parsed, Manifest)
            names = _names_from_annotations(desc.annotations)
            if not names:
                names = docker_tags.get(str(parsed.config.digest), [])
            digest = Digest.from_bytes(manifest_bytes)
            previous = plans.get(digest, (manifest_bytes, []))[1]
            plans[digest] = (manifest_bytes, previous + [n for n in names if n not in previous])
    if not plans:
        raise ArchiveError(f"index.json names no image for {host_platform()}")
    return list(plans.values())


def _image_manifests(service: ImageService, desc: Descriptor, depth: int = 0) -> list[bytes]:
    if depth > 4:
        raise ArchiveError("index.json nests indexes too deeply")
    if service.content.info(desc.digest) is None:
        raise ArchiveError(f"index.json names blob {desc.digest}, which the archive lacks")
    data = service.content.read(desc.digest, max_size=_SMALL)
    parsed = parse_manifest(data, desc.media_type)
    if isinstance(parsed, Manifest):
        return [data] if parsed.is_image else []
    wanted = host_platform()
    out: list[bytes] = []
    for child in parsed.manifests:
        if child.platform is not None and not wanted.matches(child.platform):
            continue
        out.extend(_image_manifests(service, child, depth + 1))
        if out:
            break
    return out


def _names_from_annotations(annotations: dict[str, str] | Any) -> list[Reference]:
    for key in (CONTAINERD_NAME, REF_NAME):
        value = annotations.get(key)
        if not value:
            continue
        if key == REF_NAME and "/" not in value and ":" not in value:
            continue  # a bare tag such as "latest" names no repository
        try:
            return [parse_reference(value)]
        except ReferenceError:
            continue
    return []


def _docker_entries(reader: _Reader) -> list[tuple[dict[str, Any], list[Reference]]]:
    doc = reader.text("manifest.json")
    if not isinstance(doc, list):
        raise ArchiveError("manifest.json: expected a list of images")
    out = []
    for i, entry in enumerate(doc):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("Config"), str)
            or not isinstance(entry.get("Layers"), list)
        ):
            raise ArchiveError(f"manifest.json[{i}]: needs Config and Layers")
        names = []
        for tag in entry.get("RepoTags") or []:
            try:
                names.append(parse_reference(str(tag)))
            except ReferenceError as exc:
                raise ArchiveError(f"manifest.json[{i}]: {exc}") from None
        out.append((entry, names))
    return out


def _docker_plans(service: ImageService, reader: _Reader) -> list[tuple[bytes, list[Reference]]]:
    plans = []
    for entry, names in _docker_entries(reader):
        config = reader.resolve(entry["Config"])
        layers = []
        for path in entry["Layers"]:
            info = reader.resolve(str(path))
            with service.content.open(info.digest) as fh:
                compression = detect_compression(fh.read(4))
            layers.append((info.digest, info.size, compression))
        manifest = docker_manifest(config.digest, config.size, layers)
        plans.append((manifest.to_bytes(), names))
    return plans
