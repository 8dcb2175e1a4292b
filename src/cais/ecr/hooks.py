"""ECR's side of the registry: the :class:`~cais.registry.RegistryHooks` it installs.

Through these, every path that writes to the registry (a ``/v2`` push from docker, podman
or skopeo, and the PutImage API alike) obeys ECR's rules and leaves ECR's records right:

- ``check_push``: a repository must have been created first (``NAME_UNKNOWN``);
- ``check_tag``: an immutable tag never moves (``TAG_INVALID``, ECR's message);
- ``manifest_stored`` / ``manifest_deleted``: record or forget the image, its tags, its size
  and push time (so ``/v2`` pushes show up in DescribeImages).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cais.ecr import errors
from cais.ecr.model import StoredManifest
from cais.ecr.store import EcrStore
from cais.oci.digest import Digest
from cais.oci.manifest import Index, ManifestError, parse_manifest
from cais.registry import errors as e
from cais.registry.errors import RegistryError
from cais.registry.hooks import ManifestEvent

ManifestReader = Callable[[Digest], bytes]


def stored_manifest(event: ManifestEvent, data: bytes) -> StoredManifest:
    """ECR's facts about a manifest: its size as ECR counts it, and an index's children."""
    size = 0
    children: tuple[str, ...] = ()
    try:
        parsed = parse_manifest(data, event.media_type)
    except ManifestError:
        parsed = None
    if isinstance(parsed, Index):
        children = tuple(str(m.digest) for m in parsed.manifests)
        size = sum(m.size for m in parsed.manifests)
    elif parsed is not None:
        size = parsed.config.size + sum(layer.size for layer in parsed.layers)
    return StoredManifest(
        repository=event.repository,
        digest=str(event.digest),
        media_type=event.media_type,
        artifact_media_type=event.artifact_type,
        size=size or event.size,
        subject=str(event.subject) if event.subject is not None else None,
        children=children,
    )


class EcrRegistryHooks:
    """Installed on the registry ``cais up`` serves; ``read_manifest`` gets stored bytes."""

    def __init__(
        self,
        store: EcrStore,
        read_manifest: ManifestReader,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._read = read_manifest
        self._clock = clock

    def check_push(self, repository: str) -> None:
        if self._store.find_repository(repository) is None:
            raise RegistryError(
                e.NAME_UNKNOWN,
                f"The repository with name '{repository}' does not exist in the registry",
                detail={"name": repository},
            )

    def check_tag(self, repository: str, tag: str, *, current: Digest | None, new: Digest) -> None:
        if current is None or current == new:
            return
        repo = self._store.find_repository(repository)
        if repo is not None and repo.mutability.is_immutable(tag):
            raise RegistryError(
                e.TAG_INVALID, errors.immutable_tag_message(tag, repository), detail={"tag": tag}
            )

    def manifest_stored(self, event: ManifestEvent) -> None:
        stored = stored_manifest(event, self._read(event.digest))
        self._store.record_manifest(stored, event.tag, now=self._clock())

    def manifest_deleted(self, event: ManifestEvent) -> None:
        if event.tag is not None:
            self._store.forget_tag(event.repository, event.tag, str(event.digest))
        else:
            self._store.forget_image(event.repository, str(event.digest))
