"""Fixtures for build tests: a context to fill and build from, running an image, and a
check after every test that no container, mount or active snapshot was left behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from buildsupport import BuildKit, leftovers

from cais.engine import Engine


@pytest.fixture
def kit(engine: Engine, busybox: str, tmp_path: Path) -> Iterator[BuildKit]:
    context = tmp_path / "context"
    context.mkdir()
    yield BuildKit(engine, context)
    assert leftovers(engine) == []


@pytest.fixture
def run_image(engine: Engine) -> Callable[..., str]:
    """Run a command in an image and return its output (the container is removed)."""
    from cais.runtime.configure import RunOptions, configure
    from cais.runtime.logs import read

    def run(image: str, *command: str) -> str:
        img = engine.image_store.resolve(image)
        config = configure(img, image, RunOptions(command=tuple(command)))
        container = engine.containers.create(config)
        try:
            engine.containers.start(container.id)
            final = engine.containers.wait(container.id, timeout=60)
            text = b"".join(
                line.text + (b"" if line.partial else b"\n")
                for line in read(engine.containers.log_path(container.id))
            ).decode()
            assert final.state.exit_code == 0, text
            return text
        finally:
            engine.containers.remove(container.id, force=True, volumes=True)

    return run
