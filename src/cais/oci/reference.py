"""Image references (``[domain/]path[:tag][@digest]``) with Docker's normalisation.

``busybox`` means ``docker.io/library/busybox:latest``; ``localhost:5000/a/b:v1`` keeps its
domain; a reference may carry a digest and then needs no tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from cais.errors import InvalidArgumentError
from cais.oci.digest import Digest, DigestError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DOMAIN_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])"
    r"(?::[0-9]+)?$"
)


class ReferenceError(InvalidArgumentError):
    """A string that is not a valid image reference."""


@dataclass(frozen=True)
class Reference:
    """A normalised image reference. ``tag`` and ``digest`` may both be set."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def repository(self) -> str:
        """``domain/path``: the name without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short name Docker shows: ``busybox`` for ``docker.io/library/busybox``."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_PREFIX) and path.count("/") == 1:
                path = path[len(OFFICIAL_PREFIX) :]
            return path
        return self.repository

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.match(tag):
            raise ReferenceError(f"invalid tag {tag!r}")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, tag=None, digest=digest)

    def familiar(self) -> str:
        return self._render(self.familiar_repository)

    def __str__(self) -> str:
        return self._render(self.repository)

    def _render(self, repository: str) -> str:
        out = repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def split_domain(name: str) -> tuple[str, str]:
    """Split a repository name into (domain, path) as Docker does."""
    first, sep, rest = name.partition("/")
    if not sep or (
        "." not in first and ":" not in first and first != "localhost" and first.lower() == first
    ):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse_reference(value: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``value``; add the ``latest`` tag when neither tag nor digest."""
    if not value:
        raise ReferenceError("invalid reference format: empty name")
    if value != value.strip() or any(c.isspace() for c in value):
        raise ReferenceError(f"invalid reference format: {value!r} contains whitespace")
    remainder, digest = value, None
    if "@" in value:
        remainder, _, digest_text = value.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except DigestError as exc:
            raise ReferenceError(f"invalid reference {value!r}: {exc}") from None
    tag = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise ReferenceError(f"invalid reference {value!r}: invalid tag {tag!r}")
    if not remainder:
        raise ReferenceError(f"invalid reference format: {value!r} has no repository name")
    domain, path = split_domain(remainder)
    if not _DOMAIN_RE.match(domain):
        raise ReferenceError(f"invalid reference {value!r}: invalid domain {domain!r}")
    if path.lower() != path:
        raise ReferenceError(
            f"invalid reference format: repository name {path!r} must be lowercase"
        )
    if not _PATH_RE.match(path):
        raise ReferenceError(f"invalid reference format: {value!r} is not a valid repository name")
    if len(f"{domain}/{path}") > NAME_TOTAL_MAX:
        raise ReferenceError(
            f"invalid reference {value!r}: repository name longer than {NAME_TOTAL_MAX}"
        )
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def is_valid_repository_path(path: str) -> bool:
    """Whether ``path`` is a valid repository path (the part after the domain)."""
    return bool(_PATH_RE.match(path)) and len(path) <= NAME_TOTAL_MAX
