"""Port mappings as ``ps`` and ``port`` show them (filled in by the network room)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cais.engine import Engine
    from cais.runtime.model import Container


def ports_text(engine: Engine, container: Container) -> str:
    del engine
    return ", ".join(container.config.publish) if container.state.status == "running" else ""


def port_lines(engine: Engine, container: Container, wanted: str | None) -> list[str]:
    """``cais port`` lines: ``80/tcp -> 0.0.0.0:8080``."""
    del engine, container, wanted
    return []
