"""Fixtures for the protocol layer: a key store and requests signed by botocore itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cais.aws.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    CredentialStore,
)
from cais.aws.request import AwsRequest
from cais.state.sqlite import Database

HOST = "127.0.0.1:4510"

Signer = Callable[..., AwsRequest]


@pytest.fixture
def keys(tmp_path: Path) -> CredentialStore:
    store = CredentialStore(Database(tmp_path / "cais.db"))
    store.ensure_default()
    return store


@pytest.fixture
def sign() -> Signer:
    """Build a request the way boto3 would send it, signed by botocore's SigV4Auth."""

    def build(
        body: bytes = b"{}",
        *,
        target: str = "Logs_20140328.DescribeLogGroups",
        service: str = "logs",
        region: str = "us-east-1",
        access_key: str = DEFAULT_ACCESS_KEY_ID,
        secret: str = DEFAULT_SECRET_ACCESS_KEY,
        path: str = "/",
        token: str | None = None,
    ) -> AwsRequest:
        request = AWSRequest(
            method="POST",
            url=f"http://{HOST}{path}",
            data=body,
            headers={
                "X-Amz-Target": target,
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        SigV4Auth(Credentials(access_key, secret, token), service, region).add_auth(request)
        raw_path, _, query = path.partition("?")
        return AwsRequest(
            method="POST",
            path=raw_path,
            query=query,
            headers=(("Host", HOST), *((k, str(v)) for k, v in request.headers.items())),
            body=body,
        )

    return build
