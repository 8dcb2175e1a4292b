"""Blob uploads: start (POST, with monolithic ``?digest=`` and ``?mount=``), chunks (PATCH),
finish (PUT ``?digest=``), status (GET) and cancel (DELETE).

Bodies are streamed: each ~1 MiB gathered from the socket is hashed and written on a
worker thread while the next one is received, so memory stays flat for any blob size.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable

from aiohttp import web

from cais.oci.digest import Digest
from cais.registry import errors as e
from cais.registry import urls
from cais.registry.blobs import CHUNK, BlobInfo, BlobUpload, UploadStatus
from cais.registry.handlers.common import RequestContext
from cais.registry.names import is_upload_id, parse_digest
from cais.registry.scopes import PULL, Scope

_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def _upload_headers(ctx: RequestContext, status: UploadStatus) -> dict[str, str]:
    end = status.offset - 1 if status.offset > 0 else 0
    return {
        "Location": ctx.absolute(urls.upload(status.repository, status.id)),
        "Range": f"0-{end}",
        "Docker-Upload-UUID": status.id,
        "Content-Length": "0",
    }


def _created(ctx: RequestContext, info: BlobInfo) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": ctx.absolute(urls.blob(ctx.name, info.digest)),
            "Docker-Content-Digest": str(info.digest),
            "Content-Length": "0",
        },
    )


def _content_length(ctx: RequestContext) -> int | None:
    raw = ctx.request.headers.get("Content-Length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise e.RegistryError(e.SIZE_INVALID, detail={"Content-Length": raw}) from None


def _chunk_range(ctx: RequestContext, offset: int) -> None:
    """Check a Content-Range against what was received: 416 out of order, SIZE_INVALID."""
    raw = ctx.request.headers.get("Content-Range")
    if raw is None:
        return
    match = _CONTENT_RANGE_RE.match(raw.strip())
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise e.RegistryError(
            e.RANGE_INVALID, detail={"Content-Range": raw}, headers=_range_only(offset)
        )
    start, end = int(match.group(1)), int(match.group(2))
    if start != offset:
        raise e.RegistryError(
            e.RANGE_INVALID,
            f"chunk starts at {start}, but {offset} bytes were received",
            detail={"Content-Range": raw, "offset": offset},
            headers=_range_only(offset),
        )
    length = _content_length(ctx)
    if length is not None and length != end - start + 1:
        raise e.RegistryError(
            e.SIZE_INVALID,
            f"Content-Length {length} does not match Content-Range {raw}",
        )


def _range_only(offset: int) -> dict[str, str]:
    return {"Range": f"0-{offset - 1 if offset > 0 else 0}"}


async def receive(ctx: RequestContext, upload: BlobUpload) -> int:
    """Stream the request body into ``upload``; returns how many bytes came."""
    content = ctx.request.content
    pending: Awaitable[None] | None = None
    parts: list[bytes] = []
    gathered = 0
    total = 0
    try:
        while True:
            data = await content.readany()
            if data:
                parts.append(data)
                gathered += len(data)
                total += len(data)
            if gathered >= CHUNK or (not data and gathered):
                if pending is not None:
                    await pending
                block = b"".join(parts) if len(parts) > 1 else parts[0]
                parts, gathered = [], 0
                pending = ctx.run(upload.write, block)
            if not data:
                break
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None:  # let the last write land before the caller cancels
            with contextlib.suppress(Exception):
                await pending
    return total


def _upload_id(ctx: RequestContext) -> str:
    upload_id = ctx.params["uuid"]
    if not is_upload_id(upload_id):
        raise e.RegistryError(e.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id})
    return upload_id


async def start_upload(ctx: RequestContext) -> web.StreamResponse:
    query = ctx.request.query
    mount = query.get("mount")
    if mount is not None:
        digest = parse_digest(mount)
        source = query.get("from")
        if source is not None and not ctx.may(Scope.repository(source, PULL)):
            source = None
            info = None
        elif source is None and ctx.auth.enabled:
            info = None  # with auth on, a mount must name a source the caller may read
        else:
            info = await ctx.run(ctx.registry.mount_blob, ctx.name, digest, source)
        if info is not None:
            return _created(ctx, info)
    status = await ctx.run(ctx.registry.start_upload, ctx.name)
    digest_param = query.get("digest")
    if digest_param is None:
        return web.Response(status=202, headers=_upload_headers(ctx, status))
    try:
        digest = parse_digest(digest_param)
        upload = await ctx.run(ctx.registry.open_upload, ctx.name, status.id)
    except BaseException:
        await ctx.run(ctx.registry.cancel_upload, ctx.name, status.id)
        raise
    return await _finish(ctx, upload, digest)


async def _finish(ctx: RequestContext, upload: BlobUpload, digest: Digest) -> web.Response:
    try:
        await receive(ctx, upload)
    except BaseException:
        await ctx.run(upload.cancel)
        raise
    info = await ctx.run(upload.commit, digest)
    return _created(ctx, info)


async def patch_upload(ctx: RequestContext) -> web.StreamResponse:
    upload_id = _upload_id(ctx)
    status = await ctx.run(ctx.registry.upload_status, ctx.name, upload_id)
    _chunk_range(ctx, status.offset)
    upload = await ctx.run(ctx.registry.open_upload, ctx.name, upload_id)
    try:
        await receive(ctx, upload)
    finally:
        status = await ctx.run(upload.close)
    return web.Response(status=202, headers=_upload_headers(ctx, status))


async def put_upload(ctx: RequestContext) -> web.StreamResponse:
    upload_id = _upload_id(ctx)
    raw_digest = ctx.request.query.get("digest")
    if raw_digest is None:
        raise e.RegistryError(e.DIGEST_INVALID, "the digest query parameter is required")
    digest = parse_digest(raw_digest)
    status = await ctx.run(ctx.registry.upload_status, ctx.name, upload_id)
    _chunk_range(ctx, status.offset)
    upload = await ctx.run(ctx.registry.open_upload, ctx.name, upload_id)
    return await _finish(ctx, upload, digest)


async def get_upload(ctx: RequestContext) -> web.StreamResponse:
    status = await ctx.run(ctx.registry.upload_status, ctx.name, _upload_id(ctx))
    return web.Response(status=204, headers=_upload_headers(ctx, status))


async def delete_upload(ctx: RequestContext) -> web.StreamResponse:
    await ctx.run(ctx.registry.cancel_upload, ctx.name, _upload_id(ctx))
    return web.Response(status=204)
