"""The seam the ECR layer plugs into: may this be pushed, may this tag move, what changed.

The registry calls these at the points where ECR behaves differently from a plain
registry: ECR refuses pushes to repositories that were never created (``NAME_UNKNOWN``),
refuses to move an immutable tag, and keeps its own record of images. A hook refuses by
raising :class:`cais.registry.errors.RegistryError`; it is called from a worker thread,
before anything is stored (``check_*``) or after it is (``manifest_*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cais.oci.digest import Digest


@dataclass(frozen=True)
class ManifestEvent:
    """A manifest stored in or removed from a repository (``tag`` None when by digest)."""

    repository: str
    digest: Digest
    media_type: str
    size: int
    tag: str | None = None
    subject: Digest | None = None
    artifact_type: str | None = None


class RegistryHooks(Protocol):
    def check_push(self, repository: str) -> None:
        """Raise to refuse any write (upload, mount, manifest) to ``repository``."""
        ...

    def check_tag(self, repository: str, tag: str, *, current: Digest | None, new: Digest) -> None:
        """Raise to refuse pointing ``tag`` at ``new`` (``current``: where it points now)."""
        ...

    def manifest_stored(self, event: ManifestEvent) -> None: ...

    def manifest_deleted(self, event: ManifestEvent) -> None: ...


class NoHooks:
    """A plain registry: every repository name may be pushed to, every tag may move."""

    def check_push(self, repository: str) -> None:
        return None

    def check_tag(self, repository: str, tag: str, *, current: Digest | None, new: Digest) -> None:
        return None

    def manifest_stored(self, event: ManifestEvent) -> None:
        return None

    def manifest_deleted(self, event: ManifestEvent) -> None:
        return None
