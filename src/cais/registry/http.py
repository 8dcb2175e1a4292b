"""The HTTP side: one dispatcher over the route table, auth, errors in the spec's JSON form,
and the app factory other processes use to mount the registry at ``/v2/``.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from cais.registry import errors as e
from cais.registry.auth import Authenticator, Identity, NoAuth, Verdict
from cais.registry.handlers.common import (
    API_VERSION,
    API_VERSION_HEADER,
    RequestContext,
    error_response,
)
from cais.registry.names import check_name
from cais.registry.registry import Registry
from cais.registry.routes import Access, Endpoint, match
from cais.registry.scopes import DELETE, PULL, PUSH, Scope

log = logging.getLogger(__name__)

READ_BUFSIZE = 1 << 20  # the socket read buffer of a request (aiohttp's default is 64 KiB)


def needed_scopes(endpoint: Endpoint, name: str | None) -> list[Scope]:
    if endpoint.access is Access.CATALOG:
        return [Scope.catalog()]
    if name is None:
        return []
    actions = {
        Access.PULL: (PULL,),
        Access.PUSH: (PULL, PUSH),
        Access.DELETE: (DELETE,),
    }.get(endpoint.access, ())
    return [Scope.repository(name, *actions)] if actions else []


class RegistryApi:
    """Serves one Registry over HTTP; ``dispatch`` is the only aiohttp handler it needs."""

    def __init__(
        self,
        registry: Registry,
        *,
        auth: Authenticator | None = None,
        workers: int = 16,
        max_writes: int = 256,
    ) -> None:
        self.registry = registry
        self.auth: Authenticator = auth or NoAuth()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry")
        # requests that stream a body (uploads, manifests) in flight; past it: 429
        self.max_writes = max_writes
        self._writes = 0

    async def close(self, _app: web.Application | None = None) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            response = await self._dispatch(request)
        except e.RegistryError as err:
            response = error_response(err)
        response.headers[API_VERSION_HEADER] = API_VERSION
        return response

    async def _authenticate(self, request: web.Request) -> Identity | None:
        header = request.headers.get("Authorization")
        if not self.auth.slow:
            return self.auth.authenticate(header)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.auth.authenticate, header)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        found = match(request.rel_url.raw_path)
        if found is None:
            raise e.RegistryError(e.NOT_FOUND, detail={"path": request.rel_url.raw_path})
        route, params = found
        endpoint = route.methods.get(request.method)
        if endpoint is None:
            raise e.RegistryError(
                e.UNSUPPORTED,
                f"{request.method} is not allowed on {route.name}",
                headers={"Allow": ", ".join(route.methods)},
            )
        name = params.get("name")
        if name is not None:
            check_name(name)
        identity: Identity | None = None
        if endpoint.access is not Access.PUBLIC:
            identity = await self._authenticate(request)
            scopes = needed_scopes(endpoint, name)
            verdict = self.auth.decide(identity, scopes)
            if verdict is not Verdict.ALLOW:
                self._refuse(request, verdict, scopes, identity)
        ctx = RequestContext(request, params, self.registry, self.auth, identity, self.executor)
        if endpoint.access is not Access.PUSH:
            return await endpoint.handler(ctx)
        if self._writes >= self.max_writes:
            raise e.RegistryError(
                e.TOO_MANY_REQUESTS,
                f"more than {self.max_writes} writes in progress",
                headers={"Retry-After": "1"},
            )
        self._writes += 1
        try:
            return await endpoint.handler(ctx)
        finally:
            self._writes -= 1

    def _refuse(
        self,
        request: web.Request,
        verdict: Verdict,
        scopes: list[Scope],
        identity: Identity | None,
    ) -> None:
        detail = [
            {"Type": s.type, "Name": s.name, "Action": a} for s in scopes for a in sorted(s.actions)
        ]
        if verdict is Verdict.DENIED:
            raise e.RegistryError(e.DENIED, detail=detail)
        base = f"{request.scheme}://{request.host}"
        challenge = self.auth.challenge(base, scopes, insufficient=identity is not None)
        raise e.RegistryError(
            e.UNAUTHORIZED, detail=detail or None, headers={"WWW-Authenticate": challenge}
        )


def add_registry_routes(
    app: web.Application,
    registry: Registry,
    *,
    auth: Authenticator | None = None,
    max_writes: int = 256,
) -> RegistryApi:
    """Mount the distribution API at ``/v2/`` on ``app`` (next to whatever else it serves)."""
    api = RegistryApi(registry, auth=auth, max_writes=max_writes)
    app.router.add_route("*", "/v2", api.dispatch)
    app.router.add_route("*", "/v2/{tail:.*}", api.dispatch)
    app.on_cleanup.append(api.close)
    return api


def create_app(
    registry: Registry, *, auth: Authenticator | None = None, max_writes: int = 256
) -> web.Application:
    """A stand-alone registry application (what ``cais registry serve`` runs)."""
    app = web.Application(handler_args={"read_bufsize": READ_BUFSIZE})
    add_registry_routes(app, registry, auth=auth, max_writes=max_writes)
    return app
