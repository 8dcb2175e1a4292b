"""Blobs and uploads: bytes stored once, linked into repositories, verified before publish.

An *upload* is a session (``uuid``) that appends bytes under ``_uploads/<uuid>/data`` and
hashes them as they arrive, so committing a 100 MiB layer does not read it again. The
running hash lives in memory between the requests of one upload; after a restart (or for a
sha512 digest) the commit re-reads the data instead. A commit whose digest does not match
removes the upload: nothing of it is ever visible.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cais.oci.digest import Digest, Hasher, new_hasher
from cais.registry import errors as e
from cais.registry import paths
from cais.registry.locks import CommitLock
from cais.registry.storage import FileWriter, PathNotFoundError, Reader, StorageDriver

CHUNK = 1 << 20


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int


@dataclass(frozen=True)
class UploadStatus:
    """Where an upload stands: ``offset`` bytes received since ``started``."""

    id: str
    repository: str
    offset: int
    started: float


@dataclass
class _HashState:
    """The running sha256 of an upload, valid while ``hashed`` equals the data's size."""

    hasher: Hasher
    hashed: int
    busy: threading.Lock


class BlobStore:
    """The shared blob pool plus each repository's links into it, and uploads."""

    def __init__(
        self, driver: StorageDriver, lock: CommitLock, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.driver = driver
        self.lock = lock
        self._clock = clock
        self._hashes: dict[str, _HashState] = {}
        self._hashes_lock = threading.Lock()

    # --- the pool -------------------------------------------------------------------

    def pool_stat(self, digest: Digest) -> BlobInfo | None:
        try:
            info = self.driver.stat(paths.blob_data(digest))
        except PathNotFoundError:
            return None
        return BlobInfo(digest, info.size)

    def read(self, digest: Digest) -> bytes:
        return self.driver.get_content(paths.blob_data(digest))

    def put_bytes(self, digest: Digest, data: bytes) -> None:
        """Store small content (a manifest) whose digest the caller has verified."""
        if self.pool_stat(digest) is None:
            self.driver.put_content(paths.blob_data(digest), data)

    # --- per repository -------------------------------------------------------------

    def is_linked(self, name: str, digest: Digest) -> bool:
        try:
            self.driver.stat(paths.layer_link(name, digest))
        except PathNotFoundError:
            return False
        return True

    def stat(self, name: str, digest: Digest) -> BlobInfo:
        """The blob as ``name`` serves it, or BLOB_UNKNOWN."""
        info = self.pool_stat(digest) if self.is_linked(name, digest) else None
        if info is None:
            raise e.RegistryError(e.BLOB_UNKNOWN, detail={"digest": str(digest)})
        return info

    def open(self, name: str, digest: Digest, offset: int = 0) -> Reader:
        self.stat(name, digest)
        try:
            return self.driver.reader(paths.blob_data(digest), offset)
        except PathNotFoundError:
            raise e.RegistryError(e.BLOB_UNKNOWN, detail={"digest": str(digest)}) from None

    def local_path(self, digest: Digest) -> Path | None:
        return self.driver.local_path(paths.blob_data(digest))

    def link(self, name: str, digest: Digest) -> None:
        self.driver.put_content(paths.layer_link(name, digest), str(digest).encode())

    def unlink(self, name: str, digest: Digest) -> None:
        if not self.is_linked(name, digest):
            raise e.RegistryError(e.BLOB_UNKNOWN, detail={"digest": str(digest)})
        with contextlib.suppress(PathNotFoundError):
            self.driver.delete(paths.layer_link(name, digest).rsplit("/", 1)[0])

    def mount(self, name: str, digest: Digest, source: str | None) -> BlobInfo | None:
        """Link a blob ``source`` has (or, with no source, any stored blob) into ``name``."""
        with self.lock.shared():
            if source is not None and not self.is_linked(source, digest):
                return None
            info = self.pool_stat(digest)
            if info is None:
                return None
            self.link(name, digest)
        return info

    # --- uploads --------------------------------------------------------------------

    def start_upload(self, name: str) -> UploadStatus:
        upload_id = secrets.token_hex(16)
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).isoformat().encode()
        self.driver.put_content(paths.upload_started(name, upload_id), stamp)
        with self._hashes_lock:
            self._hashes[upload_id] = _HashState(new_hasher("sha256"), 0, threading.Lock())
        return UploadStatus(upload_id, name, 0, now)

    def upload_status(self, name: str, upload_id: str) -> UploadStatus:
        try:
            started = self.driver.stat(paths.upload_started(name, upload_id))
        except PathNotFoundError:
            raise e.RegistryError(e.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id}) from None
        try:
            offset = self.driver.stat(paths.upload_data(name, upload_id)).size
        except PathNotFoundError:
            offset = 0
        return UploadStatus(upload_id, name, offset, started.mod_time)

    def open_upload(self, name: str, upload_id: str) -> BlobUpload:
        """Resume an upload for one request's worth of writes (BLOB_UPLOAD_UNKNOWN if none)."""
        status = self.upload_status(name, upload_id)
        with self._hashes_lock:
            state = self._hashes.get(upload_id)
            if state is None or state.hashed != status.offset:
                state = _HashState(new_hasher("sha256"), -1, threading.Lock())
                self._hashes[upload_id] = state
        if not state.busy.acquire(blocking=False):
            raise e.RegistryError(
                e.BLOB_UPLOAD_INVALID, "upload is in use by another request", status=409
            )
        try:
            writer = self.driver.writer(paths.upload_data(name, upload_id), append=True)
        except BaseException:
            state.busy.release()
            raise
        return BlobUpload(self, status, writer, state)

    def cancel_upload(self, name: str, upload_id: str) -> None:
        self.upload_status(name, upload_id)
        self._drop_upload(name, upload_id)

    def _drop_upload(self, name: str, upload_id: str) -> None:
        with self._hashes_lock:
            self._hashes.pop(upload_id, None)
        with contextlib.suppress(PathNotFoundError):
            self.driver.delete(paths.upload_dir(name, upload_id))

    def _digest_of_upload(self, name: str, upload_id: str, algorithm: str) -> Digest:
        hasher = new_hasher(algorithm)
        try:
            reader = self.driver.reader(paths.upload_data(name, upload_id))
        except PathNotFoundError:
            return Digest(algorithm, hasher.hexdigest())
        try:
            while chunk := reader.read(CHUNK):
                hasher.update(chunk)
        finally:
            reader.close()
        return Digest(algorithm, hasher.hexdigest())

    def _publish(self, name: str, upload_id: str, digest: Digest) -> BlobInfo:
        with self.lock.shared():
            info = self.pool_stat(digest)
            source = paths.upload_data(name, upload_id)
            if info is None:
                try:
                    self.driver.move(source, paths.blob_data(digest))
                except PathNotFoundError:  # an empty upload never created its data file
                    self.driver.put_content(paths.blob_data(digest), b"")
                info = self.pool_stat(digest)
            self.link(name, digest)
        self._drop_upload(name, upload_id)
        if info is None:
            raise e.RegistryError(e.BLOB_UNKNOWN, detail={"digest": str(digest)})
        return info


