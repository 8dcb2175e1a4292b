"""What every handler gets (:class:`RequestContext`) and the helpers they share."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from cais.registry import errors as e
from cais.registry.auth import Authenticator, Identity, Verdict
from cais.registry.registry import Page, Registry
from cais.registry.scopes import Scope

T = TypeVar("T")

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"
JSON = "application/json"


@dataclass(frozen=True)
class RequestContext:
    request: web.Request
    params: Mapping[str, str]
    registry: Registry
    auth: Authenticator
    identity: Identity | None
    executor: Executor

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
        """Call blocking domain code (storage I/O) on the registry's worker threads."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    @property
    def name(self) -> str:
        return self.params["name"]

    @property
    def base_url(self) -> str:
        return f"{self.request.scheme}://{self.request.host}"

    def absolute(self, path: str) -> str:
        return self.base_url + path

    def may(self, scope: Scope) -> bool:
        return self.auth.decide(self.identity, [scope]) is Verdict.ALLOW

    def query_int(self, key: str) -> int | None:
        raw = self.request.query.get(key)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise e.RegistryError(e.PAGINATION_NUMBER_INVALID, detail={key: raw}) from None


def error_response(err: e.RegistryError) -> web.Response:
    return web.json_response(err.to_json(), status=err.status, headers=err.headers)


def paged(ctx: RequestContext, body: dict[str, Any], page: Page, next_url: str) -> web.Response:
    """A JSON listing with an RFC 5988 ``Link: <…>; rel="next"`` when more entries follow."""
    headers = {}
    if page.more and page.items:
        headers["Link"] = f'<{next_url}>; rel="next"'
    return web.json_response(body, headers=headers)
