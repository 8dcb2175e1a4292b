"""ECR's vocabulary as values: repositories hold images; an image is a manifest digest with
zero or more tags.

A *repository* belongs to one account (its ``registry_id``) and was created in one region
(which its ARN names). Repository names are unique across one cais install, because the
OCI registry that serves them under ``/v2/<name>`` has one flat namespace: see
:mod:`cais.ecr` for that decision. Times are seconds since the epoch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from cais.aws.arn import arn

MUTABLE = "MUTABLE"
IMMUTABLE = "IMMUTABLE"
IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"
WITH_EXCLUSION = (IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION)

MAX_REPOSITORY_TAGS = 50
# what a registry accepts as a tag (OCI distribution); ECR's model allows up to 300 of any
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DEFAULT_ENCRYPTION = "AES256"


@lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def wildcard_match(pattern: str, text: str) -> bool:
    """ECR's wildcard: ``*`` matches any run of characters, everything else is literal."""
    return _wildcard(pattern).fullmatch(text) is not None


@dataclass(frozen=True)
class TagMutability:
    """Whether tags may move: ``mode`` is one of ECR's four settings; ``filters`` are the
    wildcard exclusions of the ``*_WITH_EXCLUSION`` modes."""

    mode: str = MUTABLE
    filters: tuple[str, ...] = ()

    def is_immutable(self, tag: str) -> bool:
        if self.mode == IMMUTABLE:
            return True
        excluded = any(wildcard_match(f, tag) for f in self.filters)
        if self.mode == IMMUTABLE_WITH_EXCLUSION:
            return not excluded
        if self.mode == MUTABLE_WITH_EXCLUSION:
            return excluded
        return False


@dataclass(frozen=True)
class Repository:
    name: str
    registry_id: str
    region: str
    created_at: float
    mutability: TagMutability = field(default_factory=TagMutability)
    scan_on_push: bool = False
    encryption_type: str = DEFAULT_ENCRYPTION
    kms_key: str | None = None

    @property
    def arn(self) -> str:
        return arn("ecr", self.region, self.registry_id, f"repository/{self.name}")

    def uri(self, registry_host: str) -> str:
        """The name a client pushes to: ``<registry_host>/<name>``."""
        return f"{registry_host}/{self.name}"


@dataclass(frozen=True)
class ImageId:
    """An image as a request names it: by digest, by tag, or both."""

    digest: str | None = None
    tag: str | None = None

    def describe(self) -> str:
        """AWS's rendering in messages: ``{imageDigest:'…', imageTag:'…'}``."""
        return f"{{imageDigest:'{self.digest or 'null'}', imageTag:'{self.tag or 'null'}'}}"


class Image(NamedTuple):
    """An image in a repository: a stored manifest and the tags that point at it.

    ``size`` is what ECR reports as imageSizeInBytes: the bytes of the layers (compressed,
    as stored) plus the config. A NamedTuple rather than a dataclass: DescribeImages builds
    up to 1,000 of these per call.
    """

    repository: str
    digest: str
    tags: tuple[str, ...]
    media_type: str
    artifact_media_type: str | None
    size: int
    pushed_at: float
    last_pull: float | None = None
    subject: str | None = None

    @property
    def tagged(self) -> bool:
        return bool(self.tags)


@dataclass(frozen=True)
class StoredManifest:
    """What the registry told us about a manifest it stored (see :mod:`cais.ecr.hooks`)."""

    repository: str
    digest: str
    media_type: str
    artifact_media_type: str | None
    size: int
    subject: str | None
    children: Sequence[str] = ()
