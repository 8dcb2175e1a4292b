"""ECR's records in SQLite: repositories, their settings, tags and policies, and images.

This is half of the domain (the other half is the registry's storage, reached through
:class:`cais.ecr.service.Ecr`); it knows nothing of HTTP. Each change is one transaction,
and every rule is checked before anything is written.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cais.ecr import errors
from cais.ecr.model import (
    MAX_REPOSITORY_TAGS,
    Image,
    Repository,
    StoredManifest,
    TagMutability,
)
from cais.ecr.schema import SCHEMA
from cais.state.sqlite import Database

TAGGED, UNTAGGED = "TAGGED", "UNTAGGED"
# in Image's field order, tags left out (they come from their own table)
_IMAGE_COLUMNS = (
    "i.repository, i.digest, i.media_type, i.artifact_media_type, i.size, i.pushed_at,"
    " i.last_pull, i.subject"
)
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256


class EcrStore:
    """Every account's repositories and images of one cais root."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema("ecr", SCHEMA)

    # -- repositories -----------------------------------------------------------------------

    def create_repository(self, repo: Repository, tags: Mapping[str, str]) -> Repository:
        check_tags(tags)
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT account FROM ecr_repositories WHERE name = ?", (repo.name,)
            ).fetchone()
            if row is not None:
                raise errors.repository_exists(repo.name, repo.registry_id)
            conn.execute(
                "INSERT INTO ecr_repositories (name, account, region, created_at,"
                " tag_mutability, mutability_filters, scan_on_push, encryption_type, kms_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    repo.name,
                    repo.registry_id,
                    repo.region,
                    repo.created_at,
                    repo.mutability.mode,
                    json.dumps(list(repo.mutability.filters)),
                    int(repo.scan_on_push),
                    repo.encryption_type,
                    repo.kms_key,
                ),
            )
            conn.executemany(
                "INSERT INTO ecr_repository_tags VALUES (?, ?, ?)",
                [(repo.name, k, v) for k, v in tags.items()],
            )
        return repo

    def find_repository(self, name: str) -> Repository | None:
        """The repository called ``name`` in whichever account owns it."""
        row = self._db.query_one("SELECT * FROM ecr_repositories WHERE name = ?", (name,))
        return _repository(row) if row is not None else None

    def get_repository(self, name: str, registry_id: str) -> Repository:
        repo = self.find_repository(name)
        if repo is None or repo.registry_id != registry_id:
            raise errors.repository_not_found(name, registry_id)
        return repo

    def list_repositories(
        self,
        registry_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Repository]:
        sql = "SELECT * FROM ecr_repositories WHERE account = ?"
        params: list[Any] = [registry_id]
        if after is not None:
            sql += " AND name > ?"
            params.append(after)
        sql += " ORDER BY name"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_repository(r) for r in self._db.query(sql, params)]

    def all_repositories(self) -> list[Repository]:
        return [_repository(r) for r in self._db.query("SELECT * FROM ecr_repositories")]

    def delete_repository(self, name: str, registry_id: str, *, force: bool) -> Repository:
        """Forget a repository and everything recorded about it (its images included when
        ``force``); RepositoryNotEmptyException otherwise if it has images."""
        with self._db.transaction() as conn:
            repo = self.get_repository(name, registry_id)
            has_images = conn.execute(
                "SELECT 1 FROM ecr_images WHERE repository = ? LIMIT 1", (name,)
            ).fetchone()
            if has_images and not force:
                raise errors.repository_not_empty(name, registry_id)
            conn.execute("DELETE FROM ecr_repositories WHERE name = ?", (name,))
        return repo

    def set_mutability(self, name: str, registry_id: str, mutability: TagMutability) -> None:
        with self._db.transaction() as conn:
            self.get_repository(name, registry_id)
            conn.execute(
                "UPDATE ecr_repositories SET tag_mutability = ?, mutability_filters = ?"
                " WHERE name = ?",
                (mutability.mode, json.dumps(list(mutability.filters)), name),
            )

    def set_scan_on_push(self, name: str, registry_id: str, scan_on_push: bool) -> None:
        self._update(name, registry_id, "scan_on_push", int(scan_on_push))

    def _update(self, name: str, registry_id: str, column: str, value: Any) -> None:
        with self._db.transaction() as conn:
            self.get_repository(name, registry_id)
            conn.execute(f"UPDATE ecr_repositories SET {column} = ? WHERE name = ?", (value, name))

    def _column(self, name: str, registry_id: str, column: str) -> Any:
        self.get_repository(name, registry_id)
        row = self._db.query_one(f"SELECT {column} FROM ecr_repositories WHERE name = ?", (name,))
        return row[0] if row is not None else None

    # -- policies ---------------------------------------------------------------------------

    def set_policy(self, name: str, registry_id: str, text: str | None) -> None:
        self._update(name, registry_id, "policy", text)

    def policy(self, name: str, registry_id: str) -> str | None:
        value = self._column(name, registry_id, "policy")
        return str(value) if value is not None else None

    def set_lifecycle_policy(self, name: str, registry_id: str, text: str | None) -> None:
        with self._db.transaction() as conn:
            self.get_repository(name, registry_id)
            conn.execute(
                "UPDATE ecr_repositories SET lifecycle_policy = ?, lifecycle_evaluated_at = NULL"
                " WHERE name = ?",
                (text, name),
            )

    def lifecycle_policy(self, name: str, registry_id: str) -> tuple[str, float | None] | None:
        """The policy text and when it last ran, or None when the repository has none."""
        self.get_repository(name, registry_id)
        row = self._db.query_one(
            "SELECT lifecycle_policy, lifecycle_evaluated_at FROM ecr_repositories WHERE name = ?",
            (name,),
        )
        if row is None or row[0] is None:
            return None
        return str(row[0]), row[1]

    def with_lifecycle_policies(self) -> list[tuple[Repository, str]]:
        rows = self._db.query(
            "SELECT * FROM ecr_repositories WHERE lifecycle_policy IS NOT NULL ORDER BY name"
        )
        return [(_repository(r), str(r["lifecycle_policy"])) for r in rows]

    def mark_evaluated(self, name: str, policy_text: str, when: float) -> None:
        """Record a run, unless the policy changed meanwhile."""
        self._db.execute(
            "UPDATE ecr_repositories SET lifecycle_evaluated_at = ?"
            " WHERE name = ? AND lifecycle_policy = ?",
            (when, name, policy_text),
        )

    def save_preview(
        self, name: str, policy_text: str, results: Sequence[Mapping[str, Any]], *, now: float
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO ecr_lifecycle_previews VALUES (?, ?, 'COMPLETE', ?, ?)",
            (name, policy_text, now, json.dumps(list(results))),
        )

    def preview(self, name: str) -> tuple[str, str, list[dict[str, Any]]] | None:
        """The last preview's policy text, status and results, or None."""
        row = self._db.query_one(
            "SELECT policy, status, results FROM ecr_lifecycle_previews WHERE repository = ?",
            (name,),
        )
        if row is None:
            return None
        return str(row[0]), str(row[1]), json.loads(row[2])

    # -- resource tags ----------------------------------------------------------------------

    def tags(self, name: str, registry_id: str) -> dict[str, str]:
        self.get_repository(name, registry_id)
        rows = self._db.query(
            "SELECT key, value FROM ecr_repository_tags WHERE repository = ? ORDER BY key",
            (name,),
        )
        return {r[0]: r[1] for r in rows}

    def tag(self, name: str, registry_id: str, tags: Mapping[str, str]) -> None:
        check_tags(tags)
        with self._db.transaction() as conn:
            self.get_repository(name, registry_id)
            existing = {
                r[0]
                for r in conn.execute(
                    "SELECT key FROM ecr_repository_tags WHERE repository = ?", (name,)
                )
            }
            if len(existing | set(tags)) > MAX_REPOSITORY_TAGS:
                raise errors.too_many_tags(MAX_REPOSITORY_TAGS)
            conn.executemany(
                "INSERT OR REPLACE INTO ecr_repository_tags VALUES (?, ?, ?)",
                [(name, k, v) for k, v in tags.items()],
            )

    def untag(self, name: str, registry_id: str, keys: Iterable[str]) -> None:
        with self._db.transaction() as conn:
            self.get_repository(name, registry_id)
            conn.executemany(
                "DELETE FROM ecr_repository_tags WHERE repository = ? AND key = ?",
                [(name, k) for k in keys],
            )

    # -- images -----------------------------------------------------------------------------

    def record_manifest(self, stored: StoredManifest, tag: str | None, *, now: float) -> None:
        """A manifest the registry stored (and the tag it was pushed with, if any).

        A digest pushed again keeps its first push time; a tag moves to the new digest.
        """
        name = stored.repository
        with self._db.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM ecr_repositories WHERE name = ?", (name,)
            ).fetchone():
                return  # deleted meanwhile: the registry's copy goes with it
            conn.execute(
                "INSERT OR IGNORE INTO ecr_images (repository, digest, media_type,"
                " artifact_media_type, size, pushed_at, subject) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    stored.digest,
                    stored.media_type,
                    stored.artifact_media_type,
                    stored.size,
                    now,
                    stored.subject,
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO ecr_image_children VALUES (?, ?, ?)",
                [(name, stored.digest, child) for child in stored.children],
            )
            if tag is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO ecr_image_tags VALUES (?, ?, ?)",
                    (name, tag, stored.digest),
                )

    def forget_image(self, repository: str, digest: str) -> None:
        self._db.execute(
            "DELETE FROM ecr_images WHERE repository = ? AND digest = ?", (repository, digest)
        )

    def forget_tag(self, repository: str, tag: str, digest: str) -> None:
        self._db.execute(
            "DELETE FROM ecr_image_tags WHERE repository = ? AND tag = ? AND digest = ?",
            (repository, tag, digest),
        )

    def record_pull(self, repository: str, digest: str, when: float) -> None:
        self._db.execute(
            "UPDATE ecr_images SET last_pull = ? WHERE repository = ? AND digest = ?",
            (when, repository, digest),
        )

    def resolve_tag(self, repository: str, tag: str) -> str | None:
        row = self._db.query_one(
            "SELECT digest FROM ecr_image_tags WHERE repository = ? AND tag = ?",
            (repository, tag),
        )
        return str(row[0]) if row is not None else None

    def image(self, repository: str, digest: str) -> Image | None:
        found = self.images(repository, digests=[digest])
        return found[0] if found else None

    def images(
        self,
        repository: str,
        *,
        tag_status: str | None = None,
        digests: Sequence[str] | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Image]:
        """Images ordered by digest; ``tag_status`` TAGGED or UNTAGGED (None or ANY: all)."""
        where = ["i.repository = ?"]
        params: list[Any] = [repository]
        if tag_status in (TAGGED, UNTAGGED):
            exists = "EXISTS" if tag_status == TAGGED else "NOT EXISTS"
            where.append(
                f"{exists} (SELECT 1 FROM ecr_image_tags t"
                " WHERE t.repository = i.repository AND t.digest = i.digest)"
            )
        if digests is not None:
            where.append(f"i.digest IN ({','.join('?' * len(digests))})")
            params += list(digests)
        if after is not None:
            where.append("i.digest > ?")
            params.append(after)
        sql = (
            f"SELECT {_IMAGE_COLUMNS} FROM ecr_images i WHERE {' AND '.join(where)}"
            " ORDER BY i.digest"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        cursor = self._db.connection().cursor()
        cursor.row_factory = None  # plain tuples: this is the hot path of DescribeImages
        rows = cursor.execute(sql, params).fetchall()
        if not rows:
            return []
        tags = self._tags_between(repository, rows[0][1], rows[-1][1])
        empty: tuple[str, ...] = ()
        return [Image(r[0], r[1], tags.get(r[1], empty), *r[2:]) for r in rows]

    def _tags_between(self, repository: str, first: str, last: str) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = defaultdict(list)
        cursor = self._db.connection().cursor()
        cursor.row_factory = None
        for digest, tag in cursor.execute(
            "SELECT digest, tag FROM ecr_image_tags WHERE repository = ?"
            " AND digest BETWEEN ? AND ? ORDER BY digest, tag",
            (repository, first, last),
        ):
            found[digest].append(tag)
        return {k: tuple(v) for k, v in found.items()}

    def referenced(self, repository: str) -> set[str]:
        """Digests that some index (manifest list) in the repository lists."""
        rows = self._db.query(
            "SELECT DISTINCT child FROM ecr_image_children WHERE repository = ?", (repository,)
        )
        return {str(r[0]) for r in rows}

    def parents(self, repository: str, digest: str) -> set[str]:
        """The indexes in the repository that list ``digest``."""
        rows = self._db.query(
            "SELECT parent FROM ecr_image_children WHERE repository = ? AND child = ?",
            (repository, digest),
        )
        return {str(r[0]) for r in rows}

    def has_images(self, repository: str) -> bool:
        return (
            self._db.query_one(
                "SELECT 1 FROM ecr_images WHERE repository = ? LIMIT 1", (repository,)
            )
            is not None
        )

    # -- meta -------------------------------------------------------------------------------

    def meta(self, name: str, default: str) -> str:
        """A stored setting; ``default`` is stored (once, race-free) when there is none."""
        with self._db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO ecr_meta VALUES (?, ?)", (name, default))
            row = conn.execute("SELECT value FROM ecr_meta WHERE name = ?", (name,)).fetchone()
        return str(row[0])


def check_tags(tags: Mapping[str, str]) -> None:
    """ECR's rules for resource tags (keys 1-128 characters, not ``aws:``; values ≤ 256)."""
    if len(tags) > MAX_REPOSITORY_TAGS:
        raise errors.too_many_tags(MAX_REPOSITORY_TAGS)
    for key, value in tags.items():
        if not key or len(key) > _MAX_TAG_KEY:
            raise errors.invalid_tag(f"Tag key {key!r} must be 1 to {_MAX_TAG_KEY} characters")
        if key.lower().startswith("aws:"):
            raise errors.invalid_tag(f"Tag key {key!r} uses the reserved prefix 'aws:'")
        if len(value) > _MAX_TAG_VALUE:
            raise errors.invalid_tag(
                f"Tag value for key {key!r} must be at most {_MAX_TAG_VALUE} characters"
            )


def _repository(row: sqlite3.Row) -> Repository:
    return Repository(
        name=row["name"],
        registry_id=row["account"],
        region=row["region"],
        created_at=row["created_at"],
        mutability=TagMutability(
            row["tag_mutability"], tuple(json.loads(row["mutability_filters"]))
        ),
        scan_on_push=bool(row["scan_on_push"]),
        encryption_type=row["encryption_type"],
        kms_key=row["kms_key"],
    )
