"""Descriptors, image manifests and indexes (OCI v1.1 and Docker schema2), parsed strictly.

Manifests are parsed from their exact bytes; the bytes, never a re-serialisation, are what
get stored and digested.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cais.errors import InvalidArgumentError
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest, DigestError
from cais.oci.platform import Platform


class ManifestError(InvalidArgumentError):
    """Manifest or index bytes that do not follow the spec."""


class UnsupportedMediaTypeError(ManifestError):
    """A manifest of a media type cais does not handle (Docker schema1, for one)."""


@dataclass(frozen=True)
class Descriptor:
    """What an OCI descriptor says: a blob's type, digest and size, and optional extras."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "descriptor") -> Descriptor:
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: expected an object")
        media_type = data.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise ManifestError(f"{where}: mediaType is missing")
        try:
            digest = Digest.parse(data.get("digest", ""))
        except DigestError as exc:
            raise ManifestError(f"{where}: {exc}") from None
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{where}: size must be a non-negative integer")
        plat = data.get("platform")
        annotations = data.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise ManifestError(f"{where}: annotations must be an object")
        urls = data.get("urls") or []
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
            annotations={str(k): str(v) for k, v in annotations.items()},
            urls=tuple(str(u) for u in urls),
            artifact_type=data.get("artifactType"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


@dataclass(frozen=True)
class Manifest:
    """An image manifest: one config and an ordered list of layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_json()
        out["layers"] = [layer.to_json() for layer in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def is_image(self) -> bool:
        """True for a runnable image (config is an image config), False for an artifact."""
        return self.config.media_type in mt.CONFIGS


@dataclass(frozen=True)
class Index:
    """An image index / manifest list: manifests for several platforms (or artifacts)."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["manifests"] = [m.to_json() for m in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


def canonical_json(value: Any) -> bytes:
    """Compact JSON as cais writes every document it makes (stable bytes → stable digest)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{what} is not valid JSON: {exc}") from None


def parse_manifest(data: bytes, media_type: str | None = None) -> Manifest | Index:
    """Parse manifest or index bytes; ``media_type`` is the one the transport declared."""
    doc = load_json(data, "manifest")
    if not isinstance(doc, dict):
        raise ManifestError("manifest: expected a JSON object")
    declared = doc.get("mediaType")
    if doc.get("schemaVersion") == 1 or (media_type or "").endswith("v1+prettyjws"):
        raise UnsupportedMediaTypeError("Docker schema1 manifests are not supported")
    if doc.get("schemaVersion") != 2:
        raise ManifestError("manifest: schemaVersion must be 2")
    if declared is not None and not isinstance(declared, str):
        raise ManifestError("manifest: mediaType must be a string")
    if declared and media_type and media_type not in (declared, "application/json"):
        raise ManifestError(
            f"manifest: mediaType {declared!r} does not match the declared {media_type!r}"
        )
    kind = declared or media_type
    if kind is None:
        kind = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST
    subject = doc.get("subject")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestError("manifest: annotations must be an object")
    common: dict[str, Any] = {
        "subject": Descriptor.from_json(subject, "subject") if subject is not None else None,
        "artifact_type": doc.get("artifactType"),
        "annotations": {str(k): str(v) for k, v in annotations.items()},
    }
    if kind in mt.IMAGE_INDEXES:
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise ManifestError("index: manifests must be a list")
        return Index(
            media_type=kind,
            manifests=tuple(
                Descriptor.from_json(m, f"manifests[{i}]") for i, m in enumerate(manifests)
            ),
            **common,
        )
    if kind in mt.IMAGE_MANIFESTS:
        if "config" not in doc:
            raise ManifestError("manifest: config is missing")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestError("manifest: layers must be a list")
        config = Descriptor.from_json(doc["config"], "config")
        parsed = tuple(Descriptor.from_json(x, f"layers[{i}]") for i, x in enumerate(layers))
        if kind == mt.DOCKER_MANIFEST:
            for i, layer in enumerate(parsed):
                if layer.media_type not in mt.LAYERS:
                    raise ManifestError(
                        f"layers[{i}]: unknown layer media type {layer.media_type!r}"
                    )
        return Manifest(media_type=kind, config=config, layers=parsed, **common)
    raise UnsupportedMediaTypeError(f"unsupported manifest media type {kind!r}")
