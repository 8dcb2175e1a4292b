"""What can go wrong talking to a registry, as one-line errors a user can act on.

A registry answers errors in the distribution spec's JSON form
(``{"errors": [{"code": "MANIFEST_UNKNOWN", "message": …}]}``); :func:`response_error`
turns one into the matching class, so callers can tell "not there" from "not allowed"
from "not reachable" without reading messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cais.errors import CaisError, NotFoundError


class DistributionError(CaisError):
    """A pull, push or login that failed; the message says where and why."""


class RegistryUnreachableError(DistributionError):
    """No HTTP answer at all: refused, reset, timed out, TLS failed, unknown host."""


class TransferInterruptedError(DistributionError):
    """The connection broke mid-transfer; what was verified so far is kept for a resume."""


class ContentMismatchError(DistributionError):
    """The registry served bytes that do not match the digest or size they were named by."""


class NoMatchingPlatformError(DistributionError, NotFoundError):
    """An index that has no manifest for the wanted platform."""


class UnsupportedContentError(DistributionError):
    """A manifest or artifact cais does not turn into an image (schema1, an artifact)."""


@dataclass(frozen=True)
class ErrorItem:
    """One entry of a registry's ``errors`` list."""

    code: str
    message: str = ""

    def phrase(self) -> str:
        """``MANIFEST_UNKNOWN`` → ``manifest unknown`` (+ ``: message`` when it adds anything)."""
        words = self.code.lower().replace("_", " ")
        message = self.message.strip()
        if not message or message.lower() == words:
            return words
        return f"{words}: {message}"


class RegistryResponseError(DistributionError):
    """A registry answered with an error status; ``items`` are its OCI error entries."""

    def __init__(self, message: str, *, status: int, items: tuple[ErrorItem, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.items = items

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)


class UnauthorizedError(RegistryResponseError):
    """401: no credential, or a wrong one."""


class DeniedError(RegistryResponseError):
    """403: the credential is fine but may not do this."""


class ManifestUnknownError(RegistryResponseError, NotFoundError):
    """The tag or digest is not in the repository."""


class BlobUnknownError(RegistryResponseError, NotFoundError):
    """A blob the manifest names is not in the repository."""


class RepositoryUnknownError(RegistryResponseError, NotFoundError):
    """The repository does not exist."""


class TooManyRequestsError(RegistryResponseError):
    """429: the registry asks to slow down."""


_BY_CODE: dict[str, type[RegistryResponseError]] = {
    "UNAUTHORIZED": UnauthorizedError,
    "DENIED": DeniedError,
    "MANIFEST_UNKNOWN": ManifestUnknownError,
    "BLOB_UNKNOWN": BlobUnknownError,
    "NAME_UNKNOWN": RepositoryUnknownError,
    "TOOMANYREQUESTS": TooManyRequestsError,
}
_BY_STATUS: dict[int, tuple[type[RegistryResponseError], ErrorItem]] = {
    401: (UnauthorizedError, ErrorItem("UNAUTHORIZED", "authentication required")),
    403: (DeniedError, ErrorItem("DENIED", "requested access to the resource is denied")),
    404: (RegistryResponseError, ErrorItem("NOT_FOUND", "not found")),
    429: (TooManyRequestsError, ErrorItem("TOOMANYREQUESTS", "too many requests")),
}


def parse_error_items(body: bytes) -> tuple[ErrorItem, ...]:
    """The ``errors`` of an OCI error body; also Docker token servers' ``details`` form."""
    try:
        doc: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return ()
    if not isinstance(doc, dict):
        return ()
    items: list[ErrorItem] = []
    errors = doc.get("errors")
    if isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                message = entry.get("message")
                items.append(ErrorItem(entry["code"], message if isinstance(message, str) else ""))
    if not items:
        for key in ("details", "detail", "message", "error_description", "error"):
            value = doc.get(key)
            if isinstance(value, str) and value:
                items.append(ErrorItem("UNAUTHORIZED" if key != "message" else "ERROR", value))
                break
    return tuple(items)


def response_error(
    status: int, body: bytes, *, context: str = "", missing: str = ""
) -> RegistryResponseError:
    """The error for an HTTP error answer. ``context`` says what was being done
    (``reading manifest v1 in host/repo``); ``missing`` replaces it for not-found answers
    (``manifest for host/repo:v1 not found``), as Docker words them.
    """
    items = parse_error_items(body)
    cls: type[RegistryResponseError] = RegistryResponseError
    for item in items:
        found = _BY_CODE.get(item.code.upper())
        if found is not None:
            cls = found
            break
    else:
        default = _BY_STATUS.get(status)
        if default is not None:
            cls = default[0]
            if not items:
                items = (default[1],)
    if not items:
        items = (ErrorItem("ERROR", f"HTTP status {status}"),)
    reason = items[0].phrase()
    if status == 401 and cls is not UnauthorizedError:
        cls = UnauthorizedError
    prefix = missing if (missing and (status == 404 or issubclass(cls, NotFoundError))) else context
    message = f"{prefix}: {reason}" if prefix else reason
    return cls(message, status=status, items=items)
