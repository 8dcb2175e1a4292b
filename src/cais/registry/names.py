"""Validation of what a request names: repositories, tags, digests, upload ids."""

from __future__ import annotations

import re

from cais.oci.digest import Digest, DigestError
from cais.registry import errors as e

NAME_MAX = 255
# components of lowercase alphanumerics joined by ".", "_", "__" or dashes (distribution's)
_NAME_RE = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_UPLOAD_ID_RE = re.compile(r"^[a-f0-9]{32}$")


def check_name(name: str) -> str:
    if len(name) > NAME_MAX or not _NAME_RE.match(name):
        raise e.RegistryError(e.NAME_INVALID, detail={"name": name})
    return name


def is_tag(reference: str) -> bool:
    return bool(_TAG_RE.match(reference))


def check_tag(tag: str) -> str:
    if not is_tag(tag):
        raise e.RegistryError(
            e.TAG_INVALID,
            "invalid tag: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
            detail={"tag": tag},
        )
    return tag


def looks_like_digest(reference: str) -> bool:
    """Whether a manifest reference is meant as a digest (a tag never holds ``:``)."""
    return ":" in reference


def parse_digest(value: str) -> Digest:
    try:
        return Digest.parse(value)
    except DigestError as exc:
        raise e.RegistryError(e.DIGEST_INVALID, str(exc), detail={"digest": value}) from None


def is_upload_id(value: str) -> bool:
    return bool(_UPLOAD_ID_RE.match(value))
