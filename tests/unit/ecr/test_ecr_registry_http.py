"""The registry as ``cais up`` serves it: ECR logins (Basic ``AWS:<password>``), ECR's
refusals on ``/v2`` pushes, and both paths showing the same images."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from cais.ecr import EcrRegistryAuth, TagMutability
from cais.ecr.auth import LoginTokens
from cais.registry.http import create_app
from ecr.ecr_harness import (
    ACCOUNT,
    NOW,
    OTHER_ACCOUNT,
    REGION,
    Blobs,
    World,
    digest_of,
    make_manifest,
)

pytestmark = pytest.mark.asyncio


class Site:
    def __init__(self, world: World, client: TestClient[Any, Any]) -> None:
        self.world = world
        self.client = client
        login = world.ecr.login(account=ACCOUNT, access_key_id="AKIACAISLOCALDEFAULT")
        self.auth = basic("AWS", login.password)

    async def push(self, name: str, tag: str, blobs: Blobs, auth: str | None = None) -> Any:
        headers = {"Authorization": auth or self.auth}
        for blob in (blobs.config, *blobs.layers):
            digest = digest_of(blob)
            resp = await self.client.post(
                f"/v2/{name}/blobs/uploads/", params={"digest": digest}, data=blob, headers=headers
            )
            if resp.status != 201:
                return resp
        return await self.client.put(
            f"/v2/{name}/manifests/{tag}",
            data=blobs.manifest,
            headers={**headers, "Content-Type": json.loads(blobs.manifest)["mediaType"]},
        )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    world = World(tmp_path)
    for name, account, mode in (
        ("app", ACCOUNT, "MUTABLE"),
        ("locked", ACCOUNT, "IMMUTABLE"),
        ("theirs", OTHER_ACCOUNT, "MUTABLE"),
    ):
        world.ecr.create_repository(
            name, account=account, region=REGION, mutability=TagMutability(mode)
        )
    auth = EcrRegistryAuth(world.ecr.tokens, world.ecr.store)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(world.ecr.registry, auth=auth)))
    await client.start_server()
    try:
        yield Site(world, client)
    finally:
        await client.close()
        world.close()


async def code_of(resp: Any) -> str:
    return str((await resp.json())["errors"][0]["code"])


async def test_every_request_needs_a_login(site: Site) -> None:
    resp = await site.client.get("/v2/")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith('Basic realm="http://')
    assert 'service="ecr.amazonaws.com"' in resp.headers["WWW-Authenticate"]
    assert (await site.client.get("/v2/", headers={"Authorization": site.auth})).status == 200
    before = site.world.snapshot()
    resp = await site.push("app", "v1", make_manifest(), auth="Basic bm9ib2R5Om5vcGU=")
    assert resp.status == 401
    assert site.world.snapshot() == before


async def test_expired_forged_and_misnamed_logins_are_refused(site: Site) -> None:
    world = site.world
    old = LoginTokens(world.ecr.store, clock=lambda: NOW - 13 * 3600)
    expired = old.issue(account=ACCOUNT, access_key_id="AKIACAISLOCALDEFAULT").password
    login = world.ecr.login(account=ACCOUNT, access_key_id="AKIACAISLOCALDEFAULT").password
    for auth in (
        basic("AWS", expired),
        basic("AWS", login[:-3] + "abc"),
        basic("admin", login),
        "Bearer " + login,
    ):
        resp = await site.client.get("/v2/", headers={"Authorization": auth})
        assert resp.status == 401, auth


async def test_push_to_a_repository_never_created_is_name_unknown(site: Site) -> None:
    before = site.world.snapshot()
    resp = await site.push("ghost", "v1", make_manifest())
    assert (resp.status, await code_of(resp)) == (404, "NAME_UNKNOWN")
    assert site.world.snapshot() == before


async def test_another_accounts_repository_is_denied(site: Site) -> None:
    before = site.world.snapshot()
    resp = await site.push("theirs", "v1", make_manifest())
    assert (resp.status, await code_of(resp)) == (403, "DENIED")
    resp = await site.client.get("/v2/theirs/tags/list", headers={"Authorization": site.auth})
    assert resp.status == 403
    assert site.world.snapshot() == before


async def test_immutable_tags_on_v2_and_v2_pushes_in_describe_images(site: Site) -> None:
    first = make_manifest()
    assert (await site.push("locked", "v1", first)).status == 201
    before = site.world.snapshot()
    resp = await site.push("locked", "v1", make_manifest(note="other"))
    assert (resp.status, await code_of(resp)) == (400, "TAG_INVALID")
    body = await resp.json()
    assert body["errors"][0]["message"] == (
        "The image tag 'v1' already exists in the 'locked' repository and cannot be "
        "overwritten because the tag is immutable."
    )
    # the refused push's blobs were uploaded first (as clients do); no image changed
    after = site.world.snapshot()
    assert after[1] == before[1]
    details = await asyncio.to_thread(site.world.ok, "DescribeImages", {"repositoryName": "locked"})
    [image] = details["imageDetails"]
    assert (image["imageDigest"], image["imageTags"], image["imagePushedAt"]) == (
        first.digest,
        ["v1"],
        NOW,
    )


async def test_batch_delete_image_removes_it_from_v2(site: Site) -> None:
    blobs = make_manifest()
    assert (await site.push("app", "v1", blobs)).status == 201
    headers = {"Authorization": site.auth}
    assert (await site.client.get("/v2/app/manifests/v1", headers=headers)).status == 200
    out = await asyncio.to_thread(
        site.world.ok,
        "BatchDeleteImage",
        {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]},
    )
    assert out["imageIds"] == [{"imageDigest": blobs.digest, "imageTag": "v1"}]
    for ref in ("v1", blobs.digest):
        resp = await site.client.get(f"/v2/app/manifests/{ref}", headers=headers)
        assert (resp.status, await code_of(resp)) == (404, "MANIFEST_UNKNOWN")
