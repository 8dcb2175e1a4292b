"""The local content store.

On disk (under ``<root>/content``)::

    blobs/<algorithm>/<hex>        committed blobs, never modified
    ingest/<ref-hash>/data         bytes being written; <ref-hash>/ref names the writer
    gc.lock                        shared by writers while they commit, exclusive for GC

A writer fsyncs its temp file and renames it into ``blobs/``: a reader sees the whole blob
or none. Two writers of the same blob both succeed; the rename is idempotent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cais.errors import CaisError, InvalidArgumentError, NotFoundError
from cais.fsutil import fsync_dir
from cais.oci.digest import Digest, Hasher, new_hasher
from cais.state.sqlite import Database
from cais.streams import Reader

CHUNK = 1 << 20
DEFAULT_LEASE_SECONDS = 24 * 3600

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS content_leases (
        id TEXT PRIMARY KEY, created REAL NOT NULL, expires REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS content_lease_blobs (
        lease_id TEXT NOT NULL REFERENCES content_leases(id) ON DELETE CASCADE,
        digest TEXT NOT NULL, created INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (lease_id, digest))""",
    """CREATE TABLE IF NOT EXISTS content_lease_snapshots (
        lease_id TEXT NOT NULL REFERENCES content_leases(id) ON DELETE CASCADE,
        key TEXT NOT NULL, PRIMARY KEY (lease_id, key))""",
)


class DigestMismatchError(InvalidArgumentError):
    """Bytes written do not hash to the digest they were announced with."""


class SizeMismatchError(InvalidArgumentError):
    """Bytes written are not as many as announced."""


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int


@dataclass(frozen=True)
class Lease:
    """A hold on blobs and snapshots for work in progress; GC keeps all a live lease names."""

    id: str


