"""Manifest endpoints, media-type negotiation, tags and catalog pagination, referrers."""

from __future__ import annotations

import json
import os

import pytest

from cais.oci import mediatypes as mt
from registry.registry_harness import (
    Harness,
    Image,
    digest_of,
    error_code,
    make_image,
    rel,
    serve,
)

pytestmark = pytest.mark.asyncio


async def test_put_get_head_by_tag_and_digest(harness: Harness) -> None:
    image = await harness.push_image("app", "v1")
    for ref in ("v1", str(image.digest)):
        got = await harness.client.get(
            f"/v2/app/manifests/{ref}", headers={"Accept": mt.OCI_MANIFEST}
        )
        assert got.status == 200
        assert got.headers["Content-Type"] == mt.OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == str(image.digest)
        assert await got.read() == image.manifest
        head = await harness.client.head(f"/v2/app/manifests/{ref}")
        assert head.status == 200
        assert head.headers["Content-Length"] == str(len(image.manifest))
        assert head.headers["Docker-Content-Digest"] == str(image.digest)


async def test_put_by_digest_and_location(harness: Harness) -> None:
    image = make_image()
    await harness.push_blob("app", image.config)
    await harness.push_blob("app", image.layers[0])
    resp = await harness.client.put(
        f"/v2/app/manifests/{image.digest}",
        data=image.manifest,
        headers={"Content-Type": mt.OCI_MANIFEST},
    )
    assert resp.status == 201
    assert resp.headers["Location"].endswith(f"/v2/app/manifests/{image.digest}")
    tags = await harness.client.get("/v2/app/tags/list")
    assert (await tags.json())["tags"] == []


