"""Clusters, their counts, and every resource's tags in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cais.ecs import errors
from cais.ecs.model import Cluster, ClusterCounts, ClusterStatus, Scope
from cais.ecs.sqlite import rows
from cais.ecs.store import MAX_TAGS
from cais.state.sqlite import Database

PENDING = ("PROVISIONING", "PENDING", "ACTIVATING")
LIVE_INSTANCE = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING")


class ClusterTable:
    _db: Database

    def put_cluster(self, cluster: Cluster, tags: Mapping[str, str]) -> tuple[Cluster, bool]:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM ecs_clusters WHERE account = ? AND region = ? AND name = ?",
                (cluster.scope.account, cluster.scope.region, cluster.name),
            ).fetchone()
            if row is not None and row["status"] == ClusterStatus.ACTIVE:
                return rows.cluster(row), False
            if row is not None:
                cluster = replace(cluster, arn=row["arn"])
                conn.execute("DELETE FROM ecs_tags WHERE arn = ?", (cluster.arn,))
            conn.execute(
                "INSERT OR REPLACE INTO ecs_clusters (arn, account, region, name, status,"
                " created_at, settings, configuration) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cluster.arn,
                    cluster.scope.account,
                    cluster.scope.region,
                    cluster.name,
                    cluster.status.value,
                    cluster.created_at,
                    json.dumps([list(s) for s in cluster.settings]),
                    json.dumps(cluster.configuration) if cluster.configuration else None,
                ),
            )
            _tag(conn, cluster.arn, tags)
        return cluster, True

    def cluster(self, scope: Scope, name: str) -> Cluster | None:
        row = self._db.query_one(
            "SELECT * FROM ecs_clusters WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )
        return rows.cluster(row) if row is not None else None

    def clusters(self, scope: Scope, *, after: str | None, limit: int) -> list[Cluster]:
        found = self._db.query(
            "SELECT * FROM ecs_clusters WHERE account = ? AND region = ? AND status = 'ACTIVE'"
            " AND name > ? ORDER BY name LIMIT ?",
            (scope.account, scope.region, after or "", limit),
        )
        return [rows.cluster(r) for r in found]

    def cluster_counts(self, cluster_arn: str) -> ClusterCounts:
        conn = self._db.connection()
        instances = conn.execute(
            f"SELECT count(*) FROM ecs_instances WHERE cluster_arn = ?"
            f" AND status IN ({rows.placeholders(len(LIVE_INSTANCE))})",
            (cluster_arn, *LIVE_INSTANCE),
        ).fetchone()[0]
        counts: dict[str, int] = {}
        for row in conn.execute(
            "SELECT launch_type, last_status, count(*) AS n FROM ecs_tasks"
            " WHERE cluster_arn = ? AND last_status != 'STOPPED' GROUP BY launch_type, last_status",
            (cluster_arn,),
        ):
            kind = "running" if row["last_status"] == "RUNNING" else None
            if row["last_status"] in PENDING:
                kind = "pending"
            if kind is None:
                continue
            counts[kind] = counts.get(kind, 0) + row["n"]
            key = f"{kind}_{row['launch_type'].lower()}"
            counts[key] = counts.get(key, 0) + row["n"]
        return ClusterCounts(
            registered_instances=instances,
            running_tasks=counts.get("running", 0),
            pending_tasks=counts.get("pending", 0),
            running_ec2=counts.get("running_ec2", 0),
            pending_ec2=counts.get("pending_ec2", 0),
            running_external=counts.get("running_external", 0),
            pending_external=counts.get("pending_external", 0),
        )

    def deactivate_cluster(self, cluster_arn: str) -> Cluster:
        with self._db.transaction() as conn:
            row = _cluster_row(conn, cluster_arn)
            if conn.execute(
                "SELECT 1 FROM ecs_instances WHERE cluster_arn = ? AND status IN ('ACTIVE',"
                " 'DRAINING', 'REGISTERING', 'DEREGISTERING') LIMIT 1",
                (cluster_arn,),
            ).fetchone():
                raise errors.cluster_has_instances()
            if conn.execute(
                "SELECT 1 FROM ecs_tasks WHERE cluster_arn = ? AND desired_status = 'RUNNING'"
                " AND last_status != 'STOPPED' LIMIT 1",
                (cluster_arn,),
            ).fetchone():
                raise errors.cluster_has_tasks()
            conn.execute(
                "UPDATE ecs_clusters SET status = 'INACTIVE' WHERE arn = ?", (cluster_arn,)
            )
        return replace(rows.cluster(row), status=ClusterStatus.INACTIVE)

    def update_cluster(
        self,
        cluster_arn: str,
        *,
        settings: Sequence[tuple[str, str]] | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> Cluster:
        with self._db.transaction() as conn:
            current = rows.cluster(_cluster_row(conn, cluster_arn))
            if settings is not None:
                merged = dict(current.settings)
                merged.update(dict(settings))
                current = replace(current, settings=tuple(merged.items()))
            if configuration is not None:
                current = replace(current, configuration=dict(configuration))
            conn.execute(
                "UPDATE ecs_clusters SET settings = ?, configuration = ? WHERE arn = ?",
                (
                    json.dumps([list(s) for s in current.settings]),
                    json.dumps(current.configuration) if current.configuration else None,
                    cluster_arn,
                ),
            )
        return current


class TagTable:
    _db: Database

    def tags(self, arn: str) -> dict[str, str]:
        found = self._db.query("SELECT key, value FROM ecs_tags WHERE arn = ? ORDER BY key", (arn,))
        return {r["key"]: r["value"] for r in found}

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        with self._db.transaction() as conn:
            _tag(conn, arn, tags)

    def untag(self, arn: str, keys: Collection[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM ecs_tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys]
            )


def _tag(conn: sqlite3.Connection, arn: str, tags: Mapping[str, str]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO ecs_tags (arn, key, value) VALUES (?, ?, ?)",
        [(arn, k, v) for k, v in tags.items()],
    )
    total = conn.execute("SELECT count(*) FROM ecs_tags WHERE arn = ?", (arn,)).fetchone()[0]
    if total > MAX_TAGS:
        raise errors.invalid(f"A resource can have at most {MAX_TAGS} tags.")


def _cluster_row(conn: sqlite3.Connection, arn: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM ecs_clusters WHERE arn = ?", (arn,)
    ).fetchone()
    if row is None:
        raise errors.cluster_not_found()
    return row
