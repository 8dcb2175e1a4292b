"""Large uploads stream to disk: the server's memory stays flat whatever the blob size."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from cais.registry import Registry
from cais.registry.storage import FilesystemDriver
from registry.registry_harness import rel, serve

pytestmark = pytest.mark.asyncio

MIB = 1 << 20


async def test_a_48_mib_upload_never_holds_more_than_a_few_mib(tmp_path: Path) -> None:
    block = hashlib.sha256(b"seed").digest() * (MIB // 32)  # 1 MiB, cheap to repeat
    total = 48
    expected = hashlib.sha256()
    for _ in range(total):
        expected.update(block)
    registry = Registry(FilesystemDriver(tmp_path / "s"))
    client = await serve(registry)

    async def body():  # type: ignore[no-untyped-def]
        for _ in range(total):
            yield block

    try:
        start = await client.post("/v2/big/blobs/uploads/")
        location = rel(start.headers["Location"])
        tracemalloc.start()
        try:
            resp = await client.put(
                location, params={"digest": f"sha256:{expected.hexdigest()}"}, data=body()
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert resp.status == 201, await resp.text()
        assert peak < 12 * MIB, f"peak {peak / MIB:.1f} MiB for a {total} MiB upload"
        head = await client.head(f"/v2/big/blobs/sha256:{expected.hexdigest()}")
        assert head.headers["Content-Length"] == str(total * MIB)
    finally:
        await client.close()
