"""ECR over an in-memory registry, a controllable clock, and helpers to push images the
way a client does (blobs first, then the manifest) and to call the API as boto3 would."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cais.aws.context import Principal
from cais.aws.credentials import CredentialStore
from cais.aws.dispatch import Dispatcher
from cais.aws.models import ServiceModels
from cais.aws.request import AwsRequest
from cais.ecr import Ecr, open_ecr, register
from cais.oci import mediatypes as mt
from cais.registry.storage import MemoryDriver, PathNotFoundError, StorageDriver
from cais.state.sqlite import Database

ACCOUNT = "000000000000"
OTHER_ACCOUNT = "111111111111"
REGION = "us-east-1"
TARGET = "AmazonEC2ContainerRegistry_V20150921"
NOW = 1_700_000_000.0
DAY = 86_400.0
MODELS = ServiceModels()  # botocore's models, loaded once for the whole test run


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Blobs:
    config: bytes
    layers: tuple[bytes, ...]
    manifest: bytes
    digest: str


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_manifest(
    *, layers: Sequence[bytes] | None = None, media_type: str = mt.OCI_MANIFEST, note: str = ""
) -> Blobs:
    layer_blobs = tuple(layers) if layers is not None else (os.urandom(256),)
    config = json.dumps({"architecture": "amd64", "os": "linux", "note": note}).encode()
    docker = media_type == mt.DOCKER_MANIFEST
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG,
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER,
                "digest": digest_of(layer),
                "size": len(layer),
            }
            for layer in layer_blobs
        ],
    }
    manifest = json.dumps(doc).encode()
    return Blobs(config, layer_blobs, manifest, digest_of(manifest))


class Trusting:
    """Accepts every request as ``account`` (the dispatcher's SigV4 check is tested in aws/)."""

    def __init__(self, account: str = ACCOUNT) -> None:
        self.account = account

    def verify(self, request: AwsRequest, *, service: str) -> tuple[Principal, str]:
        account = request.header("X-Test-Account") or self.account
        key = "AKIACAISLOCALDEFAULT" if account == ACCOUNT else "AKIAOTHERACCOUNTKEY0"
        return Principal(key, account, "tester"), REGION


class World:
    """ECR with its registry in memory (or on ``driver``), its records in ``tmp``'s database."""

    def __init__(
        self, tmp: Path, *, clock: Clock | None = None, driver: StorageDriver | None = None
    ) -> None:
        self.clock = clock or Clock()
        self.db = Database(tmp / "cais.db")
        self.keys = CredentialStore(self.db)
        self.keys.ensure_default()
        self.driver: StorageDriver = driver or MemoryDriver()
        self.ecr: Ecr = open_ecr(
            self.db, self.driver, registry_host="localhost:2247", keys=self.keys, clock=self.clock
        )
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.dispatcher = Dispatcher(
            authenticator=Trusting(), models=MODELS, executor=self.executor
        )
        register(self.dispatcher, self.ecr)

    def close(self) -> None:
        self.executor.shutdown()
        self.db.close()

    # -- the registry side (what a /v2 push does) -------------------------------------------

    def push_blob(self, name: str, data: bytes) -> None:
        from cais.oci.digest import Digest

        registry = self.ecr.registry
        status = registry.start_upload(name)
        upload = registry.open_upload(name, status.id)
        upload.write(data)
        upload.commit(Digest.parse(digest_of(data)))

    def push(self, name: str, tag: str | None, blobs: Blobs | None = None, **kw: Any) -> Blobs:
        """Blobs, then the manifest by tag (or digest), through the registry's own API."""
        blobs = blobs or make_manifest(**kw)
        self.push_blob(name, blobs.config)
        for layer in blobs.layers:
            self.push_blob(name, layer)
        media_type = json.loads(blobs.manifest)["mediaType"]
        self.ecr.registry.put_manifest(
            name, tag or blobs.digest, blobs.manifest, content_type=media_type
        )
        return blobs

    def snapshot(self) -> tuple[dict[str, bytes], list[tuple[Any, ...]]]:
        """Everything stored: registry files and ECR's rows (compare to see nothing changed)."""
        try:
            files = {i.path: self.driver.get_content(i.path) for i in self.driver.walk("/")}
        except PathNotFoundError:
            files = {}
        rows: list[tuple[Any, ...]] = []
        for table in (
            "ecr_repositories",
            "ecr_repository_tags",
            "ecr_images",
            "ecr_image_tags",
            "ecr_lifecycle_previews",
        ):
            rows += [(table, *tuple(r)) for r in self.db.query(f"SELECT * FROM {table}")]
        return files, sorted(rows, key=repr)

    # -- the API side -----------------------------------------------------------------------

    def call(self, operation: str, body: dict[str, Any] | bytes, *, account: str = ACCOUNT) -> Any:
        """(status, parsed JSON body) of one API call, as boto3 would make it."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = AwsRequest(
            method="POST",
            path="/",
            query="",
            headers=(("X-Amz-Target", f"{TARGET}.{operation}"), ("X-Test-Account", account)),
            body=raw,
        )
        response = asyncio.run(self.dispatcher.handle(request))
        return response.status, json.loads(response.body)

    def ok(self, operation: str, body: dict[str, Any], **kw: Any) -> Any:
        status, doc = self.call(operation, body, **kw)
        assert status == 200, doc
        return doc

    def error(self, operation: str, body: dict[str, Any] | bytes, **kw: Any) -> tuple[str, str]:
        """(type, message) of a call that must fail — and must change nothing stored."""
        before = self.snapshot()
        status, doc = self.call(operation, body, **kw)
        assert status >= 400, doc
        assert self.snapshot() == before, f"{operation} failed but changed storage"
        return doc["__type"], doc["message"]


def policy(*rules: dict[str, Any]) -> str:
    """A lifecycle policy text from rules (``action`` expire added when missing)."""
    full = [{"action": {"type": "expire"}, **rule} for rule in rules]
    return json.dumps({"rules": full})


def rule(
    priority: int,
    status: str,
    *,
    count: int,
    kind: str = "imageCountMoreThan",
    prefixes: Sequence[str] = (),
    patterns: Sequence[str] = (),
) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status, "countType": kind, "countNumber": count}
    if prefixes:
        selection["tagPrefixList"] = list(prefixes)
    if patterns:
        selection["tagPatternList"] = list(patterns)
    if kind == "sinceImagePushed":
        selection["countUnit"] = "days"
    return {"rulePriority": priority, "selection": selection}
