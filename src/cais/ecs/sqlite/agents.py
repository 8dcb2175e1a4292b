"""What the agent side keeps in SQLite: a secret for session tokens, join tokens, and the
small secret store that ``repositoryCredentials`` name."""

from __future__ import annotations

import sqlite3

from cais.ecs.model import JoinToken, Scope
from cais.state.sqlite import Database


class AgentTable:
    _db: Database

    def meta(self, name: str, default: str) -> str:
        with self._db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO ecs_meta VALUES (?, ?)", (name, default))
            row = conn.execute("SELECT value FROM ecs_meta WHERE name = ?", (name,)).fetchone()
        return str(row[0])

    def add_join_token(self, token: JoinToken, *, digest: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO ecs_join_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    digest,
                    token.scope.account,
                    token.scope.region,
                    token.cluster,
                    token.created_at,
                    token.description,
                    token.expires_at,
                ),
            )

    def join_token(self, digest: str) -> JoinToken | None:
        row = self._db.query_one("SELECT * FROM ecs_join_tokens WHERE digest = ?", (digest,))
        return _token(row) if row is not None else None

    def join_tokens(self) -> list[JoinToken]:
        return [
            _token(r) for r in self._db.query("SELECT * FROM ecs_join_tokens ORDER BY created_at")
        ]

    def delete_join_token(self, token_id: str) -> bool:
        return self._db.execute("DELETE FROM ecs_join_tokens WHERE id = ?", (token_id,)) > 0

    def put_secret(self, scope: Scope, name: str, value: str, *, now: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO ecs_secrets VALUES (?, ?, ?, ?, ?)",
            (scope.account, scope.region, name, value, now),
        )

    def secret(self, scope: Scope, name: str) -> str | None:
        row = self._db.query_one(
            "SELECT value FROM ecs_secrets WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )
        return str(row[0]) if row is not None else None

    def delete_secret(self, scope: Scope, name: str) -> bool:
        return (
            self._db.execute(
                "DELETE FROM ecs_secrets WHERE account = ? AND region = ? AND name = ?",
                (scope.account, scope.region, name),
            )
            > 0
        )

    def secret_names(self, scope: Scope) -> list[str]:
        return [
            r[0]
            for r in self._db.query(
                "SELECT name FROM ecs_secrets WHERE account = ? AND region = ? ORDER BY name",
                (scope.account, scope.region),
            )
        ]


def _token(row: sqlite3.Row) -> JoinToken:
    return JoinToken(
        id=row["id"],
        scope=Scope(row["account"], row["region"]),
        cluster=row["cluster"],
        created_at=row["created_at"],
        description=row["description"],
        expires_at=row["expires_at"],
    )
