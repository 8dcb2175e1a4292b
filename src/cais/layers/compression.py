"""Streams in and out of gzip and zstd, and hashing wrappers around them."""

from __future__ import annotations

import gzip
import zlib
from typing import Any, Protocol, cast

from cais.errors import InvalidArgumentError
from cais.oci.digest import Digest, Hasher, new_hasher
from cais.streams import Reader, Writer

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ClosingWriter(Writer, Protocol):
    def close(self) -> None: ...


class HashingReader:
    """Reads through to ``inner`` and hashes and counts every byte read."""

    def __init__(self, inner: Reader, algorithm: str = "sha256") -> None:
        self._inner = inner
        self._hasher: Hasher = new_hasher(algorithm)
        self._algorithm = algorithm
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self._hasher.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        """Read what is left so the digest covers the whole stream."""
        while self.read(1 << 20):
            pass

    def digest(self) -> Digest:
        return Digest(self._algorithm, self._hasher.hexdigest())


class HashingWriter:
    """Writes through to ``inner`` and hashes and counts every byte written."""

    def __init__(self, inner: Writer, algorithm: str = "sha256") -> None:
        self._inner = inner
        self._hasher: Hasher = new_hasher(algorithm)
        self._algorithm = algorithm
        self.count = 0

    def write(self, data: bytes, /) -> int:
        self._inner.write(data)
        self._hasher.update(data)
        self.count += len(data)
        return len(data)

    def digest(self) -> Digest:
        return Digest(self._algorithm, self._hasher.hexdigest())


class _Prefixed:
    """Gives back bytes already read (a magic-number peek) before the rest of the stream."""

    def __init__(self, inner: Reader, head: bytes) -> None:
        self._inner = inner
        self._head = head

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._inner.read(size)
        if size < 0:
            data, self._head = self._head + self._inner.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._inner.read(size - len(data))
        return data


def detect_compression(head: bytes) -> str:
    """``"gzip"``, ``"zstd"`` or ``""`` from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return ""


def decompressed_reader(stream: Reader, compression: str | None = None) -> Reader:
    """A reader of the uncompressed bytes; ``compression=None`` detects it from the magic."""
    if compression is None:
        head = stream.read(4)
        compression = detect_compression(head)
        stream = _Prefixed(stream, head)
    if compression == "gzip":
        return gzip.GzipFile(fileobj=cast(Any, stream), mode="rb")
    if compression == "zstd":
        import zstandard

        reader: Reader = zstandard.ZstdDecompressor().stream_reader(
            cast(Any, stream), closefd=False
        )
        return reader
    if compression == "":
        return stream
    raise InvalidArgumentError(f"unsupported layer compression {compression!r}")


class _GzipStream:
    """gzip with a fixed header (no name, mtime 0) so identical input gives identical bytes."""

    def __init__(self, inner: Writer, level: int) -> None:
        self._inner = inner
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
        self._crc = 0
        self._size = 0
        self._closed = False
        inner.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")

    def write(self, data: bytes, /) -> int:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        out = self._compressor.compress(data)
        if out:
            self._inner.write(out)
        return len(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._inner.write(self._compressor.flush())
            self._inner.write(self._crc.to_bytes(4, "little"))
            self._inner.write((self._size & 0xFFFFFFFF).to_bytes(4, "little"))


class _ZstdStream:
    def __init__(self, inner: Writer, level: int) -> None:
        import zstandard

        self._writer = zstandard.ZstdCompressor(level=level).stream_writer(
            cast(Any, inner), closefd=False
        )
        self._closed = False

    def write(self, data: bytes, /) -> int:
        self._writer.write(data)
        return len(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()  # type: ignore[no-untyped-call]


class _Passthrough:
    def __init__(self, inner: Writer) -> None:
        self._inner = inner

    def write(self, data: bytes, /) -> int:
        self._inner.write(data)
        return len(data)

    def close(self) -> None:
        return None


def compressed_writer(inner: Writer, compression: str, level: int | None = None) -> ClosingWriter:
    """A writer that compresses into ``inner``; closing it flushes the trailer (not ``inner``)."""
    if compression == "gzip":
        return _GzipStream(inner, 6 if level is None else level)
    if compression == "zstd":
        return _ZstdStream(inner, 3 if level is None else level)
    if compression == "":
        return _Passthrough(inner)
    raise InvalidArgumentError(f"unsupported layer compression {compression!r}")
