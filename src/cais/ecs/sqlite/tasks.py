"""Tasks and their containers in SQLite.

Placement is the one write that depends on the whole cluster: :meth:`place_tasks` reads
the instances and live tasks inside its ``BEGIN IMMEDIATE`` transaction, asks the caller's
check (the scheduler's ``verify_plan``) and inserts only if it passes, so two RunTask calls
can never both take the last CPU units of an instance.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from cais.ecs.model import LiveTask, Scope, Task
from cais.ecs.sqlite import rows
from cais.ecs.sqlite.instances import read_instances
from cais.ecs.store import ClientToken, PlacementCheck, Recorded, TaskFilter
from cais.state.sqlite import Database

_CHUNK = 500


def read_tasks(conn: sqlite3.Connection, task_rows: Sequence[sqlite3.Row]) -> list[Task]:
    if not task_rows:
        return []
    arns = [r["arn"] for r in task_rows]
    containers: dict[str, list[Any]] = {}
    for start in range(0, len(arns), _CHUNK):
        chunk = arns[start : start + _CHUNK]
        for row in conn.execute(
            f"SELECT * FROM ecs_containers WHERE task_arn IN ({rows.placeholders(len(chunk))})"
            " ORDER BY task_arn, ordinal",
            chunk,
        ):
            containers.setdefault(row["task_arn"], []).append(rows.container(row))
    return [rows.task(r, containers.get(r["arn"], ())) for r in task_rows]


def write_task(conn: sqlite3.Connection, task: Task, *, insert: bool) -> None:
    if insert:
        sql = f"INSERT INTO ecs_tasks ({rows.TASK_COLUMNS}) VALUES ({rows.placeholders(36)})"
    else:
        sql = rows.upsert("ecs_tasks", rows.TASK_COLUMNS, "arn")
    conn.execute(sql, rows.task_values(task))
    if not insert:
        conn.execute("DELETE FROM ecs_containers WHERE task_arn = ?", (task.arn,))
    conn.executemany(
        f"INSERT INTO ecs_containers ({rows.CONTAINER_COLUMNS}) VALUES ({rows.placeholders(17)})",
        [rows.container_values(task.arn, i, c) for i, c in enumerate(task.containers)],
    )


class TaskTable:
    _db: Database

    def live_tasks(self, cluster_arn: str) -> list[LiveTask]:
        conn = self._db.connection()
        return _live(conn, cluster_arn)

    def place_tasks(
        self,
        tasks: Sequence[Task],
        *,
        cluster_arn: str,
        check: PlacementCheck,
        client_token: ClientToken | None = None,
    ) -> bool:
        with self._db.transaction() as conn:
            instances = read_instances(
                conn,
                conn.execute(
                    "SELECT * FROM ecs_instances WHERE cluster_arn = ? ORDER BY registered_at, arn",
                    (cluster_arn,),
                ).fetchall(),
                cluster_arn=cluster_arn,
            )
            # nothing is written before both questions are answered: returning commits
            if not check(instances, _live(conn, cluster_arn)):
                return False
            if client_token is not None and not _record(conn, client_token, tasks):
                return False
            for task in tasks:
                write_task(conn, task, insert=True)
        return True

    def client_token(self, scope: Scope, token: str) -> Recorded | None:
        row = self._db.query_one(
            "SELECT task_arns, failures FROM ecs_client_tokens WHERE account = ? AND region = ?"
            " AND token = ?",
            (scope.account, scope.region, token),
        )
        if row is None:
            return None
        return Recorded(
            task_arns=tuple(json.loads(row["task_arns"])),
            failures=tuple(json.loads(row["failures"])),
        )

    def forget_client_tokens(self, *, before: float) -> int:
        return self._db.execute("DELETE FROM ecs_client_tokens WHERE created_at < ?", (before,))

    def task(self, cluster_arn: str, reference: str) -> Task | None:
        conn = self._db.connection()
        found = conn.execute(
            "SELECT * FROM ecs_tasks WHERE cluster_arn = ? AND (arn = ? OR id = ?)",
            (cluster_arn, reference, reference),
        ).fetchall()
        return read_tasks(conn, found)[0] if found else None

    def task_by_arn(self, arn: str) -> Task | None:
        conn = self._db.connection()
        found = conn.execute("SELECT * FROM ecs_tasks WHERE arn = ?", (arn,)).fetchall()
        return read_tasks(conn, found)[0] if found else None

    def tasks_by_reference(self, cluster_arn: str, references: Sequence[str]) -> list[Task]:
        """The tasks named (ARN or ID) in the cluster, in no particular order."""
        conn = self._db.connection()
        marks = rows.placeholders(len(references))
        found = conn.execute(
            f"SELECT * FROM ecs_tasks WHERE cluster_arn = ? AND (arn IN ({marks})"
            f" OR id IN ({marks}))",
            (cluster_arn, *references, *references),
        ).fetchall()
        return read_tasks(conn, found)

    def task_arns(
        self, cluster_arn: str, task_filter: TaskFilter, *, after: str | None, limit: int
    ) -> list[str]:
        sql = "SELECT arn FROM ecs_tasks WHERE cluster_arn = ? AND desired_status = ?"
        params: list[Any] = [cluster_arn, task_filter.desired_status]
        for column, value in (
            ("family", task_filter.family),
            ("started_by", task_filter.started_by),
            ("instance_arn", task_filter.instance_arn),
            ("launch_type", task_filter.launch_type),
            ("group_name", task_filter.group),
        ):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        if after is not None:
            sql += " AND arn > ?"
            params.append(after)
        sql += " ORDER BY arn LIMIT ?"
        params.append(limit)
        return [r["arn"] for r in self._db.query(sql, params)]

    def update_task(self, arn: str, change: Callable[[Task], Task]) -> Task | None:
        with self._db.transaction() as conn:
            found = conn.execute("SELECT * FROM ecs_tasks WHERE arn = ?", (arn,)).fetchall()
            if not found:
                return None
            current = read_tasks(conn, found)[0]
            updated = change(current)
            if updated != current:
                write_task(conn, updated, insert=False)
        return updated

    def instance_tasks(self, instance_arn: str, *, stopped: bool = False) -> list[Task]:
        conn = self._db.connection()
        sql = "SELECT * FROM ecs_tasks WHERE instance_arn = ?"
        if not stopped:
            sql += " AND last_status != 'STOPPED'"
        return read_tasks(
            conn, conn.execute(sql + " ORDER BY created_at", (instance_arn,)).fetchall()
        )

    def prune_tasks(self, *, stopped_before: float) -> int:
        with self._db.transaction() as conn:
            gone = [
                r["arn"]
                for r in conn.execute(
                    "SELECT arn FROM ecs_tasks WHERE stopped_at IS NOT NULL AND stopped_at < ?",
                    (stopped_before,),
                )
            ]
            for arn in gone:
                conn.execute("DELETE FROM ecs_tasks WHERE arn = ?", (arn,))
                conn.execute("DELETE FROM ecs_tags WHERE arn = ?", (arn,))
        return len(gone)


def _record(conn: sqlite3.Connection, token: ClientToken, tasks: Sequence[Task]) -> bool:
    """Remember a client token with its tasks; False if it was used meanwhile."""
    inserted = conn.execute(
        "INSERT OR IGNORE INTO ecs_client_tokens VALUES (?, ?, ?, ?, ?, ?)",
        (
            token.scope.account,
            token.scope.region,
            token.token,
            rows.dumps([t.arn for t in tasks]),
            rows.dumps([dict(f) for f in token.failures]),
            token.created_at,
        ),
    ).rowcount
    return bool(inserted)


def _live(conn: sqlite3.Connection, cluster_arn: str) -> list[LiveTask]:
    """The cluster's live tasks, as placement reads them (a few columns, no containers)."""
    cursor = conn.execute(
        "SELECT arn, instance_arn, task_definition_arn, family, group_name, started_by,"
        " last_status, desired_status FROM ecs_tasks"
        " WHERE cluster_arn = ? AND last_status != 'STOPPED'",
        (cluster_arn,),
    )
    cursor.row_factory = None  # plain tuples: thousands of rows per placement
    return [LiveTask(*row) for row in cursor]
