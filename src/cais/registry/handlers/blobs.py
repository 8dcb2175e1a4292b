"""Blob GET (with Range), HEAD and DELETE."""

from __future__ import annotations

import re

from aiohttp import web

from cais.registry import errors as e
from cais.registry.blobs import CHUNK
from cais.registry.handlers.common import RequestContext
from cais.registry.names import parse_digest

OCTET_STREAM = "application/octet-stream"
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int]:
    """``bytes=a-b`` / ``a-`` / ``-n`` → inclusive (start, end); RANGE_INVALID otherwise."""
    match = _RANGE_RE.match(header.strip())
    unsatisfiable = e.RegistryError(
        e.RANGE_INVALID,
        detail={"range": header, "size": size},
        headers={"Content-Range": f"bytes */{size}"},
    )
    if match is None:
        raise unsatisfiable
    first, last = match.groups()
    if first == "" and last == "":
        raise unsatisfiable
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise unsatisfiable
    return start, end


async def head_blob(ctx: RequestContext) -> web.StreamResponse:
    digest = parse_digest(ctx.params["digest"])
    info = await ctx.run(ctx.registry.stat_blob, ctx.name, digest)
    return web.Response(
        headers={
            "Content-Length": str(info.size),
            "Content-Type": OCTET_STREAM,
            "Docker-Content-Digest": str(digest),
            "Accept-Ranges": "bytes",
            "ETag": f'"{digest}"',
        }
    )


async def get_blob(ctx: RequestContext) -> web.StreamResponse:
    digest = parse_digest(ctx.params["digest"])
    info = await ctx.run(ctx.registry.stat_blob, ctx.name, digest)
    headers = {
        "Content-Type": OCTET_STREAM,
        "Docker-Content-Digest": str(digest),
        "Accept-Ranges": "bytes",
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
    }
    range_header = ctx.request.headers.get("Range")
    start, end = 0, info.size - 1
    if range_header:
        start, end = parse_range(range_header, info.size)
    local = ctx.registry.blob_path(digest)
    if local is not None:
        # aiohttp serves the same range with sendfile; the range was validated above
        return web.FileResponse(local, chunk_size=CHUNK, headers=headers)
    reader = await ctx.run(ctx.registry.open_blob, ctx.name, digest, start)
    try:
        response = web.StreamResponse(status=206 if range_header else 200, headers=headers)
        response.content_length = end - start + 1
        if range_header:
            response.headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        await response.prepare(ctx.request)
        remaining = end - start + 1
        while remaining > 0:
            chunk = await ctx.run(reader.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        reader.close()


async def delete_blob(ctx: RequestContext) -> web.StreamResponse:
    digest = parse_digest(ctx.params["digest"])
    await ctx.run(ctx.registry.delete_blob, ctx.name, digest)
    return web.Response(status=202, headers={"Content-Length": "0"})
