"""A registry served by aiohttp's test server, with helpers to push and to snapshot storage."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.registry import Registry
from cais.registry.auth import Authenticator
from cais.registry.http import create_app
from cais.registry.storage import PathNotFoundError, StorageDriver


def digest_of(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class Image:
    manifest: bytes
    digest: Digest
    config: bytes
    layers: tuple[bytes, ...]


def make_image(
    *,
    layers: tuple[bytes, ...] | None = None,
    media_type: str = mt.OCI_MANIFEST,
    subject: Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
    config_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Image:
    layers = layers if layers is not None else (os.urandom(2048),)
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": os.urandom(4).hex()})
    config_bytes = config.encode()
    docker = media_type == mt.DOCKER_MANIFEST
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_type or (mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG),
            "digest": str(digest_of(config_bytes)),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER,
                "digest": str(digest_of(layer)),
                "size": len(layer),
            }
            for layer in layers
        ],
    }
    if subject is not None:
        doc["subject"] = dict(subject)
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = dict(annotations)
    manifest = json.dumps(doc).encode()
    return Image(manifest, digest_of(manifest), config_bytes, layers)


def snapshot(driver: StorageDriver) -> dict[str, bytes]:
    """Every file in storage with its bytes: compare two to see that nothing changed."""
    try:
        return {info.path: driver.get_content(info.path) for info in driver.walk("/")}
    except PathNotFoundError:
        return {}


@dataclass
class Harness:
    client: TestClient[Any, Any]
    registry: Registry

    @property
    def driver(self) -> StorageDriver:
        return self.registry.driver

    def snapshot(self) -> dict[str, bytes]:
        return snapshot(self.driver)

    async def push_blob(self, name: str, data: bytes, **headers: str) -> Digest:
        digest = digest_of(data)
        resp = await self.client.post(
            f"/v2/{name}/blobs/uploads/", params={"digest": str(digest)}, data=data, **headers
        )
        assert resp.status == 201, await resp.text()
        return digest

    async def push_image(self, name: str, tag: str, image: Image | None = None) -> Image:
        image = image or make_image()
        await self.push_blob(name, image.config)
        for layer in image.layers:
            await self.push_blob(name, layer)
        media_type = json.loads(image.manifest)["mediaType"]
        resp = await self.client.put(
            f"/v2/{name}/manifests/{tag}",
            data=image.manifest,
            headers={"Content-Type": media_type},
        )
        assert resp.status == 201, await resp.text()
        assert resp.headers["Docker-Content-Digest"] == str(image.digest)
        return image


async def error_code(resp: Any) -> str:
    body = await resp.json()
    assert set(body) == {"errors"}, body
    code: str = body["errors"][0]["code"]
    return code


def rel(location: str) -> str:
    """The path (and query) of an absolute Location, as the test client wants it."""
    from yarl import URL

    return URL(location).path_qs


async def serve(registry: Registry, auth: Authenticator | None = None) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(registry, auth=auth)))
    await client.start_server()
    return client
