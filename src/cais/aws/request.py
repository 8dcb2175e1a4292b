"""An HTTP request and response as the protocol layer sees them, free of any web framework.

The aiohttp glue (:mod:`cais.aws.http`) converts to and from these, so the signature check
and the dispatcher are tested without sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AwsRequest:
    """``path`` and ``query`` are raw (percent-encoded) as received: SigV4 signs them so."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, names compared without case."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]


@dataclass(frozen=True)
class AwsResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
