"""ADD's extras: files from http(s) URLs, and recognising local archives to unpack.

A URL is fetched into the build's private directory; the file is named after the
URL's last path component (``__unnamed__`` without one), and Docker gives it mode 0600
and the server's ``Last-Modified`` time. A local source is unpacked when it is a tar
archive, plain or compressed with gzip, bzip2, xz or zstd (by content, not by name).
"""

from __future__ import annotations

import bz2
import contextlib
import email.utils
import gzip
import hashlib
import lzma
import posixpath
import tarfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cais.errors import CaisError
from cais.streams import Reader

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
FETCH_TIMEOUT = 300.0


class FetchError(CaisError):
    pass


@dataclass(frozen=True)
class Download:
    path: Path
    name: str
    digest: str  # sha256:hex of the content
    mtime: float | None


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def is_git(source: str) -> bool:
    return source.startswith("git@") or (is_url(source) and source.endswith(".git"))


def url_filename(url: str) -> str:
    path = urllib.parse.urlparse(url).path
    base = posixpath.basename(path)
    return base if base not in ("", ".", "/") else "__unnamed__"


def fetch(url: str, directory: Path, *, checksum: str = "") -> Download:
    """Download ``url`` into ``directory``; with ``checksum`` (``sha256:…``) it must match."""
    import urllib.request  # only builds that ADD a URL pay for it

    directory.mkdir(parents=True, exist_ok=True)
    name = url_filename(url)
    target = directory / hashlib.sha256(url.encode()).hexdigest()[:16]
    hasher = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            modified = response.headers.get("Last-Modified")
            with open(target, "wb") as out:
                while chunk := response.read(1 << 20):
                    hasher.update(chunk)
                    out.write(chunk)
    except OSError as exc:
        raise FetchError(f"ADD failed: cannot download {url}: {exc}") from None
    digest = "sha256:" + hasher.hexdigest()
    if checksum and checksum != digest:
        raise FetchError(f"ADD failed: {url}: checksum mismatch: expected {checksum}, got {digest}")
    mtime = None
    if modified:
        with contextlib.suppress(TypeError, ValueError):
            mtime = email.utils.parsedate_to_datetime(modified).timestamp()
    return Download(target, name, digest, mtime)


def archive_kind(path: Path) -> str | None:
    """The compression of a tar archive at ``path`` (``""`` for plain), None if not one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), "")
    try:
        with opened_archive(path, kind) as stream:
            block = stream.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    if len(block) < tarfile.BLOCKSIZE:
        return None
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return None
    return kind


@contextlib.contextmanager
def opened_archive(path: Path, kind: str) -> Iterator[Reader]:
    """The uncompressed bytes of an archive file."""
    with open(path, "rb") as raw:
        if kind == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield cast(Reader, unzipped)
        elif kind == "bzip2":
            with bz2.BZ2File(raw, "rb") as unpacked:
                yield cast(Reader, unpacked)
        elif kind == "xz":
            with lzma.LZMAFile(raw, "rb") as unxz:
                yield cast(Reader, unxz)
        elif kind == "zstd":
            import zstandard

            yield cast(Reader, zstandard.ZstdDecompressor().stream_reader(cast(Any, raw)))
        else:
            yield raw
