"""The ``/v2/`` check, tag lists, the catalog, and the token endpoint."""

from __future__ import annotations

from aiohttp import web

from cais.registry import errors as e
from cais.registry import urls
from cais.registry.auth import TokenAuth
from cais.registry.handlers.common import RequestContext, paged
from cais.registry.scopes import Scope


async def base(ctx: RequestContext) -> web.StreamResponse:
    return web.json_response({})


async def list_tags(ctx: RequestContext) -> web.StreamResponse:
    n, last = ctx.query_int("n"), ctx.request.query.get("last")
    page = await ctx.run(ctx.registry.tags, ctx.name, n=n, last=last)
    next_url = urls.tags(ctx.name, n=n, last=page.items[-1] if page.items else None)
    return paged(ctx, {"name": ctx.name, "tags": list(page.items)}, page, next_url)


async def catalog(ctx: RequestContext) -> web.StreamResponse:
    n, last = ctx.query_int("n"), ctx.request.query.get("last")
    page = await ctx.run(ctx.registry.catalog, n=n, last=last)
    next_url = urls.catalog(n=n, last=page.items[-1] if page.items else None)
    return paged(ctx, {"repositories": list(page.items)}, page, next_url)


async def token(ctx: RequestContext) -> web.StreamResponse:
    """Docker's token protocol: GET with Basic credentials, or an OAuth2 password POST."""
    auth = ctx.auth
    if not isinstance(auth, TokenAuth):
        raise e.RegistryError(e.NOT_FOUND)
    if ctx.request.method == "POST":
        form = await ctx.request.post()
        if form.get("grant_type") != "password":
            raise e.RegistryError(e.UNSUPPORTED, "only the password grant is supported")
        user, password = str(form.get("username", "")), str(form.get("password", ""))
        raw_scopes = " ".join(str(v) for v in form.getall("scope", []))
        ok = await ctx.run(auth.users.check, user, password)
        issued = auth.issue_for(user, _scopes(raw_scopes.split())) if ok else None
    else:
        raw = [s for value in ctx.request.query.getall("scope", []) for s in value.split()]
        issued = await ctx.run(auth.issue, ctx.request.headers.get("Authorization"), _scopes(raw))
    if issued is None:
        raise e.RegistryError(
            e.UNAUTHORIZED,
            "valid credentials are required for a token",
            headers={"WWW-Authenticate": f'Basic realm="{auth.service}"'},
        )
    return web.json_response(issued)


def _scopes(raw: list[str]) -> list[Scope]:
    return [s for s in (Scope.parse(text) for text in raw) if s is not None]
