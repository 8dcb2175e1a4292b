"""Task definition revisions in SQLite; a family's revision counter never goes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cais.ecs import errors
from cais.ecs.model import Scope, TaskDefinition, TaskDefinitionStatus
from cais.ecs.sqlite import rows
from cais.ecs.sqlite.clusters import _tag
from cais.state.sqlite import Database


class TaskDefinitionTable:
    _db: Database

    def add_task_definition(
        self,
        scope: Scope,
        body: Mapping[str, Any],
        *,
        registered_at: float,
        registered_by: str,
        tags: Mapping[str, str],
    ) -> TaskDefinition:
        family = str(body["family"])
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT last_revision FROM ecs_families WHERE account = ? AND region = ?"
                " AND family = ?",
                (scope.account, scope.region, family),
            ).fetchone()
            revision = (row[0] if row is not None else 0) + 1
            conn.execute(
                "INSERT OR REPLACE INTO ecs_families VALUES (?, ?, ?, ?)",
                (scope.account, scope.region, family, revision),
            )
            definition = TaskDefinition(
                arn=scope.arn(f"task-definition/{family}:{revision}"),
                family=family,
                revision=revision,
                scope=scope,
                status=TaskDefinitionStatus.ACTIVE,
                registered_at=registered_at,
                registered_by=registered_by,
                body=dict(body),
            )
            conn.execute(
                "INSERT INTO ecs_task_definitions (arn, account, region, family, revision,"
                " status, registered_at, registered_by, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    definition.arn,
                    scope.account,
                    scope.region,
                    family,
                    revision,
                    definition.status.value,
                    registered_at,
                    registered_by,
                    rows.dumps(definition.body),
                ),
            )
            _tag(conn, definition.arn, tags)
        return definition

    def task_definition(
        self, scope: Scope, family: str, revision: int | None
    ) -> TaskDefinition | None:
        if revision is None:
            row = self._db.query_one(
                "SELECT * FROM ecs_task_definitions WHERE account = ? AND region = ?"
                " AND family = ? AND status = 'ACTIVE' ORDER BY revision DESC LIMIT 1",
                (scope.account, scope.region, family),
            )
        else:
            row = self._db.query_one(
                "SELECT * FROM ecs_task_definitions WHERE account = ? AND region = ?"
                " AND family = ? AND revision = ?",
                (scope.account, scope.region, family, revision),
            )
        return rows.task_definition(row) if row is not None else None

    def set_task_definition_status(
        self, arn: str, status: TaskDefinitionStatus, *, at: float
    ) -> TaskDefinition:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM ecs_task_definitions WHERE arn = ?", (arn,)
            ).fetchone()
            if row is None:
                raise errors.task_definition_does_not_exist()
            current = rows.task_definition(row)
            if current.status == status:
                return current
            if status is TaskDefinitionStatus.INACTIVE:
                current = replace(current, status=status, deregistered_at=at)
            elif status is TaskDefinitionStatus.DELETE_IN_PROGRESS:
                current = replace(current, status=status, delete_requested_at=at)
            else:
                current = replace(current, status=status)
            conn.execute(
                "UPDATE ecs_task_definitions SET status = ?, deregistered_at = ?,"
                " delete_requested_at = ? WHERE arn = ?",
                (current.status.value, current.deregistered_at, current.delete_requested_at, arn),
            )
        return current

    def task_definitions(
        self,
        scope: Scope,
        *,
        family: str | None,
        status: str,
        descending: bool,
        after: tuple[str, int] | None,
        limit: int,
    ) -> list[TaskDefinition]:
        sql = "SELECT * FROM ecs_task_definitions WHERE account = ? AND region = ? AND status = ?"
        params: list[Any] = [scope.account, scope.region, status]
        if family is not None:
            sql += " AND family = ?"
            params.append(family)
        if after is not None:
            sql += " AND (family, revision) " + ("< (?, ?)" if descending else "> (?, ?)")
            params += list(after)
        order = "DESC" if descending else "ASC"
        sql += f" ORDER BY family {order}, revision {order} LIMIT ?"
        params.append(limit)
        return [rows.task_definition(r) for r in self._db.query(sql, params)]

    def families(
        self, scope: Scope, *, prefix: str | None, status: str, after: str | None, limit: int
    ) -> list[str]:
        having = {
            "ACTIVE": " HAVING sum(status = 'ACTIVE') > 0",
            "INACTIVE": " HAVING sum(status = 'ACTIVE') = 0",
        }.get(status, "")
        sql = "SELECT family FROM ecs_task_definitions WHERE account = ? AND region = ?"
        params: list[Any] = [scope.account, scope.region]
        if prefix:
            sql += " AND substr(family, 1, ?) = ?"
            params += [len(prefix), prefix]
        if after is not None:
            sql += " AND family > ?"
            params.append(after)
        sql += f" GROUP BY family{having} ORDER BY family LIMIT ?"
        params.append(limit)
        return [r["family"] for r in self._db.query(sql, params)]

    def remove_unused_task_definitions(self) -> int:
        with self._db.transaction() as conn:
            gone = [
                r["arn"]
                for r in conn.execute(
                    "SELECT arn FROM ecs_task_definitions d WHERE status = 'DELETE_IN_PROGRESS'"
                    " AND NOT EXISTS (SELECT 1 FROM ecs_tasks t"
                    " WHERE t.task_definition_arn = d.arn)"
                )
            ]
            for arn in gone:
                conn.execute("DELETE FROM ecs_task_definitions WHERE arn = ?", (arn,))
                conn.execute("DELETE FROM ecs_tags WHERE arn = ?", (arn,))
        return len(gone)
