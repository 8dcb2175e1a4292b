"""Where blobs are known to live: (registry, repository) per blob digest.

Every blob a pull fetched or a push sent is remembered here, so that a later push of the
same blob to another repository of that registry can ask for a cross-repository mount
(``POST …/blobs/uploads/?mount=<digest>&from=<repository>``) instead of sending the bytes.
The table is a cache: a wrong row costs one refused mount, never correctness.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from cais.oci.digest import Digest
from cais.state.sqlite import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS distribution_blob_sources (
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,
        seen REAL NOT NULL,
        PRIMARY KEY (registry, digest, repository))""",
)


class BlobSources:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _schema(self) -> None:
        self.db.ensure_schema("distribution", _SCHEMA)

    def remember(self, registry: str, repository: str, digests: Iterable[Digest]) -> None:
        self._schema()
        now = time.time()
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO distribution_blob_sources (registry, repository, digest, seen) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (registry, digest, repository) "
                "DO UPDATE SET seen = excluded.seen",
                [(registry, repository, str(d), now) for d in digests],
            )

    def repositories(
        self, registry: str, digest: Digest, *, exclude: str = "", limit: int = 3
    ) -> list[str]:
        """Repositories of ``registry`` known to hold ``digest``, most recent first."""
        self._schema()
        rows = self.db.query(
            "SELECT repository FROM distribution_blob_sources "
            "WHERE registry = ? AND digest = ? AND repository != ? ORDER BY seen DESC LIMIT ?",
            (registry, str(digest), exclude, limit),
        )
        return [r["repository"] for r in rows]

    def forget(self, registry: str, repository: str, digest: Digest) -> None:
        self._schema()
        self.db.execute(
            "DELETE FROM distribution_blob_sources "
            "WHERE registry = ? AND repository = ? AND digest = ?",
            (registry, repository, str(digest)),
        )