class BlobWriter(Protocol):
    """Streams a blob in; ``commit`` verifies and publishes it, ``abort`` drops it."""

    @property
    def offset(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def commit(self, expected: Digest | None = None, size: int | None = None) -> BlobInfo: ...

    def abort(self) -> None: ...

    def __enter__(self) -> BlobWriter: ...

    def __exit__(self, *exc: object) -> None: ...


class ContentStore(Protocol):
    """What the other rooms may ask of a content store."""

    def info(self, digest: Digest) -> BlobInfo | None: ...

    def open(self, digest: Digest) -> BinaryIO: ...

    def read(self, digest: Digest, *, max_size: int | None = None) -> bytes: ...

    def path(self, digest: Digest) -> Path: ...

    def writer(
        self, *, lease: Lease | None = None, ref: str | None = None, expected: Digest | None = None
    ) -> BlobWriter: ...

    def put(
        self, data: bytes, *, expected: Digest | None = None, lease: Lease | None = None
    ) -> BlobInfo: ...

    def ingest(
        self,
        stream: Reader,
        *,
        expected: Digest | None = None,
        size: int | None = None,
        lease: Lease | None = None,
    ) -> BlobInfo: ...

    def hold(self, lease: Lease, digest: Digest) -> bool: ...

    def hold_snapshot(self, lease: Lease, key: str) -> None: ...

    def walk(self) -> Iterator[BlobInfo]: ...

    def delete(self, digest: Digest) -> bool: ...

    def lease(
        self, *, seconds: float = DEFAULT_LEASE_SECONDS
    ) -> contextlib.AbstractContextManager[Lease]: ...

    def sweep(self, keep: Iterable[Digest]) -> list[BlobInfo]: ...


class LocalContentStore:
    """Blobs as files under ``<root>/content``, leases in the cais database."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root / "content"
        self.db = db
        self._blobs = self.root / "blobs"
        self._ingest = self.root / "ingest"
        self._lockfile = self.root / "gc.lock"

    # reading

    def path(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.encoded

    def info(self, digest: Digest) -> BlobInfo | None:
        try:
            st = os.stat(self.path(digest))
        except FileNotFoundError:
            return None
        return BlobInfo(digest, st.st_size)

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).exists()

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} not found in the content store") from None

    def read(self, digest: Digest, *, max_size: int | None = None) -> bytes:
        with self.open(digest) as fh:
            data = fh.read() if max_size is None else fh.read(max_size + 1)
        if max_size is not None and len(data) > max_size:
            raise InvalidArgumentError(f"blob {digest} is larger than {max_size} bytes")
        return data

    def walk(self) -> Iterator[BlobInfo]:
        if not self._blobs.exists():
            return
        for algo_dir in sorted(self._blobs.iterdir()):
            for entry in sorted(os.scandir(algo_dir), key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                yield BlobInfo(Digest(algo_dir.name, entry.name), entry.stat().st_size)

    # writing

    def writer(
        self, *, lease: Lease | None = None, ref: str | None = None, expected: Digest | None = None
    ) -> LocalBlobWriter:
        """A writer; with ``ref``, an interrupted write of the same ref is resumed."""
        self._ingest.mkdir(parents=True, exist_ok=True)
        if ref is None:
            ref = os.urandom(16).hex()
            resumable = False
        else:
            resumable = True
        import hashlib

        ingest_dir = self._ingest / hashlib.sha256(ref.encode()).hexdigest()[:32]
        return LocalBlobWriter(
            self, ingest_dir, lease=lease, expected=expected, resumable=resumable
        )

    def put(
        self, data: bytes, *, expected: Digest | None = None, lease: Lease | None = None
    ) -> BlobInfo:
        with self.writer(lease=lease, expected=expected) as w:
            w.write(data)
            return w.commit(expected, len(data))

    def ingest(
        self,
        stream: Reader,
        *,
        expected: Digest | None = None,
        size: int | None = None,
        lease: Lease | None = None,
    ) -> BlobInfo:
        """Copy ``stream`` in, verifying digest and size as announced."""
        if expected is not None and lease is not None and self.hold(lease, expected):
            info = self.info(expected)
            if info is not None and (size is None or info.size == size):
                return info
        with self.writer(lease=lease, expected=expected) as w:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                w.write(chunk)
                if size is not None and w.offset > size:
                    raise SizeMismatchError(
                        f"blob {expected or ''} is larger than the announced {size} bytes"
                    )
            return w.commit(expected, size)

    def delete(self, digest: Digest) -> bool:
        with self._gc_lock(exclusive=True):
            try:
                os.unlink(self.path(digest))
            except FileNotFoundError:
                return False
            return True

    # leases and GC

    def _schema(self) -> None:
        self.db.ensure_schema("content", _SCHEMA)

    @contextlib.contextmanager
    def lease(self, *, seconds: float = DEFAULT_LEASE_SECONDS) -> Iterator[Lease]:
        """Hold every blob written or :meth:`hold`-ed through the lease until the block ends."""
        lease = self.create_lease(seconds=seconds)
        try:
            yield lease
        finally:
            self.release_lease(lease)

    def create_lease(self, *, seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        self._schema()
        lease = Lease(os.urandom(12).hex())
        now = time.time()
        self.db.execute(
            "INSERT INTO content_leases (id, created, expires) VALUES (?, ?, ?)",
            (lease.id, now, now + seconds),
        )
        return lease

    def release_lease(self, lease: Lease) -> None:
        self._schema()
        self.db.execute("DELETE FROM content_leases WHERE id = ?", (lease.id,))

    def created_under(self, lease: Lease) -> list[Digest]:
        """Blobs that did not exist before this lease wrote them."""
        self._schema()
        rows = self.db.query(
            "SELECT digest FROM content_lease_blobs WHERE lease_id = ? AND created = 1",
            (lease.id,),
        )
        return [Digest.parse(r["digest"]) for r in rows]

    def hold(self, lease: Lease, digest: Digest) -> bool:
        """Put ``digest`` under ``lease``; True if the blob exists (and is now safe from GC)."""
        with self._gc_lock(exclusive=False):
            self._record(lease, digest, created=False)
            return self.exists(digest)

    def _record(self, lease: Lease, digest: Digest, *, created: bool) -> None:
        self._schema()
        self.db.execute(
            "INSERT INTO content_lease_blobs (lease_id, digest, created) VALUES (?, ?, ?) "
            "ON CONFLICT (lease_id, digest) DO UPDATE SET created = max(created, excluded.created)",
            (lease.id, str(digest), int(created)),
        )

    def hold_snapshot(self, lease: Lease, key: str) -> None:
        """Put snapshot ``key`` under ``lease``, so that GC keeps it until the lease ends.

        Taken under the GC lock: once this returns, a GC either ran before (and the caller
        must check the snapshot exists) or will see the hold.
        """
        with self._gc_lock(exclusive=False):
            self._schema()
            self.db.execute(
                "INSERT OR IGNORE INTO content_lease_snapshots (lease_id, key) VALUES (?, ?)",
                (lease.id, key),
            )

    def leased_snapshots(self) -> set[str]:
        """Snapshot keys held by unexpired leases. Call inside :meth:`gc_lock`."""
        self._schema()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM content_leases WHERE expires < ?", (time.time(),))
            rows = conn.execute("SELECT DISTINCT key FROM content_lease_snapshots").fetchall()
        return {str(r["key"]) for r in rows}

    def leased(self) -> set[Digest]:
        """Blobs held by unexpired leases; expired leases are dropped on the way."""
        self._schema()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM content_leases WHERE expires < ?", (time.time(),))
            rows = conn.execute("SELECT DISTINCT digest FROM content_lease_blobs").fetchall()
        return {Digest.parse(r["digest"]) for r in rows}

    @contextlib.contextmanager
    def gc_lock(self) -> Iterator[None]:
        """Exclusive: no blob is committed or held while the caller marks and sweeps."""
        with self._gc_lock(exclusive=True):
            yield

    def sweep(self, keep: Iterable[Digest]) -> list[BlobInfo]:
        """Delete every blob not in ``keep`` nor leased. Call inside :meth:`gc_lock`."""
        marked = set(keep) | self.leased()
        removed = []
        for info in list(self.walk()):
            if info.digest in marked:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(info.digest))
                removed.append(info)
        self._sweep_stale_ingests()
        return removed

    def _sweep_stale_ingests(self, older_than: float = DEFAULT_LEASE_SECONDS) -> None:
        if not self._ingest.exists():
            return
        cutoff = time.time() - older_than
        for entry in self._ingest.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)

    @contextlib.contextmanager
    def _gc_lock(self, *, exclusive: bool) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lockfile, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _publish(self, tmp: Path, digest: Digest, lease: Lease | None) -> None:
        target = self.path(digest)
        with self._gc_lock(exclusive=False):
            existed = target.exists()
            if lease is not None:
                self._record(lease, digest, created=not existed)
            if existed:
                os.unlink(tmp)
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            fsync_dir(target.parent)


class LocalBlobWriter:
    """A blob being written to ``<ingest_dir>/data``; see :meth:`LocalContentStore.writer`."""

    def __init__(
        self,
        store: LocalContentStore,
        ingest_dir: Path,
        *,
        lease: Lease | None,
        expected: Digest | None,
        resumable: bool,
    ) -> None:
        self._store = store
        self._dir = ingest_dir
        self._lease = lease
        self._algorithm = expected.algorithm if expected else "sha256"
        self._hashers: dict[str, Hasher] = {self._algorithm: new_hasher(self._algorithm)}
        if self._algorithm != "sha256":
            self._hashers["sha256"] = new_hasher("sha256")
        self._resumable = resumable
        self._done = False
        self._dir.mkdir(parents=True, exist_ok=True)
        data = self._dir / "data"
        self._offset = 0
        if resumable and data.exists():
            with open(data, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    self._update(chunk)
            self._file = open(data, "ab")  # noqa: SIM115 - closed in commit/abort
        else:
            self._file = open(data, "wb")  # noqa: SIM115 - closed in commit/abort

    @property
    def offset(self) -> int:
        return self._offset

    def _update(self, data: bytes) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)
        self._offset += len(data)

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._update(data)

    def digest(self, algorithm: str = "sha256") -> Digest:
        return Digest(algorithm, self._hashers[algorithm].hexdigest())

    def commit(self, expected: Digest | None = None, size: int | None = None) -> BlobInfo:
        """Verify and publish. On a mismatch nothing becomes visible and the error says why."""
        try:
            if size is not None and size != self._offset:
                raise SizeMismatchError(
                    f"blob {expected or self.digest()}: size is {self._offset} bytes, "
                    f"expected {size}"
                )
            if expected is not None:
                if expected.algorithm not in self._hashers:
                    self._hashers[expected.algorithm] = self._rehash(expected.algorithm)
                actual = self.digest(expected.algorithm)
                if actual != expected:
                    raise DigestMismatchError(f"digest mismatch: expected {expected}, got {actual}")
                digest = expected
            else:
                digest = self.digest("sha256")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._store._publish(self._dir / "data", digest, self._lease)
            self._cleanup()
            return BlobInfo(digest, self._offset)
        except BaseException:
            self.abort()
            raise

    def _rehash(self, algorithm: str) -> Hasher:
        hasher = new_hasher(algorithm)
        self._file.flush()
        with open(self._dir / "data", "rb") as fh:
            while chunk := fh.read(CHUNK):
                hasher.update(chunk)
        return hasher

    def abort(self) -> None:
        if self._done:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        self._cleanup()

    def suspend(self) -> None:
        """Close without deleting, so that a writer with the same ref can resume."""
        if not self._resumable:
            raise CaisError("only a writer opened with a ref can be resumed")
        self._file.close()
        self._done = True

    def _cleanup(self) -> None:
        self._done = True
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalBlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            if exc[0] is not None and self._resumable:
                self.suspend()
            else:
                self.abort()
