"""The names other rooms build on: removing one is a breaking change, so it is pinned."""

from __future__ import annotations

import cais.aws
import cais.logs


def test_protocol_layer_public_names() -> None:
    expected = {
        "AwsError",
        "Dispatcher",
        "RequestContext",
        "Principal",
        "CredentialStore",
        "SigV4Verifier",
        "add_aws_routes",
        "edge_dispatcher",
        "BackgroundServer",
        "TokenCodec",
        "paginate",
        "page_size",
        "arn",
        "Arn",
        "DEFAULT_ACCESS_KEY_ID",
        "DEFAULT_SECRET_ACCESS_KEY",
        "DEFAULT_ACCOUNT_ID",
    }
    assert expected <= set(cais.aws.__all__)
    for name in cais.aws.__all__:
        assert getattr(cais.aws, name) is not None


def test_logs_public_names() -> None:
    assert {"LogStore", "InputEvent", "Scope", "register", "LogsProvider"} <= set(cais.logs.__all__)
    for name in cais.logs.__all__:
        assert getattr(cais.logs, name) is not None
