"""``nextToken`` / ``maxResults`` the way AWS's list and describe calls share them.

Tokens are opaque to clients: URL-safe base64 of a small JSON document that names where the
next page starts (a *keyset*, not an offset, so pages stay right while items come and go).
A token that does not decode is the service's invalid-parameter error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cais.aws.errors import AwsError

T = TypeVar("T")
Key = str | int | float | tuple[Any, ...]


@dataclass(frozen=True)
class TokenCodec:
    """Encodes page positions into tokens and back; ``error_type`` is the service's."""

    error_type: str = "InvalidParameterException"
    message: str = "The specified nextToken is invalid."
    prefix: str = ""

    def encode(self, position: Mapping[str, Any]) -> str:
        raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
        return self.prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def decode(self, token: str) -> dict[str, Any]:
        if not token.startswith(self.prefix):
            raise AwsError(self.error_type, self.message)
        text = token[len(self.prefix) :]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            value = json.loads(raw)
        except (binascii.Error, ValueError):
            raise AwsError(self.error_type, self.message) from None
        if not isinstance(value, dict):
            raise AwsError(self.error_type, self.message)
        return value


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def page_size(
    value: int | None, *, default: int, maximum: int, error_type: str = "InvalidParameterException"
) -> int:
    """``maxResults``/``limit`` with the service's default; out of range is an error."""
    if value is None:
        return default
    if value < 1 or value > maximum:
        raise AwsError(error_type, f"limit must be between 1 and {maximum}, got {value}")
    return value


def paginate(
    items: Sequence[T],
    *,
    key: Callable[[T], Key],
    limit: int,
    next_token: str | None,
    codec: TokenCodec | None = None,
    descending: bool = False,
) -> Page[T]:
    """One page of ``items`` (already sorted by ``key``) after the token's position.

    For in-memory lists; SQL-backed providers use the codec with a keyset query instead.
    """
    codec = codec or TokenCodec()
    start = 0
    if next_token:
        after = _as_key(codec.decode(next_token).get("after"))
        if after is None:
            raise AwsError(codec.error_type, codec.message)
        start = len(items)
        for i, item in enumerate(items):
            k = key(item)
            if (k < after) if descending else (k > after):  # type: ignore[operator]
                start = i
                break
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    token = codec.encode({"after": _jsonable(key(chunk[-1]))}) if more and chunk else None
    return Page(chunk, token)


def _jsonable(key: Key) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _as_key(value: Any) -> Key | None:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return None
