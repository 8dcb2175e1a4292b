"""Fixtures: a Registry on each storage driver, served by aiohttp's test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cais.registry import Registry
from cais.registry.storage import FilesystemDriver, MemoryDriver, StorageDriver
from registry.registry_harness import Harness, serve


@pytest.fixture(params=["fs", "memory"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageDriver]:
    if request.param == "fs":
        yield FilesystemDriver(tmp_path / "storage")
    else:
        yield MemoryDriver()


@pytest.fixture
def registry(driver: StorageDriver) -> Registry:
    return Registry(driver)


@pytest_asyncio.fixture
async def harness(registry: Registry) -> AsyncIterator[Harness]:
    client = await serve(registry)
    try:
        yield Harness(client, registry)
    finally:
        await client.close()
