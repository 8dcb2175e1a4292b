"""The registry as a domain object: repositories of blobs, uploads, manifests, tags and
referrers over one storage driver. No HTTP here: handlers call these methods (from worker
threads, since drivers block) and map :class:`RegistryError` codes to responses.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cais.oci.digest import Digest
from cais.registry import errors as e
from cais.registry import paths
from cais.registry.blobs import BlobInfo, BlobStore, BlobUpload, UploadStatus
from cais.registry.hooks import NoHooks, RegistryHooks
from cais.registry.locks import (
    CommitLock,
    FileCommitLock,
    FileRepositoryLock,
    RepositoryLock,
    ThreadCommitLock,
    ThreadRepositoryLock,
)
from cais.registry.manifests import ManifestInfo, ManifestStore, Referrer
from cais.registry.names import check_name
from cais.registry.storage import FilesystemDriver, PathNotFoundError, Reader, StorageDriver

MAX_PAGE = 1000
_REPO_MARKERS = ("_manifests", "_layers")


@dataclass(frozen=True)
class Page:
    """One page of a sorted listing; ``more`` says whether entries follow ``items[-1]``."""

    items: tuple[str, ...]
    more: bool


def paginate(entries: Sequence[str], *, n: int | None, last: str | None) -> Page:
    """Entries strictly after ``last``, at most ``n`` (capped at MAX_PAGE) of them."""
    if n is not None and n < 0:
        raise e.RegistryError(e.PAGINATION_NUMBER_INVALID, detail={"n": n})
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    after = [x for x in sorted(entries) if last is None or x > last]
    return Page(tuple(after[:limit]), len(after) > limit)


def default_lock(driver: StorageDriver) -> CommitLock:
    if isinstance(driver, FilesystemDriver):
        return FileCommitLock(driver.root / ".commit.lock")
    return ThreadCommitLock()


def default_repository_lock(driver: StorageDriver) -> RepositoryLock:
    if isinstance(driver, FilesystemDriver):
        return FileRepositoryLock(driver.root / ".locks")
    return ThreadRepositoryLock()


class Registry:
    """Everything an OCI Distribution registry stores, by repository name."""

    def __init__(
        self,
        driver: StorageDriver,
        *,
        hooks: RegistryHooks | None = None,
        lock: CommitLock | None = None,
        allow_delete: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.driver = driver
        self.hooks: RegistryHooks = hooks or NoHooks()
        self.lock = lock or default_lock(driver)
        self.allow_delete = allow_delete
        self.clock = clock
        self.repository_lock = default_repository_lock(driver)
        self.blobs = BlobStore(driver, self.lock, clock=clock)
        self.manifests = ManifestStore(self.blobs, self.hooks, self.repository_lock)

    def hold(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive hold on ``name``'s tags (re-entrant): for a caller whose own check
        must stay true until its write, as ECR's PutImage checks before it stores."""
        return self.repository_lock.hold(name)

    def _check_delete(self) -> None:
        if not self.allow_delete:
            raise e.RegistryError(e.UNSUPPORTED, "deletes are disabled on this registry")

    # --- blobs ----------------------------------------------------------------------

    def stat_blob(self, name: str, digest: Digest) -> BlobInfo:
        return self.blobs.stat(check_name(name), digest)

    def open_blob(self, name: str, digest: Digest, offset: int = 0) -> Reader:
        return self.blobs.open(check_name(name), digest, offset)

    def blob_path(self, digest: Digest) -> Path | None:
        """A local file with the blob's bytes (for sendfile), if the driver has one."""
        return self.blobs.local_path(digest)

    def delete_blob(self, name: str, digest: Digest) -> None:
        self._check_delete()
        self.blobs.unlink(check_name(name), digest)

    def mount_blob(self, name: str, digest: Digest, source: str | None) -> BlobInfo | None:
        """Link an existing blob into ``name``; None if ``source`` (or any repo) lacks it."""
        self.hooks.check_push(check_name(name))
        if source is not None:
            try:
                check_name(source)
            except e.RegistryError:
                return None
        return self.blobs.mount(name, digest, source)

    # --- uploads --------------------------------------------------------------------

    def start_upload(self, name: str) -> UploadStatus:
        self.hooks.check_push(check_name(name))
        return self.blobs.start_upload(name)

    def upload_status(self, name: str, upload_id: str) -> UploadStatus:
        return self.blobs.upload_status(check_name(name), upload_id)

    def open_upload(self, name: str, upload_id: str) -> BlobUpload:
        self.hooks.check_push(check_name(name))
        return self.blobs.open_upload(name, upload_id)

    def cancel_upload(self, name: str, upload_id: str) -> None:
        self.blobs.cancel_upload(check_name(name), upload_id)

    # --- manifests ------------------------------------------------------------------

    def stat_manifest(self, name: str, reference: str) -> ManifestInfo:
        return self.manifests.stat(check_name(name), reference)

    def get_manifest(self, name: str, reference: str) -> tuple[ManifestInfo, bytes]:
        return self.manifests.get(check_name(name), reference)

    def put_manifest(
        self, name: str, reference: str, data: bytes, *, content_type: str | None
    ) -> ManifestInfo:
        return self.manifests.put(check_name(name), reference, data, content_type)

    def delete_manifest(self, name: str, reference: str) -> ManifestInfo:
        self._check_delete()
        return self.manifests.delete(check_name(name), reference)

    def referrers(
        self, name: str, subject: Digest, *, artifact_type: str | None = None
    ) -> list[Referrer]:
        found = self.manifests.referrers(check_name(name), subject)
        if artifact_type is not None:
            found = [r for r in found if r.artifact_type == artifact_type]
        return sorted(found, key=lambda r: str(r.digest))

    def delete_repository(self, name: str) -> None:
        """Drop everything ``name`` holds (tags, revisions, links, uploads) without hooks.

        For a layer above that removes repositories as a whole (ECR's DeleteRepository);
        the blobs stay in the shared pool for garbage collection.
        """
        self._check_delete()
        with contextlib.suppress(PathNotFoundError):
            self.driver.delete(paths.repository(check_name(name)))

    # --- listings -------------------------------------------------------------------

    def tags(self, name: str, *, n: int | None = None, last: str | None = None) -> Page:
        return paginate(self.manifests.tags(check_name(name)), n=n, last=last)

    def repositories(self) -> list[str]:
        """Every repository name that has layers or manifests, sorted."""
        found: list[str] = []
        self._find_repositories(paths.REPOSITORIES, "", found)
        return sorted(found)

    def _find_repositories(self, path: str, name: str, found: list[str]) -> None:
        try:
            children = self.driver.list(path)
        except PathNotFoundError:
            return
        leaves = [c.rsplit("/", 1)[1] for c in children]
        if name and any(leaf in _REPO_MARKERS for leaf in leaves):
            found.append(name)
        for child, leaf in zip(children, leaves, strict=True):
            if not leaf.startswith("_"):
                self._find_repositories(child, f"{name}/{leaf}" if name else leaf, found)

    def catalog(self, *, n: int | None = None, last: str | None = None) -> Page:
        return paginate(self.repositories(), n=n, last=last)
