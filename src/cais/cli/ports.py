"""Port mappings as ``ps`` and ``port`` show them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cais.engine import Engine
    from cais.runtime.model import Container


def ports_text(engine: Engine, container: Container) -> str:
    """``0.0.0.0:8080->80/tcp, …`` for a running container with published ports."""
    if container.state.status not in ("running", "paused") or not (
        container.config.publish or container.config.publish_all
    ):
        return ""
    return ", ".join(str(m) for m in engine.networks.ports_of(container.id))


def port_lines(engine: Engine, container: Container, wanted: str | None) -> list[str]:
    """``cais port`` lines: ``80/tcp -> 0.0.0.0:8080``."""
    out = []
    for m in engine.networks.ports_of(container.id):
        key = f"{m.container_port}/{m.protocol}"
        if wanted and wanted not in (key, str(m.container_port)):
            continue
        target = f"{m.host_ip or '0.0.0.0'}:{m.host_port}"
        out.append(target if wanted else f"{key} -> {target}")
    return out
