"""The overlayfs snapshotter.

On disk (under ``<root>/overlay``)::

    snapshots/<id>/fs      the snapshot's own files (an overlay upper, or a layer's content)
    snapshots/<id>/work    overlay's work directory (active snapshots only)

Records (key, id, kind, parent) live in the cais database. A directory is created inside
the transaction that inserts its record; a directory without a record is left-over work
of a killed process and :meth:`cleanup` removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from cais.errors import NotFoundError
from cais.snapshots.types import Kind, Mount, SnapshotError, SnapshotInfo, Usage
from cais.state.sqlite import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS snapshots (
        key TEXT PRIMARY KEY,
        id INTEGER NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        parent TEXT REFERENCES snapshots(key),
        created REAL NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent)",
    """CREATE TABLE IF NOT EXISTS snapshot_ids (next INTEGER NOT NULL)""",
)


class OverlaySnapshotter:
    """Snapshots as overlay layers; parents become ``lowerdir`` entries."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root / "overlay"
        self.db = db
        self._dirs = self.root / "snapshots"

    def _schema(self) -> None:
        self.db.ensure_schema("snapshots", _SCHEMA)

    def _dir(self, snapshot_id: int) -> Path:
        return self._dirs / str(snapshot_id)

    def _row(self, key: str) -> tuple[int, Kind, str | None, float, dict[str, str]]:
        self._schema()
        row = self.db.query_one(
            "SELECT id, kind, parent, created, labels FROM snapshots WHERE key = ?", (key,)
        )
        if row is None:
            raise NotFoundError(f"snapshot {key!r} does not exist")
        return (
            row["id"],
            Kind(row["kind"]),
            row["parent"],
            row["created"],
            json.loads(row["labels"]),
        )

    def exists(self, key: str) -> bool:
        self._schema()
        return self.db.query_one("SELECT 1 FROM snapshots WHERE key = ?", (key,)) is not None

    def stat(self, key: str) -> SnapshotInfo:
        _, kind, parent, created, labels = self._row(key)
        return SnapshotInfo(key, kind, parent, created, labels)

    def _create(
        self, key: str, parent: str | None, kind: Kind, labels: Mapping[str, str] | None
    ) -> int:
        self._schema()
        self._dirs.mkdir(parents=True, exist_ok=True)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                raise SnapshotError(f"snapshot {key!r} already exists")
            if parent is not None:
                prow = conn.execute(
                    "SELECT kind FROM snapshots WHERE key = ?", (parent,)
                ).fetchone()
                if prow is None:
                    raise SnapshotError(f"parent snapshot {parent!r} does not exist")
                if prow["kind"] != Kind.COMMITTED:
                    raise SnapshotError(f"parent snapshot {parent!r} is not committed")
            row = conn.execute("SELECT max(id) AS m FROM snapshots").fetchone()
            snapshot_id = (row["m"] or 0) + 1
            while self._dir(snapshot_id).exists():
                snapshot_id += 1
            conn.execute(
                "INSERT INTO snapshots (key, id, kind, parent, created, labels) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, snapshot_id, kind.value, parent, time.time(), json.dumps(dict(labels or {}))),
            )
            path = self._dir(snapshot_id)
            (path / "fs").mkdir(parents=True, mode=0o755)
            if kind is Kind.ACTIVE:
                (path / "work").mkdir(mode=0o700)
        return snapshot_id

    def prepare(
        self, key: str, parent: str | None = None, *, labels: Mapping[str, str] | None = None
    ) -> list[Mount]:
        self._create(key, parent, Kind.ACTIVE, labels)
        return self.mounts(key)

    def view(
        self, key: str, parent: str, *, labels: Mapping[str, str] | None = None
    ) -> list[Mount]:
        self._create(key, parent, Kind.VIEW, labels)
        return self.mounts(key)

    def _lowers(self, parent: str | None) -> list[str]:
        lowers = []
        while parent is not None:
            pid, _, grand, _, _ = self._row(parent)
            lowers.append(str(self._dir(pid) / "fs"))
            parent = grand
        return lowers

    def mounts(self, key: str) -> list[Mount]:
        snapshot_id, kind, parent, _, _ = self._row(key)
        path = self._dir(snapshot_id)
        lowers = self._lowers(parent)
        if kind is Kind.VIEW:
            if len(lowers) == 1:
                return [Mount("bind", lowers[0], ("ro", "rbind"))]
            return [Mount("overlay", "overlay", ("ro", "lowerdir=" + ":".join(lowers)))]
        if kind is Kind.COMMITTED:
            raise SnapshotError(f"snapshot {key!r} is committed; take a view of it instead")
        if not lowers:
            return [Mount("bind", str(path / "fs"), ("rw", "rbind"))]
        return [
            Mount(
                "overlay",
                "overlay",
                (
                    # the upper must stay a plain diff: layers/diff.py reads it as one and
                    # skips trusted.overlay.* (a host may default metacopy/redirect_dir on)
                    "index=off",
                    "metacopy=off",
                    "redirect_dir=off",
                    "lowerdir=" + ":".join(lowers),
                    f"upperdir={path / 'fs'}",
                    f"workdir={path / 'work'}",
                ),
            )
        ]

    def upper_dir(self, key: str) -> Path:
        snapshot_id, kind, _, _, _ = self._row(key)
        if kind is not Kind.ACTIVE:
            raise SnapshotError(f"snapshot {key!r} is not active")
        return self._dir(snapshot_id) / "fs"

    def directory(self, key: str) -> Path:
        """The directory holding a snapshot's own files (for ``inspect``'s GraphDriver)."""
        return self._dir(self._row(key)[0]) / "fs"

    def commit(self, name: str, key: str, *, labels: Mapping[str, str] | None = None) -> None:
        snapshot_id, kind, _, _, old_labels = self._row(key)
        if kind is not Kind.ACTIVE:
            raise SnapshotError(f"snapshot {key!r} is not active")
        merged = {**old_labels, **(labels or {})}
        shutil.rmtree(self._dir(snapshot_id) / "work", ignore_errors=True)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise SnapshotError(f"snapshot {name!r} already exists")
            conn.execute(
                "UPDATE snapshots SET key = ?, kind = ?, labels = ? WHERE key = ?",
                (name, Kind.COMMITTED.value, json.dumps(merged), key),
            )

    def remove(self, key: str) -> None:
        snapshot_id, _, _, _, _ = self._row(key)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM snapshots WHERE parent = ?", (key,)).fetchone():
                raise SnapshotError(f"snapshot {key!r} has children")
            conn.execute("DELETE FROM snapshots WHERE key = ?", (key,))
        # the record is gone first: a crash here leaves a directory that cleanup() removes
        _rmtree(self._dir(snapshot_id))

    def walk(self) -> Iterator[SnapshotInfo]:
        self._schema()
        for row in self.db.query(
            "SELECT key, kind, parent, created, labels FROM snapshots ORDER BY id"
        ):
            yield SnapshotInfo(
                row["key"],
                Kind(row["kind"]),
                row["parent"],
                row["created"],
                json.loads(row["labels"]),
            )

    def usage(self, key: str) -> Usage:
        snapshot_id, _, _, _, _ = self._row(key)
        return disk_usage(self._dir(snapshot_id) / "fs")

    def cleanup(self) -> int:
        self._schema()
        if not self._dirs.exists():
            return 0
        known = {str(r["id"]) for r in self.db.query("SELECT id FROM snapshots")}
        removed = 0
        for entry in self._dirs.iterdir():
            if entry.name not in known:
                _rmtree(entry)
                removed += 1
        return removed


def disk_usage(path: Path) -> Usage:
    """Bytes (allocated blocks) and inodes under ``path``, hard links counted once."""
    size = 0
    inodes = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            it = os.scandir(current)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                ident = (st.st_dev, st.st_ino)
                if ident in seen:
                    continue
                seen.add(ident)
                inodes += 1
                size += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
    return Usage(size, inodes)


def _rmtree(path: Path) -> None:
    """Remove a tree even where modes forbid it (layers keep their owners' modes)."""

    def retry(func: object, failed: str, exc_info: object) -> None:
        try:
            os.chmod(os.path.dirname(failed), 0o755)
            if os.path.isdir(failed) and not os.path.islink(failed):
                shutil.rmtree(failed, ignore_errors=True)
            else:
                os.unlink(failed)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)
