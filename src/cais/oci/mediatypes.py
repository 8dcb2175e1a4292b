"""Media types of the OCI image spec v1.1 and Docker's schema2."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYOUT_VERSION = "1.0.0"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
IMAGE_INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFESTS = IMAGE_MANIFESTS | IMAGE_INDEXES
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})

UNCOMPRESSED_LAYERS = frozenset({OCI_LAYER, DOCKER_LAYER, OCI_LAYER_NONDIST})
GZIP_LAYERS = frozenset(
    {OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER, OCI_LAYER_NONDIST_GZIP}
)
ZSTD_LAYERS = frozenset({OCI_LAYER_ZSTD})
LAYERS = UNCOMPRESSED_LAYERS | GZIP_LAYERS | ZSTD_LAYERS


def layer_compression(media_type: str) -> str | None:
    """``"gzip"``, ``"zstd"``, ``""`` for plain tar, or None if not a known layer type."""
    if media_type in GZIP_LAYERS:
        return "gzip"
    if media_type in ZSTD_LAYERS:
        return "zstd"
    if media_type in UNCOMPRESSED_LAYERS:
        return ""
    return None


def oci_layer_type(compression: str) -> str:
    return {"": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}[compression]


def docker_layer_type(compression: str) -> str:
    if compression == "zstd":
        return OCI_LAYER_ZSTD
    return {"": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP}[compression]
