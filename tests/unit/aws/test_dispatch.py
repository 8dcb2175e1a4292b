"""Dispatch: the wire shape of successes and of every error the protocol layer produces."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest

from cais.aws.context import Principal, RequestContext
from cais.aws.dispatch import Dispatcher
from cais.aws.errors import AwsError
from cais.aws.models import ServiceModels
from cais.aws.request import AwsRequest, AwsResponse

ECR = "AmazonEC2ContainerRegistry_V20150921"


class Trusting:
    """Accepts every request as the default account in eu-north-1."""

    def verify(self, request: AwsRequest, *, service: str) -> tuple[Principal, str]:
        if request.header("Authorization") == "deny":
            raise AwsError("UnrecognizedClientException", "no", status=403)
        return Principal("AKIATEST", "123456789012", "tester"), "eu-north-1"


class FakeEcr:
    def __init__(self) -> None:
        self.seen: list[tuple[RequestContext, dict[str, Any]]] = []

    def describe_repositories(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.seen.append((ctx, params))
        return {
            "repositories": [
                {
                    "repositoryName": "app",
                    "repositoryArn": ctx.arn("ecr", "repository/app"),
                    "createdAt": dt.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=dt.UTC),
                    "imageTagMutability": "MUTABLE",
                    "registryId": None,
                }
            ]
        }

    async def create_repository(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        raise AwsError("RepositoryAlreadyExistsException", "exists")

    def delete_repository(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    def list_images(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"imageIds": [], "surprise": 1}


@pytest.fixture(scope="module")
def models() -> ServiceModels:
    return ServiceModels()


@pytest.fixture
def provider() -> FakeEcr:
    return FakeEcr()


@pytest.fixture
def dispatcher(models: ServiceModels, provider: FakeEcr) -> Dispatcher:
    d = Dispatcher(authenticator=Trusting(), models=models, max_body_bytes=1000)
    d.register("ecr", provider, validation_error="InvalidParameterException")
    return d


def call(
    d: Dispatcher, target: str, body: bytes | dict[str, Any] = b"{}", auth: str = "ok"
) -> tuple[AwsResponse, dict[str, Any]]:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    request = AwsRequest("POST", "/", "", (("X-Amz-Target", target), ("Authorization", auth)), raw)
    response = asyncio.run(d.handle(request))
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"]
    return response, json.loads(response.body)


def test_success_serialises_by_output_shape(dispatcher: Dispatcher, provider: FakeEcr) -> None:
    response, body = call(dispatcher, f"{ECR}.DescribeRepositories", {"maxResults": 5})
    assert response.status == 200
    repo = body["repositories"][0]
    assert repo["createdAt"] == 1704164645.25
    assert "registryId" not in repo
    assert repo["repositoryArn"] == "arn:aws:ecr:eu-north-1:123456789012:repository/app"
    ctx, params = provider.seen[0]
    assert params == {"maxResults": 5}
    assert (ctx.account_id, ctx.region, ctx.operation) == (
        "123456789012",
        "eu-north-1",
        "DescribeRepositories",
    )
    assert ctx.request_id == response.headers["x-amzn-RequestId"]


def test_provider_error_keeps_its_type(dispatcher: Dispatcher) -> None:
    response, body = call(dispatcher, f"{ECR}.CreateRepository", {"repositoryName": "app"})
    assert response.status == 400
    assert body == {"__type": "RepositoryAlreadyExistsException", "message": "exists"}


def test_validation_error_uses_the_service_type(dispatcher: Dispatcher) -> None:
    response, body = call(dispatcher, f"{ECR}.CreateRepository", {"repositoryName": "A"})
    assert response.status == 400
    assert body["__type"] == "InvalidParameterException"
    assert "repositoryName" in body["message"]


@pytest.mark.parametrize(
    "target",
    [f"{ECR}.NoSuchThing", "Nope_20200101.DescribeRepositories", "", f"{ECR}."],
)
def test_unknown_operation(dispatcher: Dispatcher, target: str) -> None:
    response, body = call(dispatcher, target)
    assert (response.status, body["__type"]) == (400, "UnknownOperationException")


def test_operation_the_provider_lacks(dispatcher: Dispatcher) -> None:
    _, body = call(dispatcher, f"{ECR}.PutImage", {"repositoryName": "a", "imageManifest": "{}"})
    assert body["__type"] == "UnknownOperationException"
    assert "not supported by cais" in body["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_json(dispatcher: Dispatcher, raw: bytes) -> None:
    response, body = call(dispatcher, f"{ECR}.DescribeRepositories", raw)
    assert (response.status, body["__type"]) == (400, "SerializationException")


def test_empty_body_is_an_empty_request(dispatcher: Dispatcher) -> None:
    response, _ = call(dispatcher, f"{ECR}.DescribeRepositories", b"")
    assert response.status == 200


def test_oversized_body(dispatcher: Dispatcher) -> None:
    response, body = call(dispatcher, f"{ECR}.DescribeRepositories", b" " * 1001)
    assert (response.status, body["__type"]) == (413, "RequestEntityTooLargeException")


def test_authentication_comes_before_the_operation(dispatcher: Dispatcher) -> None:
    response, body = call(dispatcher, f"{ECR}.NoSuchThing", auth="deny")
    assert (response.status, body["__type"]) == (403, "UnrecognizedClientException")


def test_unexpected_exception_is_an_internal_failure(dispatcher: Dispatcher) -> None:
    response, body = call(dispatcher, f"{ECR}.DeleteRepository", {"repositoryName": "app"})
    assert (response.status, body["__type"]) == (500, "InternalFailure")
    assert response.headers["x-amzn-RequestId"] in body["message"]


def test_result_outside_the_output_shape_is_an_internal_failure(dispatcher: Dispatcher) -> None:
    response, body = call(dispatcher, f"{ECR}.ListImages", {"repositoryName": "app"})
    assert (response.status, body["__type"]) == (500, "InternalFailure")


def test_registry_lists_services(dispatcher: Dispatcher) -> None:
    service = dispatcher.services[ECR]
    assert service.signing_name == "ecr"
    assert "DescribeRepositories" in service.operations
    assert "PutImage" not in service.operations