async def test_docker_schema2_and_manifest_list(harness: Harness) -> None:
    image = await harness.push_image("d", "v1", make_image(media_type=mt.DOCKER_MANIFEST))
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": mt.DOCKER_MANIFEST,
                    "digest": str(image.digest),
                    "size": len(image.manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    resp = await harness.client.put(
        "/v2/d/manifests/multi", data=index, headers={"Content-Type": mt.DOCKER_MANIFEST_LIST}
    )
    assert resp.status == 201, await resp.text()
    got = await harness.client.get(
        "/v2/d/manifests/multi", headers={"Accept": f"{mt.DOCKER_MANIFEST_LIST}, {mt.OCI_INDEX}"}
    )
    assert got.headers["Content-Type"] == mt.DOCKER_MANIFEST_LIST
    assert await got.read() == index


async def put_list(harness: Harness, tag: str, entries: list[tuple[Image, str]]) -> bytes:
    """A Docker manifest list of (image, architecture) entries on linux, pushed as ``tag``."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "digest": str(image.digest),
                "size": len(image.manifest),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for image, arch in entries
        ],
    }
    data = json.dumps(doc).encode()
    resp = await harness.client.put(
        f"/v2/l/manifests/{tag}", data=data, headers={"Content-Type": mt.DOCKER_MANIFEST_LIST}
    )
    assert resp.status == 201, await resp.text()
    return data


async def test_a_list_by_tag_serves_its_amd64_image_to_clients_without_list_support(
    harness: Harness,
) -> None:
    arm = await harness.push_image("l", "arm", make_image(media_type=mt.DOCKER_MANIFEST))
    amd = await harness.push_image("l", "amd", make_image(media_type=mt.DOCKER_MANIFEST))
    listed = await put_list(harness, "multi", [(arm, "arm64"), (amd, "amd64")])
    await put_list(harness, "armonly", [(arm, "arm64")])
    old_client = {"Accept": mt.DOCKER_MANIFEST}

    got = await harness.client.get("/v2/l/manifests/multi", headers=old_client)
    assert got.status == 200
    assert got.headers["Content-Type"] == mt.DOCKER_MANIFEST
    assert got.headers["Docker-Content-Digest"] == str(amd.digest)
    assert await got.read() == amd.manifest
    head = await harness.client.head("/v2/l/manifests/multi", headers=old_client)
    assert head.status == 200
    assert head.headers["Docker-Content-Digest"] == str(amd.digest)
    assert head.headers["Content-Length"] == str(len(amd.manifest))

    none = await harness.client.get("/v2/l/manifests/armonly", headers=old_client)
    assert (none.status, await error_code(none)) == (404, "MANIFEST_UNKNOWN")
    oci_only = await harness.client.get(
        "/v2/l/manifests/multi", headers={"Accept": mt.OCI_MANIFEST}
    )
    assert (oci_only.status, await error_code(oci_only)) == (404, "MANIFEST_UNKNOWN")

    new_client = {"Accept": f"{mt.DOCKER_MANIFEST}, {mt.DOCKER_MANIFEST_LIST}"}
    whole = await harness.client.get("/v2/l/manifests/multi", headers=new_client)
    assert whole.headers["Content-Type"] == mt.DOCKER_MANIFEST_LIST
    assert await whole.read() == listed


async def test_accept_negotiation_refuses_types_the_client_cannot_read(harness: Harness) -> None:
    await harness.push_image("n", "v1")
    refused = await harness.client.get("/v2/n/manifests/v1", headers={"Accept": mt.DOCKER_MANIFEST})
    assert (refused.status, await error_code(refused)) == (404, "MANIFEST_UNKNOWN")
    for accept in ("*/*", f"{mt.DOCKER_MANIFEST}, {mt.OCI_MANIFEST};q=0.5", "application/json"):
        ok = await harness.client.get("/v2/n/manifests/v1", headers={"Accept": accept})
        assert ok.status == 200, accept
    no_accept = await harness.client.get("/v2/n/manifests/v1", skip_auto_headers={"Accept"})
    assert no_accept.status == 200


async def test_index_naming_unknown_child_is_manifest_blob_unknown(harness: Harness) -> None:
    before = harness.snapshot()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                {"mediaType": mt.OCI_MANIFEST, "digest": str(digest_of(b"x")), "size": 1}
            ],
        }
    ).encode()
    resp = await harness.client.put(
        "/v2/i/manifests/v1", data=index, headers={"Content-Type": mt.OCI_INDEX}
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_BLOB_UNKNOWN")
    assert harness.snapshot() == before


async def test_manifest_naming_unknown_blobs_stores_nothing(harness: Harness) -> None:
    image = make_image()
    await harness.push_blob("m", image.config)
    before = harness.snapshot()
    resp = await harness.client.put(
        "/v2/m/manifests/v1", data=image.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_BLOB_UNKNOWN")
    body = await resp.json()
    assert body["errors"][0]["detail"]["digests"] == [str(digest_of(image.layers[0]))]
    assert harness.snapshot() == before


async def test_blob_only_in_another_repository_does_not_count(harness: Harness) -> None:
    image = make_image()
    await harness.push_blob("other", image.config)
    await harness.push_blob("other", image.layers[0])
    resp = await harness.client.put(
        "/v2/mine/manifests/v1", data=image.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"[1, 2]",
        b'{"schemaVersion": 1}',
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
        b' "config": {"mediaType": "x", "digest": "sha256:zz", "size": 1}, "layers": []}',
        b'{"schemaVersion": 2, "mediaType": "application/x-unknown"}',
    ],
)
async def test_garbage_manifests_are_manifest_invalid(harness: Harness, body: bytes) -> None:
    before = harness.snapshot()
    resp = await harness.client.put(
        "/v2/g/manifests/v1", data=body, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_INVALID")
    assert harness.snapshot() == before


async def test_declared_type_must_match_the_document(harness: Harness) -> None:
    image = make_image()
    await harness.push_blob("t", image.config)
    await harness.push_blob("t", image.layers[0])
    resp = await harness.client.put(
        "/v2/t/manifests/v1", data=image.manifest, headers={"Content-Type": mt.DOCKER_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_INVALID")


async def test_wrong_digest_reference_is_digest_invalid(harness: Harness) -> None:
    image = make_image()
    await harness.push_blob("w", image.config)
    await harness.push_blob("w", image.layers[0])
    before = harness.snapshot()
    resp = await harness.client.put(
        f"/v2/w/manifests/{digest_of(b'other')}",
        data=image.manifest,
        headers={"Content-Type": mt.OCI_MANIFEST},
    )
    assert (resp.status, await error_code(resp)) == (400, "DIGEST_INVALID")
    assert harness.snapshot() == before


@pytest.mark.parametrize("tag", ["a" * 200, "v1%21", ".hidden", "-dash", "a+b"])
async def test_put_with_an_invalid_tag_is_tag_invalid(harness: Harness, tag: str) -> None:
    image = make_image()
    await harness.push_blob("w", image.config)
    await harness.push_blob("w", image.layers[0])
    before = harness.snapshot()
    resp = await harness.client.put(
        f"/v2/w/manifests/{tag}", data=image.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (400, "TAG_INVALID")
    assert harness.snapshot() == before


async def test_manifest_over_4_mib_is_refused(harness: Harness) -> None:
    image = make_image(annotations={"pad": "x" * (4 << 20)})
    await harness.push_blob("big", image.config)
    await harness.push_blob("big", image.layers[0])
    before = harness.snapshot()
    resp = await harness.client.put(
        "/v2/big/manifests/v1", data=image.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (resp.status, await error_code(resp)) == (413, "SIZE_INVALID")
    assert harness.snapshot() == before


async def test_layer_size_mismatch_is_manifest_invalid(harness: Harness) -> None:
    image = make_image()
    doc = json.loads(image.manifest)
    doc["layers"][0]["size"] += 1
    await harness.push_blob("s", image.config)
    await harness.push_blob("s", image.layers[0])
    resp = await harness.client.put(
        "/v2/s/manifests/v1",
        data=json.dumps(doc).encode(),
        headers={"Content-Type": mt.OCI_MANIFEST},
    )
    assert (resp.status, await error_code(resp)) == (400, "MANIFEST_INVALID")


async def test_unknown_manifest_and_unknown_repository(harness: Harness) -> None:
    await harness.push_image("known", "v1")
    resp = await harness.client.get("/v2/known/manifests/nope")
    assert (resp.status, await error_code(resp)) == (404, "MANIFEST_UNKNOWN")
    resp = await harness.client.get("/v2/unknown/manifests/v1")
    assert (resp.status, await error_code(resp)) == (404, "NAME_UNKNOWN")
    resp = await harness.client.get("/v2/unknown/tags/list")
    assert (resp.status, await error_code(resp)) == (404, "NAME_UNKNOWN")


async def test_delete_tag_and_delete_by_digest(harness: Harness) -> None:
    image = await harness.push_image("del", "v1")
    resp = await harness.client.put(
        "/v2/del/manifests/v2", data=image.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert resp.status == 201
    untag = await harness.client.delete("/v2/del/manifests/v1")
    assert untag.status == 202
    assert (await harness.client.get("/v2/del/manifests/v1")).status == 404
    assert (await harness.client.get(f"/v2/del/manifests/{image.digest}")).status == 200
    gone = await harness.client.delete(f"/v2/del/manifests/{image.digest}")
    assert gone.status == 202
    assert (await harness.client.get(f"/v2/del/manifests/{image.digest}")).status == 404
    assert (await harness.client.get("/v2/del/manifests/v2")).status == 404
    again = await harness.client.delete(f"/v2/del/manifests/{image.digest}")
    assert (again.status, await error_code(again)) == (404, "MANIFEST_UNKNOWN")


async def test_deletes_can_be_disabled(driver: object) -> None:
    from cais.registry import Registry

    assert not isinstance(driver, type)
    registry = Registry(driver, allow_delete=False)  # type: ignore[arg-type]
    client = await serve(registry)
    try:
        harness = Harness(client, registry)
        image = await harness.push_image("nd", "v1")
        resp = await client.delete(f"/v2/nd/manifests/{image.digest}")
        assert (resp.status, await error_code(resp)) == (405, "UNSUPPORTED")
        assert (await client.get("/v2/nd/manifests/v1")).status == 200
    finally:
        await client.close()


async def test_tag_list_pagination_with_link_header(harness: Harness) -> None:
    image = await harness.push_image("p", "t00")
    for i in range(1, 7):
        await harness.client.put(
            f"/v2/p/manifests/t{i:02d}",
            data=image.manifest,
            headers={"Content-Type": mt.OCI_MANIFEST},
        )
    seen: list[str] = []
    url: str | None = "/v2/p/tags/list?n=3"
    pages = 0
    while url is not None:
        resp = await harness.client.get(url)
        body = await resp.json()
        assert body["name"] == "p"
        seen += body["tags"]
        pages += 1
        link = resp.headers.get("Link")
        if link is None:
            url = None
        else:
            assert link.endswith('>; rel="next"')
            url = rel(link[1 : link.index(">")])
    assert seen == [f"t{i:02d}" for i in range(7)]
    assert pages == 3
    after = await harness.client.get("/v2/p/tags/list", params={"last": "t04"})
    assert (await after.json())["tags"] == ["t05", "t06"]
    assert "Link" not in after.headers
    empty = await harness.client.get("/v2/p/tags/list", params={"n": "0"})
    assert (await empty.json())["tags"] == []
    bad = await harness.client.get("/v2/p/tags/list", params={"n": "-1"})
    assert (bad.status, await error_code(bad)) == (400, "PAGINATION_NUMBER_INVALID")


async def test_catalog_pagination(harness: Harness) -> None:
    names = ["a", "b/c", "b/d", "e"]
    for name in names:
        await harness.push_image(name, "latest")
    first = await harness.client.get("/v2/_catalog", params={"n": "2"})
    assert (await first.json())["repositories"] == ["a", "b/c"]
    link = first.headers["Link"]
    second = await harness.client.get(rel(link[1 : link.index(">")]))
    assert (await second.json())["repositories"] == ["b/d", "e"]
    everything = await harness.client.get("/v2/_catalog")
    assert (await everything.json())["repositories"] == names


async def test_referrers_with_subject_header_and_artifact_type_filter(harness: Harness) -> None:
    subject = await harness.push_image("art", "v1")
    descriptor = {
        "mediaType": mt.OCI_MANIFEST,
        "digest": str(subject.digest),
        "size": len(subject.manifest),
    }
    sbom = make_image(
        subject=descriptor,
        artifact_type="application/spdx+json",
        annotations={"kind": "sbom"},
        layers=(b"{}",),
    )
    sig = make_image(
        subject=descriptor,
        config_type="application/vnd.cncf.notary.signature",
        layers=(os.urandom(30),),
    )
    for art in (sbom, sig):
        await harness.push_blob("art", art.config)
        await harness.push_blob("art", art.layers[0])
        resp = await harness.client.put(
            f"/v2/art/manifests/{art.digest}",
            data=art.manifest,
            headers={"Content-Type": mt.OCI_MANIFEST},
        )
        assert resp.status == 201
        assert resp.headers["OCI-Subject"] == str(subject.digest)
    listing = await harness.client.get(f"/v2/art/referrers/{subject.digest}")
    assert listing.status == 200
    assert listing.headers["Content-Type"] == mt.OCI_INDEX
    assert "OCI-Filters-Applied" not in listing.headers
    body = await listing.json()
    assert body["mediaType"] == mt.OCI_INDEX
    by_type = {m["artifactType"]: m for m in body["manifests"]}
    assert set(by_type) == {"application/spdx+json", "application/vnd.cncf.notary.signature"}
    assert by_type["application/spdx+json"]["digest"] == str(sbom.digest)
    assert by_type["application/spdx+json"]["annotations"] == {"kind": "sbom"}
    filtered = await harness.client.get(
        f"/v2/art/referrers/{subject.digest}", params={"artifactType": "application/spdx+json"}
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in (await filtered.json())["manifests"]] == [str(sbom.digest)]
    await harness.client.delete(f"/v2/art/manifests/{sbom.digest}")
    after = await (await harness.client.get(f"/v2/art/referrers/{subject.digest}")).json()
    assert [m["digest"] for m in after["manifests"]] == [str(sig.digest)]
    none = await harness.client.get(f"/v2/art/referrers/{digest_of(b'nothing')}")
    assert (none.status, (await none.json())["manifests"]) == (200, [])
    bad = await harness.client.get("/v2/art/referrers/sha256:nope")
    assert (bad.status, await error_code(bad)) == (400, "DIGEST_INVALID")


async def test_subject_may_not_exist_yet(harness: Harness) -> None:
    missing = {"mediaType": mt.OCI_MANIFEST, "digest": str(digest_of(b"later")), "size": 5}
    art = make_image(subject=missing, artifact_type="application/x-test", layers=(b"a",))
    await harness.push_blob("lazy", art.config)
    await harness.push_blob("lazy", art.layers[0])
    resp = await harness.client.put(
        "/v2/lazy/manifests/sig", data=art.manifest, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert resp.status == 201
    assert resp.headers["OCI-Subject"] == missing["digest"]
