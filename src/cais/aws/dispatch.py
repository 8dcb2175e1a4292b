"""awsJson1_1 dispatch: ``X-Amz-Target`` → service → operation → provider method.

A service registers a provider object: for operation ``DescribeLogGroups`` the dispatcher
calls ``provider.describe_log_groups(ctx, params)``; ``params`` are checked against the
operation's input shape and the returned dict is serialised with its output shape. A
provider method may be a coroutine function (awaited on the event loop) or a plain function
(run in a worker thread, so blocking SQLite calls never stall the server).

Order of checks for one request, as AWS's front end does it: body size, target (service),
signature, operation, JSON, input shape, provider.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from cais.aws import errors
from cais.aws.context import Principal, RequestContext
from cais.aws.errors import AwsError
from cais.aws.models import ServiceModels
from cais.aws.request import AwsRequest, AwsResponse
from cais.aws.serialize import Serializer, ShapeError
from cais.aws.validate import Validator

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class Authenticator(Protocol):
    """Verifies a request for a service's signing name: the principal and the region."""

    def verify(self, request: AwsRequest, *, service: str) -> tuple[Principal, str]: ...


@dataclass(frozen=True)
class Service:
    """One registered AWS service: its model, its provider and how it names bad input."""

    name: str
    model: ServiceModel
    provider: object
    validation_error: str
    target_prefix: str
    signing_name: str
    operations: Mapping[str, Callable[..., Any]]


class Dispatcher:
    """The registry of services behind ``POST /``, and the handling of one request."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        models: ServiceModels | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        executor: Executor | None = None,
    ) -> None:
        self._auth = authenticator
        self.models = models or ServiceModels()
        self._validator = Validator(self.models.regex)
        self._serializer = Serializer()
        self.max_body_bytes = max_body_bytes
        self._executor = executor
        self._services: dict[str, Service] = {}

    def register(
        self,
        name: str,
        provider: object,
        *,
        validation_error: str = "ValidationException",
    ) -> Service:
        """Serve botocore service ``name`` (``logs``, ``ecr``, ``ecs``…) with ``provider``.

        ``validation_error`` is the type this service gives input that breaks its model
        (``InvalidParameterException`` for ECR, ECS and Logs, ``ValidationException`` for
        Application Auto Scaling).
        """
        model = self.models.get(name)
        prefix = model.metadata["targetPrefix"]
        operations = {}
        for op in model.operation_names:
            method = getattr(provider, xform_name(op), None)
            if callable(method):
                operations[op] = method
        service = Service(
            name=name,
            model=model,
            provider=provider,
            validation_error=validation_error,
            target_prefix=prefix,
            signing_name=model.signing_name or model.endpoint_prefix,
            operations=operations,
        )
        self._services[prefix] = service
        return service

    @property
    def services(self) -> Mapping[str, Service]:
        """Registered services by target prefix."""
        return dict(self._services)

    async def handle(self, request: AwsRequest) -> AwsResponse:
        """Any request in, an AWS-shaped response out (errors included)."""
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        target = request.header("X-Amz-Target") or ""
        try:
            body = await self._handle(request, request_id, target)
            response = AwsResponse(200, body, self._headers(request_id))
        except AwsError as exc:
            response = self.error_response(exc, request_id)
        except Exception:
            log.exception("%s failed (request %s)", target, request_id)
            response = self.error_response(errors.internal_failure(request_id), request_id)
        log.debug(
            "%s %d %.1fms %s",
            target,
            response.status,
            (time.perf_counter() - started) * 1e3,
            request_id,
        )
        return response

    async def _handle(self, request: AwsRequest, request_id: str, target: str) -> bytes:
        if len(request.body) > self.max_body_bytes:
            raise errors.request_too_large(len(request.body), self.max_body_bytes)
        prefix, _, operation = target.rpartition(".")
        service = self._services.get(prefix)
        if service is None or not operation:
            raise errors.unknown_operation(target)
        principal, region = self._auth.verify(request, service=service.signing_name)
        if operation not in service.model.operation_names:
            raise errors.unknown_operation(target)
        method = service.operations.get(operation)
        if method is None:
            raise AwsError(
                "UnknownOperationException", f"Operation {operation} is not supported by cais"
            )
        op_model = service.model.operation_model(operation)
        raw = _parse_json(request.body)
        params = self._validator.validate(
            op_model.input_shape, raw, error_type=service.validation_error
        )
        ctx = RequestContext(
            account_id=principal.account_id,
            region=region,
            request_id=request_id,
            principal=principal,
            service=service.name,
            operation=operation,
        )
        result = await self._call(method, ctx, params)
        return self._serialize(op_model, result, ctx)

    async def _call(
        self, method: Callable[..., Any], ctx: RequestContext, params: dict[str, Any]
    ) -> Mapping[str, Any] | None:
        if inspect.iscoroutinefunction(method):
            result: Mapping[str, Any] | None = await method(ctx, params)
            return result
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(method, ctx, params))

    def _serialize(
        self, op_model: OperationModel, result: Mapping[str, Any] | None, ctx: RequestContext
    ) -> bytes:
        try:
            out = self._serializer.serialize(op_model.output_shape, result or {})
        except ShapeError:
            log.exception("%s returned a malformed result", ctx.operation)
            raise errors.internal_failure(ctx.request_id) from None
        return json.dumps(out, separators=(",", ":")).encode()

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}

    def error_response(self, exc: AwsError, request_id: str) -> AwsResponse:
        body = json.dumps(exc.body()).encode()
        return AwsResponse(exc.status, body, self._headers(request_id))


def _parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.serialization(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise errors.serialization("Request body must be a JSON object")
    return value
