"""Container records: one row per container, its config and state as JSON.

Names are unique (Docker's rule); IDs are 64 hex digits; lookups take a name, a full ID or
a unique ID prefix.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import replace

from cais.errors import ConflictError, NotFoundError
from cais.runtime.model import Container, ContainerConfig, ContainerState, from_json, to_json
from cais.state.sqlite import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_id TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        config TEXT NOT NULL,
        state TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id)",
)

_ADJECTIVES = (
    "admiring", "bold", "brave", "busy", "calm", "clever", "cool", "eager", "elated",
    "epic", "festive", "focused", "gallant", "gifted", "happy", "jolly", "keen", "kind",
    "loving", "lucid", "modest", "nifty", "optimistic", "quirky", "serene", "sharp",
    "stoic", "sweet", "tender", "trusting", "vibrant", "wizardly", "zealous",
)  # fmt: skip
_NAMES = (
    "albattani", "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler",
    "fermi", "franklin", "galileo", "gauss", "hopper", "hypatia", "kepler", "knuth",
    "lamarr", "lovelace", "mccarthy", "meitner", "noether", "pascal", "ritchie", "shannon",
    "thompson", "torvalds", "turing", "wozniak", "yonath",
)  # fmt: skip


class ContainerNotFoundError(NotFoundError):
    pass


class ContainerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _schema(self) -> None:
        self.db.ensure_schema("containers", _SCHEMA)

    def new_id(self) -> str:
        return os.urandom(32).hex()

    def random_name(self) -> str:
        self._schema()
        for _ in range(100):
            pick = int.from_bytes(os.urandom(4), "big")
            name = f"{_ADJECTIVES[pick % len(_ADJECTIVES)]}_{_NAMES[(pick >> 16) % len(_NAMES)]}"
            if not self.db.query_one("SELECT 1 FROM containers WHERE name = ?", (name,)):
                return name
        return f"cais_{os.urandom(4).hex()}"

    def insert(self, container: Container) -> None:
        self._schema()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM containers WHERE name = ?", (container.name,)
            ).fetchone()
            if row is not None:
                raise ConflictError(
                    f'Conflict. The container name "/{container.name}" is already in use by '
                    f'container "{row["id"]}". You have to remove (or rename) that container '
                    "to be able to reuse that name."
                )
            conn.execute(
                "INSERT INTO containers (id, name, image_id, created, status, config, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    container.id,
                    container.name,
                    container.config.image_id,
                    container.created,
                    container.state.status,
                    json.dumps(to_json(container.config)),
                    json.dumps(to_json(container.state)),
                ),
            )

    def update_state(
        self, cid: str, change: Callable[[ContainerState], ContainerState]
    ) -> Container:
        """Read, change and write a container's state in one transaction (no lost updates)."""
        self._schema()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT state FROM containers WHERE id = ?", (cid,)).fetchone()
            if row is None:
                raise ContainerNotFoundError(f"No such container: {cid}")
            state = change(from_json(ContainerState, json.loads(row["state"])))
            conn.execute(
                "UPDATE containers SET status = ?, state = ? WHERE id = ?",
                (state.status, json.dumps(to_json(state)), cid),
            )
        return self.get(cid)

    def set_state(self, cid: str, **changes: object) -> Container:
        return self.update_state(cid, lambda s: replace(s, **changes))  # type: ignore[arg-type]

    def rename(self, cid: str, name: str) -> None:
        self._schema()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
            if row is not None and row["id"] != cid:
                raise ConflictError(
                    f'Error when allocating new name: Conflict. The container name "/{name}" '
                    f'is already in use by container "{row["id"]}".'
                )
            conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, cid))

    def delete(self, cid: str) -> None:
        self._schema()
        self.db.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def _row(self, row: object) -> Container:
        r = row
        return Container(
            id=r["id"],  # type: ignore[index]
            name=r["name"],  # type: ignore[index]
            created=r["created"],  # type: ignore[index]
            config=from_json(ContainerConfig, json.loads(r["config"])),  # type: ignore[index]
            state=from_json(ContainerState, json.loads(r["state"])),  # type: ignore[index]
        )

    def get(self, cid: str) -> Container:
        self._schema()
        row = self.db.query_one("SELECT * FROM containers WHERE id = ?", (cid,))
        if row is None:
            raise ContainerNotFoundError(f"No such container: {cid}")
        return self._row(row)

    def find(self, cid: str) -> Container | None:
        self._schema()
        row = self.db.query_one("SELECT * FROM containers WHERE id = ?", (cid,))
        return self._row(row) if row is not None else None

    def resolve(self, text: str) -> Container:
        """By name (with or without ``/``), full ID or unique ID prefix."""
        self._schema()
        name = text.lstrip("/")
        row = self.db.query_one("SELECT * FROM containers WHERE name = ? OR id = ?", (name, text))
        if row is not None:
            return self._row(row)
        if text and all(c in "0123456789abcdef" for c in text):
            rows = self.db.query("SELECT * FROM containers WHERE id LIKE ?", (f"{text}%",))
            if len(rows) > 1:
                raise ConflictError(f"multiple containers found with provided prefix: {text}")
            if rows:
                return self._row(rows[0])
        raise ContainerNotFoundError(f"No such container: {text}")

    def all(self) -> list[Container]:
        self._schema()
        return [
            self._row(r) for r in self.db.query("SELECT * FROM containers ORDER BY created DESC")
        ]

    def using_image(self, image_id: str) -> list[Container]:
        self._schema()
        return [
            self._row(r)
            for r in self.db.query(
                "SELECT * FROM containers WHERE image_id = ? ORDER BY created", (image_id,)
            )
        ]

    def with_status(self, *statuses: str) -> list[Container]:
        self._schema()
        marks = ",".join("?" for _ in statuses)
        return [
            self._row(r)
            for r in self.db.query(f"SELECT * FROM containers WHERE status IN ({marks})", statuses)
        ]


def new_container(cid: str, name: str, config: ContainerConfig) -> Container:
    return Container(id=cid, name=name, created=time.time(), config=config)
