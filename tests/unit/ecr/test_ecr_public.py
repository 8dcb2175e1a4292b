"""The names other rooms build on (ECS pulls through ``Ecr``; ``cais up`` composes
components): removing one is a breaking change, so they are pinned."""

from __future__ import annotations

import cais.ecr
import cais.server


def test_ecr_public_names() -> None:
    expected = {
        "Ecr",
        "EcrStore",
        "EcrProvider",
        "EcrRegistryAuth",
        "EcrRegistryHooks",
        "LifecyclePolicy",
        "LoginTokens",
        "Login",
        "ImageId",
        "Repository",
        "TagMutability",
        "evaluate",
        "open_ecr",
        "register",
    }
    assert expected <= set(cais.ecr.__all__)
    for name in cais.ecr.__all__:
        assert getattr(cais.ecr, name) is not None


def test_server_public_names() -> None:
    expected = {
        "Component",
        "Background",
        "Platform",
        "Address",
        "Server",
        "UpOptions",
        "default_components",
        "periodic",
        "up",
        "EcrComponent",
        "LogsComponent",
        "DEFAULT_PORT",
    }
    assert expected <= set(cais.server.__all__)
    for name in cais.server.__all__:
        assert getattr(cais.server, name) is not None
    assert cais.server.DEFAULT_PORT == 2247