class BlobUpload:
    """One request's hold on an upload: append bytes, then ``close``, ``commit`` or ``cancel``.

    Only one request may hold an upload at a time; a second one gets a 409.
    """

    def __init__(
        self, store: BlobStore, status: UploadStatus, writer: FileWriter, state: _HashState
    ) -> None:
        self._store = store
        self.status = status
        self._writer: FileWriter | None = writer
        self._state = state

    @property
    def id(self) -> str:
        return self.status.id

    @property
    def offset(self) -> int:
        return self._writer.size if self._writer is not None else self.status.offset

    def write(self, data: bytes) -> None:
        if self._writer is None:
            raise ValueError("upload is closed")
        if self._state.hashed >= 0:
            self._state.hasher.update(data)
            self._state.hashed += len(data)
        self._writer.write(data)

    def close(self) -> UploadStatus:
        """End this request's writes; the upload stays for more chunks or the final PUT."""
        offset = self.offset
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._state.busy.release()
        return UploadStatus(self.status.id, self.status.repository, offset, self.status.started)

    def cancel(self) -> None:
        name, upload_id = self.status.repository, self.status.id
        if self._writer is not None:
            self._writer.cancel()
        self.close()
        self._store._drop_upload(name, upload_id)

    def commit(self, expected: Digest) -> BlobInfo:
        """Verify everything received against ``expected`` and publish it, or DIGEST_INVALID.

        On a mismatch the upload is removed: a client starts over, and nothing is stored.
        """
        if self._writer is None:
            raise ValueError("upload is closed")
        name, upload_id = self.status.repository, self.status.id
        self._writer.commit()
        size = self._writer.size
        self.close()
        state = self._state
        if expected.algorithm == "sha256" and state.hashed == size:
            actual = Digest("sha256", state.hasher.hexdigest())
        else:
            actual = self._store._digest_of_upload(name, upload_id, expected.algorithm)
        if actual != expected:
            self._store._drop_upload(name, upload_id)
            raise e.RegistryError(
                e.DIGEST_INVALID,
                detail={"expected": str(expected), "actual": str(actual), "size": size},
            )
        return self._store._publish(name, upload_id, expected)
