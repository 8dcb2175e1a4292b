"""A real AWS edge on 127.0.0.1 (a free port, a thread) with the Logs API, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config

from cais.aws import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    BackgroundServer,
    CredentialStore,
    Dispatcher,
    SigV4Verifier,
    add_aws_routes,
)
from cais.logs import LogStore, register
from cais.settings import Settings
from cais.state.sqlite import Database

REGION = "us-east-1"


@dataclass(frozen=True)
class AwsEdge:
    url: str
    db: Database
    keys: CredentialStore
    logs: LogStore

    def client(
        self,
        service: str = "logs",
        *,
        access_key: str = DEFAULT_ACCESS_KEY_ID,
        secret: str = DEFAULT_SECRET_ACCESS_KEY,
        region: str = REGION,
        validate: bool = True,
    ) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"},
                parameter_validation=validate,
            ),
        )

    def count(self, table: str) -> int:
        row = self.db.query_one(f"SELECT count(*) FROM {table}")
        assert row is not None
        return int(row[0])


@pytest.fixture
def edge(settings: Settings) -> Iterator[AwsEdge]:
    db = Database(settings.database)
    keys = CredentialStore(db)
    keys.ensure_default()
    logs = LogStore(db)
    dispatcher = Dispatcher(authenticator=SigV4Verifier(keys))
    register(dispatcher, logs)
    app = web.Application()
    add_aws_routes(app, dispatcher)
    with BackgroundServer(app) as server:
        yield AwsEdge(server.url, db, keys, logs)
    db.close()


@pytest.fixture
def logs(edge: AwsEdge) -> Any:
    return edge.client("logs")
