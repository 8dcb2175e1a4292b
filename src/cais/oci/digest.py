"""Content digests (``algorithm:hex``) as the OCI image spec defines them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from cais.errors import InvalidArgumentError

_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class DigestError(InvalidArgumentError):
    """A string that is not a valid digest, or one with an unsupported algorithm."""


class Hasher(Protocol):
    """The part of hashlib's interface that digesting a stream needs."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass(frozen=True, order=True)
class Digest:
    """A verified ``algorithm:encoded`` digest; ``str(d)`` gives the wire form."""

    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, value: str) -> Digest:
        if not isinstance(value, str) or not _DIGEST_RE.match(value):
            raise DigestError(f"invalid digest {value!r}: expected algorithm:hex")
        algorithm, encoded = value.split(":", 1)
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise DigestError(f"unsupported digest algorithm {algorithm!r} in {value!r}")
        if len(encoded) != expected or not re.fullmatch(r"[a-f0-9]+", encoded):
            raise DigestError(
                f"invalid digest {value!r}: {algorithm} needs {expected} lowercase hex digits"
            )
        return cls(algorithm, encoded)

    @classmethod
    def from_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())

    def hasher(self) -> Hasher:
        return new_hasher(self.algorithm)

    @property
    def short(self) -> str:
        """The 12-hex-digit form Docker shows as an ID."""
        return self.encoded[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


def new_hasher(algorithm: str = "sha256") -> Hasher:
    if algorithm not in _HEX_LENGTH:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}")
    import hashlib  # deferred: parsing digests must not pay for OpenSSL's start-up

    return hashlib.new(algorithm)


def is_digest(value: str) -> bool:
    try:
        Digest.parse(value)
    except DigestError:
        return False
    return True
