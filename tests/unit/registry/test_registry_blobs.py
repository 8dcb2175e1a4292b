"""Blob endpoints: fetch with Range, uploads (monolithic, chunked, streamed), mount, delete."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from cais.registry.blobs import CHUNK
from registry.registry_harness import Harness, digest_of, error_code, rel

pytestmark = pytest.mark.asyncio


async def test_version_check_answers_with_api_version(harness: Harness) -> None:
    resp = await harness.client.get("/v2/")
    assert resp.status == 200
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert await resp.json() == {}


async def test_monolithic_push_then_get_and_head(harness: Harness) -> None:
    data = os.urandom(5000)
    digest = digest_of(data)
    resp = await harness.client.post(
        "/v2/lib/app/blobs/uploads/", params={"digest": str(digest)}, data=data
    )
    assert resp.status == 201
    assert resp.headers["Docker-Content-Digest"] == str(digest)
    assert resp.headers["Location"].endswith(f"/v2/lib/app/blobs/{digest}")
    head = await harness.client.head(f"/v2/lib/app/blobs/{digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == "5000"
    assert head.headers["Docker-Content-Digest"] == str(digest)
    got = await harness.client.get(f"/v2/lib/app/blobs/{digest}")
    assert got.status == 200
    assert await got.read() == data


async def test_blob_range_requests(harness: Harness) -> None:
    data = bytes(range(256)) * 10
    digest = await harness.push_blob("r", data)
    url = f"/v2/r/blobs/{digest}"
    part = await harness.client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert await part.read() == data[10:20]
    tail = await harness.client.get(url, headers={"Range": "bytes=-5"})
    assert (tail.status, await tail.read()) == (206, data[-5:])
    rest = await harness.client.get(url, headers={"Range": "bytes=2550-"})
    assert (rest.status, await rest.read()) == (206, data[2550:])


async def test_bad_and_unsatisfiable_ranges_get_416(harness: Harness) -> None:
    data = b"x" * 100
    digest = await harness.push_blob("r", data)
    for bad in ("bytes=100-", "bytes=50-10", "items=0-1", "bytes=-0", "bytes=0-1,5-6"):
        resp = await harness.client.get(f"/v2/r/blobs/{digest}", headers={"Range": bad})
        assert resp.status == 416, bad
        assert resp.headers["Content-Range"] == "bytes */100"
        assert await error_code(resp) == "RANGE_INVALID"


async def test_unknown_blob_and_blob_of_another_repository(harness: Harness) -> None:
    digest = await harness.push_blob("mine", b"secret")
    resp = await harness.client.get(f"/v2/other/blobs/{digest}")
    assert resp.status == 404
    assert await error_code(resp) == "BLOB_UNKNOWN"
    head = await harness.client.head(f"/v2/mine/blobs/{digest_of(b'nothing')}")
    assert head.status == 404


async def test_invalid_digest_and_invalid_name(harness: Harness) -> None:
    resp = await harness.client.get("/v2/r/blobs/sha256:abc")
    assert (resp.status, await error_code(resp)) == (400, "DIGEST_INVALID")
    for name in ("UPPER", "a//b", "-lead", "a/_layers", "x" * 300):
        resp = await harness.client.get(f"/v2/{name}/blobs/{digest_of(b'')}")
        assert (resp.status, await error_code(resp)) == (400, "NAME_INVALID"), name


async def test_wrong_digest_stores_nothing(harness: Harness) -> None:
    before = harness.snapshot()
    resp = await harness.client.post(
        "/v2/r/blobs/uploads/", params={"digest": str(digest_of(b"other"))}, data=b"payload"
    )
    assert (resp.status, await error_code(resp)) == (400, "DIGEST_INVALID")
    assert harness.snapshot() == before


async def test_chunked_upload_with_status_and_out_of_order_chunk(harness: Harness) -> None:
    data = os.urandom(3000)
    client = harness.client
    start = await client.post("/v2/c/blobs/uploads/")
    assert start.status == 202
    assert start.headers["Range"] == "0-0"
    location = rel(start.headers["Location"])
    uuid = start.headers["Docker-Upload-UUID"]
    assert location.endswith(f"/v2/c/blobs/uploads/{uuid}")
    first = await client.patch(
        location,
        data=data[:1000],
        headers={"Content-Range": "0-999", "Content-Type": "application/octet-stream"},
    )
    assert first.status == 202
    assert first.headers["Range"] == "0-999"
    wrong = await client.patch(
        location, data=data[1500:2000], headers={"Content-Range": "1500-1999"}
    )
    assert wrong.status == 416
    assert wrong.headers["Range"] == "0-999"
    assert await error_code(wrong) == "RANGE_INVALID"
    status = await client.get(location)
    assert status.status == 204
    assert status.headers["Range"] == "0-999"
    second = await client.patch(
        location, data=data[1000:2000], headers={"Content-Range": "1000-1999"}
    )
    assert second.headers["Range"] == "0-1999"
    done = await client.put(
        location,
        params={"digest": str(digest_of(data))},
        data=data[2000:],
        headers={"Content-Range": "2000-2999"},
    )
    assert done.status == 201, await done.text()
    got = await client.get(f"/v2/c/blobs/{digest_of(data)}")
    assert await got.read() == data
    gone = await client.get(location)
    assert (gone.status, await error_code(gone)) == (404, "BLOB_UPLOAD_UNKNOWN")


async def test_content_range_not_matching_length_is_size_invalid(harness: Harness) -> None:
    start = await harness.client.post("/v2/c/blobs/uploads/")
    location = rel(start.headers["Location"])
    before = harness.snapshot()
    resp = await harness.client.patch(location, data=b"x" * 10, headers={"Content-Range": "0-19"})
    assert (resp.status, await error_code(resp)) == (400, "SIZE_INVALID")
    assert harness.snapshot() == before


async def test_streamed_upload_of_a_large_blob_is_hashed_while_received(
    harness: Harness,
) -> None:
    data = os.urandom(3 * CHUNK + 12345)

    async def body():  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    start = await harness.client.post("/v2/big/blobs/uploads/")
    location = rel(start.headers["Location"])
    patched = await harness.client.patch(location, data=body())
    assert patched.status == 202
    assert patched.headers["Range"] == f"0-{len(data) - 1}"
    done = await harness.client.put(location, params={"digest": str(digest_of(data))})
    assert done.status == 201
    got = await harness.client.get(f"/v2/big/blobs/{digest_of(data)}")
    assert hashlib.sha256(await got.read()).hexdigest() == digest_of(data).encoded


async def test_finishing_with_wrong_digest_removes_the_upload(harness: Harness) -> None:
    before = harness.snapshot()
    start = await harness.client.post("/v2/c/blobs/uploads/")
    location = rel(start.headers["Location"])
    await harness.client.patch(location, data=b"some bytes")
    resp = await harness.client.put(location, params={"digest": str(digest_of(b"else"))})
    assert (resp.status, await error_code(resp)) == (400, "DIGEST_INVALID")
    assert harness.snapshot() == before
    missing = await harness.client.put(location, params={"digest": str(digest_of(b"x"))})
    assert missing.status == 404


async def test_finish_without_digest_is_digest_invalid(harness: Harness) -> None:
    start = await harness.client.post("/v2/c/blobs/uploads/")
    resp = await harness.client.put(rel(start.headers["Location"]), data=b"abc")
    assert (resp.status, await error_code(resp)) == (400, "DIGEST_INVALID")


async def test_cancelled_upload_leaves_no_blob(harness: Harness) -> None:
    before = harness.snapshot()
    start = await harness.client.post("/v2/c/blobs/uploads/")
    location = rel(start.headers["Location"])
    await harness.client.patch(location, data=b"abandoned")
    resp = await harness.client.delete(location)
    assert resp.status == 204
    assert harness.snapshot() == before
    again = await harness.client.delete(location)
    assert (again.status, await error_code(again)) == (404, "BLOB_UPLOAD_UNKNOWN")


async def test_upload_unknown_and_upload_of_other_repository(harness: Harness) -> None:
    resp = await harness.client.get("/v2/c/blobs/uploads/0123456789abcdef0123456789abcdef")
    assert (resp.status, await error_code(resp)) == (404, "BLOB_UPLOAD_UNKNOWN")
    resp = await harness.client.patch("/v2/c/blobs/uploads/../../etc", data=b"x")
    assert resp.status in (400, 404)
    start = await harness.client.post("/v2/a/blobs/uploads/")
    uuid = start.headers["Docker-Upload-UUID"]
    other = await harness.client.get(f"/v2/b/blobs/uploads/{uuid}")
    assert (other.status, await error_code(other)) == (404, "BLOB_UPLOAD_UNKNOWN")


async def test_cross_repository_mount_with_and_without_from(harness: Harness) -> None:
    data = os.urandom(100)
    digest = await harness.push_blob("src/repo", data)
    stored = len([p for p in harness.snapshot() if p.startswith("/blobs/")])
    mounted = await harness.client.post(
        "/v2/dst/blobs/uploads/", params={"mount": str(digest), "from": "src/repo"}
    )
    assert mounted.status == 201
    assert mounted.headers["Location"].endswith(f"/v2/dst/blobs/{digest}")
    assert await (await harness.client.get(f"/v2/dst/blobs/{digest}")).read() == data
    fromless = await harness.client.post("/v2/third/blobs/uploads/", params={"mount": str(digest)})
    assert fromless.status == 201
    assert len([p for p in harness.snapshot() if p.startswith("/blobs/")]) == stored
    missing = await harness.client.post(
        "/v2/dst/blobs/uploads/", params={"mount": str(digest_of(b"no")), "from": "src/repo"}
    )
    assert missing.status == 202  # falls back to an upload session
    assert "Docker-Upload-UUID" in missing.headers


async def test_blob_delete(harness: Harness) -> None:
    digest = await harness.push_blob("d", b"delete me")
    resp = await harness.client.delete(f"/v2/d/blobs/{digest}")
    assert resp.status == 202
    gone = await harness.client.head(f"/v2/d/blobs/{digest}")
    assert gone.status == 404
    again = await harness.client.delete(f"/v2/d/blobs/{digest}")
    assert (again.status, await error_code(again)) == (404, "BLOB_UNKNOWN")


async def test_same_blob_in_two_repositories_is_stored_once(harness: Harness) -> None:
    data = os.urandom(1000)
    await harness.push_blob("one", data)
    await harness.push_blob("two", data)
    blobs = [p for p in harness.snapshot() if p.startswith("/blobs/")]
    assert len(blobs) == 1


async def test_empty_blob(harness: Harness) -> None:
    digest = await harness.push_blob("e", b"")
    got = await harness.client.get(f"/v2/e/blobs/{digest}")
    assert (got.status, await got.read()) == (200, b"")


async def test_unknown_path_and_method(harness: Harness) -> None:
    resp = await harness.client.get("/v2/r/nothing/here")
    assert (resp.status, await error_code(resp)) == (404, "NOT_FOUND")
    resp = await harness.client.post(f"/v2/r/blobs/{digest_of(b'')}")
    assert (resp.status, await error_code(resp)) == (405, "UNSUPPORTED")
    assert "GET" in resp.headers["Allow"]


async def test_too_many_writes_in_flight_get_429(registry: object) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from cais.registry import Registry
    from cais.registry.http import create_app

    assert isinstance(registry, Registry)
    client: TestClient = TestClient(TestServer(create_app(registry, max_writes=1)))  # type: ignore[type-arg]
    await client.start_server()
    try:
        gate = asyncio.Event()

        async def slow_body():  # type: ignore[no-untyped-def]
            yield b"first"
            await gate.wait()
            yield b"second"

        start = await client.post("/v2/q/blobs/uploads/")
        location = rel(start.headers["Location"])
        slow = asyncio.ensure_future(client.patch(location, data=slow_body()))
        await asyncio.sleep(0.2)
        busy = await client.post("/v2/q/blobs/uploads/")
        assert (busy.status, await error_code(busy)) == (429, "TOO_MANY_REQUESTS")
        assert busy.headers["Retry-After"] == "1"
        reads = await client.get("/v2/")
        assert reads.status == 200  # reads are never throttled
        gate.set()
        assert (await slow).status == 202
        assert (await client.post("/v2/q/blobs/uploads/")).status == 202
    finally:
        await client.close()
