"""Named and anonymous volumes (``local`` driver): directories under ``<root>/volumes``."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cais.errors import ConflictError, InvalidArgumentError, NotFoundError
from cais.state.sqlite import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS volumes (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        created REAL NOT NULL,
        labels TEXT NOT NULL,
        options TEXT NOT NULL,
        anonymous INTEGER NOT NULL DEFAULT 0)""",
)


class VolumeNotFoundError(NotFoundError):
    pass


@dataclass(frozen=True)
class Volume:
    name: str
    mountpoint: Path
    created: float
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def inspect(self) -> dict[str, object]:
        from datetime import UTC, datetime

        return {
            "CreatedAt": datetime.fromtimestamp(self.created, UTC).isoformat(),
            "Driver": self.driver,
            "Labels": self.labels or None,
            "Mountpoint": str(self.mountpoint),
            "Name": self.name,
            "Options": self.options or None,
            "Scope": "local",
        }


VolumeUsers = Callable[[str], list[str]]


class VolumeStore:
    def __init__(self, root: Path, db: Database) -> None:
        self.root = root / "volumes"
        self.db = db
        self.users: VolumeUsers = lambda name: []

    def _schema(self) -> None:
        self.db.ensure_schema("volumes", _SCHEMA)

    def _path(self, name: str) -> Path:
        return self.root / name / "_data"

    def create(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Volume:
        """Create (or return the existing) volume ``name``; no name makes an anonymous one."""
        self._schema()
        if driver != "local":
            raise InvalidArgumentError(f"volume driver {driver!r} is not available: use local")
        anonymous = name is None
        name = name or os.urandom(32).hex()
        existing = self.find(name)
        if existing is not None:
            return existing
        path = self._path(name)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO volumes (name, driver, created, labels, options, anonymous) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (
                    name,
                    driver,
                    time.time(),
                    json.dumps(labels or {}),
                    json.dumps(options or {}),
                    int(anonymous),
                ),
            )
            path.mkdir(parents=True, exist_ok=True)
        return self.get(name)

    def find(self, name: str) -> Volume | None:
        self._schema()
        row = self.db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))
        if row is None:
            return None
        return Volume(
            row["name"],
            self._path(row["name"]),
            row["created"],
            row["driver"],
            json.loads(row["labels"]),
            json.loads(row["options"]),
            bool(row["anonymous"]),
        )

    def get(self, name: str) -> Volume:
        found = self.find(name)
        if found is None:
            raise VolumeNotFoundError(f"get {name}: no such volume")
        return found

    def all(self) -> list[Volume]:
        self._schema()
        return [
            v
            for r in self.db.query("SELECT name FROM volumes ORDER BY name")
            if (v := self.find(r["name"])) is not None
        ]

    def remove(self, name: str, *, force: bool = False) -> None:
        volume = self.find(name)
        if volume is None:
            if force:
                return
            raise VolumeNotFoundError(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise ConflictError(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.db.execute("DELETE FROM volumes WHERE name = ?", (name,))
        shutil.rmtree(self.root / name, ignore_errors=True)

    def prune(self, *, all_volumes: bool = False) -> tuple[list[str], int]:
        from cais.snapshots.overlay import disk_usage

        removed, reclaimed = [], 0
        for volume in self.all():
            if self.users(volume.name) or (not all_volumes and not volume.anonymous):
                continue
            reclaimed += disk_usage(volume.mountpoint).size
            self.remove(volume.name)
            removed.append(volume.name)
        return removed, reclaimed
