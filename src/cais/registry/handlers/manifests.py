"""Manifest GET/HEAD (with Accept negotiation), PUT and DELETE, and the referrers API."""

from __future__ import annotations

import json

from aiohttp import web

from cais.oci import mediatypes as mt
from cais.registry import errors as e
from cais.registry import urls
from cais.registry.handlers.common import RequestContext
from cais.registry.manifests import MANIFEST_TYPES, MAX_MANIFEST_SIZE, ManifestInfo
from cais.registry.names import parse_digest

_NOT_ACCEPTED = {
    mt.OCI_INDEX: "OCI index found, but accept header does not support OCI indexes",
    mt.OCI_MANIFEST: "OCI manifest found, but accept header does not support OCI manifests",
    mt.DOCKER_MANIFEST_LIST: "manifest list found, but accept header does not support lists",
    mt.DOCKER_MANIFEST: "schema2 manifest found, but accept header does not support it",
}


def accepted_types(headers: list[str]) -> set[str] | None:
    """The manifest media types an Accept header asks for; None means "anything"."""
    wanted: set[str] = set()
    for header in headers:
        for item in header.split(","):
            kind, *params = (p.strip() for p in item.split(";"))
            if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
                continue
            if kind in ("*/*", "application/*"):
                return None
            if kind:
                wanted.add(kind)
    if not wanted & MANIFEST_TYPES:
        return None  # no manifest type named: serve what is stored, as distribution does
    return wanted


def _check_accept(ctx: RequestContext, info: ManifestInfo) -> None:
    wanted = accepted_types(ctx.request.headers.getall("Accept", []))
    if wanted is not None and info.media_type not in wanted:
        raise e.RegistryError(
            e.MANIFEST_UNKNOWN,
            _NOT_ACCEPTED.get(info.media_type, "manifest type not accepted"),
            detail={"mediaType": info.media_type},
        )


def _headers(info: ManifestInfo) -> dict[str, str]:
    return {
        "Content-Type": info.media_type,
        "Docker-Content-Digest": str(info.digest),
        "ETag": f'"{info.digest}"',
    }


async def head_manifest(ctx: RequestContext) -> web.StreamResponse:
    info = await ctx.run(ctx.registry.stat_manifest, ctx.name, ctx.params["reference"])
    _check_accept(ctx, info)
    headers = _headers(info)
    headers["Content-Length"] = str(info.size)
    return web.Response(headers=headers)


async def get_manifest(ctx: RequestContext) -> web.StreamResponse:
    info, data = await ctx.run(ctx.registry.get_manifest, ctx.name, ctx.params["reference"])
    _check_accept(ctx, info)
    return web.Response(body=data, headers=_headers(info))


async def put_manifest(ctx: RequestContext) -> web.StreamResponse:
    reference = ctx.params["reference"]
    declared = ctx.request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_MANIFEST_SIZE:
        raise e.RegistryError(
            e.SIZE_INVALID, f"manifest is larger than {MAX_MANIFEST_SIZE} bytes", status=413
        )
    data = await ctx.request.content.read(MAX_MANIFEST_SIZE + 1)
    if len(data) > MAX_MANIFEST_SIZE:
        raise e.RegistryError(
            e.SIZE_INVALID, f"manifest is larger than {MAX_MANIFEST_SIZE} bytes", status=413
        )
    while len(data) < MAX_MANIFEST_SIZE and not ctx.request.content.at_eof():
        more = await ctx.request.content.read(MAX_MANIFEST_SIZE + 1 - len(data))
        if not more:
            break
        data += more
    info = await ctx.run(
        ctx.registry.put_manifest,
        ctx.name,
        reference,
        data,
        content_type=ctx.request.headers.get("Content-Type"),
    )
    headers = {
        "Location": ctx.absolute(urls.manifest(ctx.name, info.digest)),
        "Docker-Content-Digest": str(info.digest),
        "Content-Length": "0",
    }
    if info.subject is not None:
        headers["OCI-Subject"] = str(info.subject)
    return web.Response(status=201, headers=headers)


async def delete_manifest(ctx: RequestContext) -> web.StreamResponse:
    await ctx.run(ctx.registry.delete_manifest, ctx.name, ctx.params["reference"])
    return web.Response(status=202, headers={"Content-Length": "0"})


async def get_referrers(ctx: RequestContext) -> web.StreamResponse:
    subject = parse_digest(ctx.params["digest"])
    artifact_type = ctx.request.query.get("artifactType") or None
    found = await ctx.run(ctx.registry.referrers, ctx.name, subject, artifact_type=artifact_type)
    body = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [r.to_json() for r in found],
    }
    headers = {"Content-Type": mt.OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return web.Response(body=json.dumps(body).encode(), headers=headers)
