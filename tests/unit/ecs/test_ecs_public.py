"""The ECS room's public names: what the server, the CLI and later rooms may import."""

from __future__ import annotations

import cais.ecs


def test_ecs_public_names() -> None:
    expected = {
        "AgentError",
        "AgentGateway",
        "Ecs",
        "EcsProvider",
        "EcsSettings",
        "EcsStore",
        "RegistryLogins",
        "Scope",
        "SpecBuilder",
        "SqliteEcsStore",
        "register",
    }
    assert expected <= set(cais.ecs.__all__)
    for name in cais.ecs.__all__:
        assert getattr(cais.ecs, name) is not None
