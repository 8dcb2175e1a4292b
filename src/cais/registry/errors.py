"""The error codes of the OCI Distribution Spec, each registered once with its HTTP status.

The domain raises :class:`RegistryError` with one of these codes; the HTTP layer renders it
as ``{"errors": [{"code", "message", "detail"}]}`` with the code's status. A handful of
codes that the spec does not list but distribution also uses (``RANGE_INVALID``,
``PAGINATION_NUMBER_INVALID``) are registered the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    """A spec error code: its wire name, default message and HTTP status."""

    code: str
    message: str
    status: int


def _register(*codes: ErrorCode) -> Mapping[str, ErrorCode]:
    table: dict[str, ErrorCode] = {}
    for entry in codes:
        if entry.code in table:
            raise ValueError(f"error code {entry.code} registered twice")
        table[entry.code] = entry
    return MappingProxyType(table)


BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", "blob unknown to registry", 404)
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", "blob upload invalid", 400)
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404)
DIGEST_INVALID = ErrorCode("DIGEST_INVALID", "provided digest did not match uploaded content", 400)
MANIFEST_BLOB_UNKNOWN = ErrorCode(
    "MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry", 400
)
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", "manifest invalid", 400)
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", "manifest unknown to registry", 404)
NAME_INVALID = ErrorCode("NAME_INVALID", "invalid repository name", 400)
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", "repository name not known to registry", 404)
TAG_INVALID = ErrorCode("TAG_INVALID", "manifest tag did not match URI", 400)
SIZE_INVALID = ErrorCode("SIZE_INVALID", "provided length did not match content length", 400)
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", "authentication required", 401)
DENIED = ErrorCode("DENIED", "requested access to the resource is denied", 403)
UNSUPPORTED = ErrorCode("UNSUPPORTED", "the operation is unsupported", 405)
TOO_MANY_REQUESTS = ErrorCode("TOO_MANY_REQUESTS", "too many requests", 429)
RANGE_INVALID = ErrorCode("RANGE_INVALID", "invalid content range", 416)
PAGINATION_NUMBER_INVALID = ErrorCode(
    "PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400
)
NOT_FOUND = ErrorCode("NOT_FOUND", "no such endpoint", 404)

CODES: Mapping[str, ErrorCode] = _register(
    BLOB_UNKNOWN,
    BLOB_UPLOAD_INVALID,
    BLOB_UPLOAD_UNKNOWN,
    DIGEST_INVALID,
    MANIFEST_BLOB_UNKNOWN,
    MANIFEST_INVALID,
    MANIFEST_UNKNOWN,
    NAME_INVALID,
    NAME_UNKNOWN,
    TAG_INVALID,
    SIZE_INVALID,
    UNAUTHORIZED,
    DENIED,
    UNSUPPORTED,
    TOO_MANY_REQUESTS,
    RANGE_INVALID,
    PAGINATION_NUMBER_INVALID,
    NOT_FOUND,
)


class RegistryError(Exception):
    """A request the registry refuses, named by its spec error code.

    ``status`` overrides the code's registered status only where the spec asks for another
    one (413 for a manifest over the size limit). ``headers`` carries what the response
    must add, such as ``Range`` on a 416 for an out-of-order chunk.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        detail: Any = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or code.message
        self.detail = detail
        self.status = status or code.status
        self.headers: Mapping[str, str] = dict(headers or {})
        super().__init__(f"{code.code}: {self.message}")

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}
