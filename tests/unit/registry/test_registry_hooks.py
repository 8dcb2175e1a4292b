"""The ECR seam: refuse unknown repositories, keep immutable tags, hear of every change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.registry import ManifestEvent, Registry, RegistryError
from cais.registry import errors as e
from cais.registry.storage import MemoryDriver
from registry.registry_harness import Harness, digest_of, error_code, make_image, serve

pytestmark = pytest.mark.asyncio


@dataclass
class EcrLikeHooks:
    repositories: set[str]
    immutable: set[str]
    events: list[tuple[str, ManifestEvent]] = field(default_factory=list)

    def check_push(self, repository: str) -> None:
        if repository not in self.repositories:
            raise RegistryError(e.NAME_UNKNOWN, f"repository {repository} does not exist")

    def check_tag(self, repository: str, tag: str, *, current: Digest | None, new: Digest) -> None:
        if repository in self.immutable and current is not None and current != new:
            raise RegistryError(e.MANIFEST_INVALID, f"tag {tag} is immutable")

    def manifest_stored(self, event: ManifestEvent) -> None:
        self.events.append(("stored", event))

    def manifest_deleted(self, event: ManifestEvent) -> None:
        self.events.append(("deleted", event))


@pytest_asyncio.fixture
async def ecr() -> AsyncIterator[tuple[Harness, EcrLikeHooks]]:
    hooks = EcrLikeHooks(repositories={"made", "locked"}, immutable={"locked"})
    registry = Registry(MemoryDriver(), hooks=hooks)
    client = await serve(registry)
    try:
        yield Harness(client, registry), hooks
    finally:
        await client.close()


async def test_push_to_a_repository_that_was_never_created(
    ecr: tuple[Harness, EcrLikeHooks],
) -> None:
    harness, _ = ecr
    before = harness.snapshot()
    data = b"layer"
    resp = await harness.client.post(
        "/v2/ghost/blobs/uploads/", params={"digest": str(digest_of(data))}, data=data
    )
    assert (resp.status, await error_code(resp)) == (404, "NAME_UNKNOWN")
    mount = await harness.client.post(
        "/v2/ghost/blobs/uploads/", params={"mount": str(digest_of(data))}
    )
    assert mount.status == 404
    assert harness.snapshot() == before
    await harness.push_blob("made", data)


async def test_immutable_tags_and_events(ecr: tuple[Harness, EcrLikeHooks]) -> None:
    harness, hooks = ecr
    first = await harness.push_image("locked", "v1")
    second = make_image()
    await harness.push_blob("locked", second.config)
    await harness.push_blob("locked", second.layers[0])
    before = harness.snapshot()
    resp = await harness.client.put(
        "/v2/locked/manifests/v1", data=second.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_INVALID")
    assert harness.snapshot() == before
    same = await harness.client.put(
        "/v2/locked/manifests/v1", data=first.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert same.status == 201  # re-pushing the same digest is no move
    await harness.client.delete(f"/v2/locked/manifests/{first.digest}")
    kinds = [(kind, ev.repository, ev.tag, ev.digest) for kind, ev in hooks.events]
    assert kinds == [
        ("stored", "locked", "v1", first.digest),
        ("stored", "locked", "v1", first.digest),
        ("deleted", "locked", None, first.digest),
    ]
    assert hooks.events[0][1].media_type == mt.OCI_MANIFEST
    assert hooks.events[0][1].size == len(first.manifest)
