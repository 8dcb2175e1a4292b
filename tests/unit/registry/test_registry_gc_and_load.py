"""GC keeps what manifests and pushes in progress need; concurrent pushes and pulls verify."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time

import pytest

from cais.registry import Registry
from cais.registry.gc import collect_garbage
from cais.registry.storage import StorageDriver
from registry.registry_harness import Harness, digest_of, make_image

pytestmark = pytest.mark.asyncio


def blob_paths(harness: Harness) -> set[str]:
    return {p for p in harness.snapshot() if p.startswith("/blobs/")}


async def test_gc_removes_only_unreferenced_blobs(harness: Harness) -> None:
    kept = await harness.push_image("app", "v1")
    dropped = await harness.push_image("app", "v2")
    orphan = await harness.push_blob("app", b"never referenced")
    await harness.client.delete(f"/v2/app/manifests/{dropped.digest}")
    dry = collect_garbage(harness.registry, dry_run=True, grace=0)
    expected = {str(dropped.digest), str(digest_of(dropped.config)), str(orphan)}
    expected |= {str(digest_of(layer)) for layer in dropped.layers}
    assert set(dry.blobs_deleted) == expected
    assert len(blob_paths(harness)) == 7
    report = collect_garbage(harness.registry, grace=0)
    assert set(report.blobs_deleted) == expected
    assert len(blob_paths(harness)) == 3
    got = await harness.client.get("/v2/app/manifests/v1")
    assert await got.read() == kept.manifest
    for blob in (kept.config, *kept.layers):
        resp = await harness.client.get(f"/v2/app/blobs/{digest_of(blob)}")
        assert await resp.read() == blob
    assert (await harness.client.head(f"/v2/app/blobs/{orphan}")).status == 404


async def test_gc_keeps_blobs_of_a_push_in_progress(harness: Harness) -> None:
    """Layers uploaded before their manifest survive a GC within the grace period."""
    image = make_image()
    await harness.push_blob("wip", image.config)
    await harness.push_blob("wip", image.layers[0])
    report = collect_garbage(harness.registry, grace=3600)
    assert report.blobs_deleted == ()
    resp = await harness.client.put(
        "/v2/wip/manifests/v1",
        data=image.manifest,
        headers={"Content-Type": json.loads(image.manifest)["mediaType"]},
    )
    assert resp.status == 201


async def test_gc_never_touches_uploads_in_progress(harness: Harness) -> None:
    start = await harness.client.post("/v2/up/blobs/uploads/")
    uuid = start.headers["Docker-Upload-UUID"]
    await harness.client.patch(f"/v2/up/blobs/uploads/{uuid}", data=b"half")
    collect_garbage(harness.registry, grace=0)
    data = b"half" + b" and the rest"
    done = await harness.client.put(
        f"/v2/up/blobs/uploads/{uuid}",
        params={"digest": str(digest_of(data))},
        data=b" and the rest",
    )
    assert done.status == 201


async def test_gc_waits_for_a_commit_in_progress(harness: Harness) -> None:
    """The commit lock: GC cannot run between a manifest's check and its write."""
    registry = harness.registry
    entered, release = threading.Event(), threading.Event()
    finished: list[float] = []

    def hold_commit() -> None:
        with registry.lock.shared():
            entered.set()
            release.wait(5)
            finished.append(time.monotonic())

    holder = threading.Thread(target=hold_commit)
    holder.start()
    entered.wait(5)
    gc_done: list[float] = []
    gc = threading.Thread(
        target=lambda: (collect_garbage(registry, grace=0), gc_done.append(time.monotonic()))
    )
    gc.start()
    await asyncio.sleep(0.2)
    assert gc_done == []  # blocked behind the commit
    release.set()
    holder.join()
    gc.join()
    assert finished and gc_done and gc_done[0] >= finished[0]


async def test_twenty_concurrent_pushes_and_fifty_pulls_all_verify(harness: Harness) -> None:
    images = [make_image(layers=(os.urandom(64 * 1024), os.urandom(1000))) for _ in range(20)]
    pushed = await asyncio.gather(
        *(harness.push_image(f"load/img{i}", "v1", img) for i, img in enumerate(images))
    )
    assert [p.digest for p in pushed] == [img.digest for img in images]

    async def pull(i: int) -> bool:
        image = images[i % 20]
        name = f"load/img{i % 20}"
        resp = await harness.client.get(f"/v2/{name}/manifests/v1")
        manifest = await resp.read()
        if digest_of(manifest) != image.digest:
            return False
        doc = json.loads(manifest)
        for desc in (doc["config"], *doc["layers"]):
            blob = await (await harness.client.get(f"/v2/{name}/blobs/{desc['digest']}")).read()
            if (
                "sha256:" + hashlib.sha256(blob).hexdigest() != desc["digest"]
                or len(blob) != desc["size"]
            ):
                return False
        return True

    results = await asyncio.gather(*(pull(i) for i in range(50)))
    assert all(results)
    catalog = await (await harness.client.get("/v2/_catalog")).json()
    assert len(catalog["repositories"]) == 20


async def test_registry_over_each_driver_without_http(driver: StorageDriver) -> None:
    """The domain is usable without HTTP (as the ECR layer will use it)."""
    registry = Registry(driver)
    status = registry.start_upload("plain")
    upload = registry.open_upload("plain", status.id)
    upload.write(b"abc")
    info = upload.commit(digest_of(b"abc"))
    assert info.size == 3
    assert registry.stat_blob("plain", digest_of(b"abc")).size == 3
