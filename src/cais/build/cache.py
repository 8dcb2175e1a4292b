"""The build cache: a step's inputs, digested, name the image the step made.

A step's key is the digest of its parent step's key and everything that can change
its result: the instruction after variable substitution, the build arguments it can
see, and for COPY/ADD a digest of what its sources hold (names, types, modes, content;
owners when they are kept). So a step is reused only when its parent, its text, its
arguments and its sources are the same; any change makes it and every later step of
the stage miss.

Table (owned here): ``build_cache`` (key → image ID, when made and last used).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cais.oci.digest import Digest
from cais.state.sqlite import Database

CACHE_VERSION = "cais-build-cache-v1"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS build_cache (
        key TEXT PRIMARY KEY,
        image_id TEXT NOT NULL,
        created REAL NOT NULL,
        last_used REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image_id)",
)


@dataclass(frozen=True)
class StepInputs:
    """What a step's result depends on, besides its parent step.

    ``kind`` is the instruction, ``text`` its arguments after substitution, ``args`` the
    build arguments it sees (name=value), ``sources`` digests of COPY/ADD sources, and
    ``extra`` anything else the step's execution depends on (network mode, user…).
    """

    kind: str
    text: str
    args: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()

    def canonical(self) -> bytes:
        return json.dumps(
            {
                "kind": self.kind,
                "text": self.text,
                "args": [list(a) for a in self.args],
                "sources": list(self.sources),
                "extra": [list(e) for e in self.extra],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()


def base_key(image_id: Digest | None, *, platform: str) -> str:
    """The key a stage starts from: its base image (or scratch) and the platform."""
    base = str(image_id) if image_id is not None else "scratch"
    return _digest(f"{CACHE_VERSION}\nFROM {base}\nplatform {platform}".encode())


def step_key(parent: str, inputs: StepInputs) -> str:
    return _digest(parent.encode() + b"\n" + inputs.canonical())


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BuildCache:
    """Step keys → intermediate image IDs, in the cais database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _schema(self) -> None:
        self.db.ensure_schema("build_cache", _SCHEMA)

    def lookup(self, key: str) -> Digest | None:
        self._schema()
        row = self.db.query_one("SELECT image_id FROM build_cache WHERE key = ?", (key,))
        if row is None:
            return None
        self.db.execute("UPDATE build_cache SET last_used = ? WHERE key = ?", (time.time(), key))
        return Digest.parse(row["image_id"])

    def store(self, key: str, image_id: Digest) -> None:
        self._schema()
        now = time.time()
        self.db.execute(
            "INSERT INTO build_cache (key, image_id, created, last_used) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET image_id = excluded.image_id, "
            "last_used = excluded.last_used",
            (key, str(image_id), now, now),
        )

    def forget(self, key: str) -> None:
        self._schema()
        self.db.execute("DELETE FROM build_cache WHERE key = ?", (key,))

    def image_ids(self) -> list[Digest]:
        self._schema()
        return [
            Digest.parse(r["image_id"])
            for r in self.db.query("SELECT DISTINCT image_id FROM build_cache")
        ]

    def drop_images(self, image_ids: Sequence[Digest]) -> int:
        """Forget every entry naming one of ``image_ids``; how many went."""
        self._schema()
        removed = 0
        with self.db.transaction() as conn:
            for image_id in image_ids:
                removed += conn.execute(
                    "DELETE FROM build_cache WHERE image_id = ?", (str(image_id),)
                ).rowcount
        return removed

    def count(self) -> int:
        self._schema()
        row = self.db.query_one("SELECT count(*) AS n FROM build_cache")
        return int(row["n"]) if row else 0
