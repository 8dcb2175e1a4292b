"""Manifest GET/HEAD (with Accept negotiation), PUT and DELETE, and the referrers API."""

from __future__ import annotations

import json

from aiohttp import web

from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.oci.manifest import Index, ManifestError, parse_manifest
from cais.registry import errors as e
from cais.registry import urls
from cais.registry.handlers.common import RequestContext
from cais.registry.manifests import MANIFEST_TYPES, MAX_MANIFEST_SIZE, ManifestInfo
from cais.registry.names import is_tag, parse_digest

DEFAULT_PLATFORM = ("linux", "amd64")  # what distribution serves from a list to old clients

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


def _check_accept(wanted: set[str] | None, info: ManifestInfo) -> None:
    if wanted is not None and info.media_type not in wanted:
        raise e.RegistryError(
            e.MANIFEST_UNKNOWN,
            _NOT_ACCEPTED.get(info.media_type, "manifest type not accepted"),
            detail={"mediaType": info.media_type},
        )


def _default_image(data: bytes) -> Digest:
    """The linux/amd64 entry of a manifest list; MANIFEST_UNKNOWN when it has none."""
    try:
        parsed = parse_manifest(data, mt.DOCKER_MANIFEST_LIST)
    except ManifestError:
        parsed = None
    if isinstance(parsed, Index):
        for entry in parsed.manifests:
            platform = entry.platform
            if platform is not None and (platform.os, platform.architecture) == DEFAULT_PLATFORM:
                return entry.digest
    raise e.RegistryError(
        e.MANIFEST_UNKNOWN,
        "manifest list has no linux/amd64 image, and the accept header does not support lists",
    )


async def _negotiate(ctx: RequestContext, *, body: bool) -> tuple[ManifestInfo, bytes | None]:
    """The manifest a GET or HEAD serves. A client that cannot read manifest lists asking
    by tag for one gets its linux/amd64 image instead, as distribution does for old
    clients (an image it cannot read either is refused: there is no schema1 rewriting); by
    digest it must get what the digest names, so the type check refuses."""
    reference = ctx.params["reference"]
    wanted = accepted_types(ctx.request.headers.getall("Accept", []))
    data: bytes | None = None
    if body:
        info, data = await ctx.run(ctx.registry.get_manifest, ctx.name, reference)
    else:
        info = await ctx.run(ctx.registry.stat_manifest, ctx.name, reference)
    if (
        wanted is not None
        and info.media_type == mt.DOCKER_MANIFEST_LIST
        and mt.DOCKER_MANIFEST_LIST not in wanted
        and is_tag(reference)
    ):
        if data is None:  # a HEAD: the list's entries are needed after all
            data = (await ctx.run(ctx.registry.get_manifest, ctx.name, reference))[1]
        child = str(_default_image(data))
        info, data = await ctx.run(ctx.registry.get_manifest, ctx.name, child)
    _check_accept(wanted, info)
    return info, data


def _headers(info: ManifestInfo) -> dict[str, str]:
    return {
        "Content-Type": info.media_type,
        "Docker-Content-Digest": str(info.digest),
        "ETag": f'"{info.digest}"',
    }


async def head_manifest(ctx: RequestContext) -> web.StreamResponse:
    info, _ = await _negotiate(ctx, body=False)
    headers = _headers(info)
    headers["Content-Length"] = str(info.size)
    return web.Response(headers=headers)


async def get_manifest(ctx: RequestContext) -> web.StreamResponse:
    info, data = await _negotiate(ctx, body=True)
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
