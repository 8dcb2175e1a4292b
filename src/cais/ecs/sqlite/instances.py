"""Container instances and their attributes in SQLite.

An instance row holds what the agent registered; what its tasks reserve and how many run
is summed from the live tasks on every read (one query per cluster, not per instance).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from cais.ecs import errors
from cais.ecs.model import Attribute, ContainerInstance, Resources
from cais.ecs.sqlite import rows
from cais.state.sqlite import Database

_PENDING = ("PROVISIONING", "PENDING", "ACTIVATING")


class _Usage:
    """What the live tasks on one instance hold, and how many there are."""

    __slots__ = ("cpu", "memory", "pending", "running", "tcp", "udp")

    def __init__(self) -> None:
        self.cpu = 0
        self.memory = 0
        self.tcp: set[int] = set()
        self.udp: set[int] = set()
        self.running = 0
        self.pending = 0

    def resources(self) -> Resources:
        return Resources(
            cpu=self.cpu,
            memory=self.memory,
            tcp_ports=frozenset(self.tcp),
            udp_ports=frozenset(self.udp),
        )


def _usage(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> dict[str, _Usage]:
    """Sums over the live tasks per instance, in SQL (ports only where a task has some)."""
    found: dict[str, _Usage] = {}
    pending = ",".join(f"'{s}'" for s in _PENDING)
    cursor = conn.execute(
        "SELECT instance_arn, sum(reserved_cpu), sum(reserved_memory),"
        " sum(desired_status = 'RUNNING'), sum(last_status IN (" + pending + ")),"
        " group_concat(nullif(reserved_tcp, '[]'), '|'),"
        " group_concat(nullif(reserved_udp, '[]'), '|')"
        f" FROM ecs_tasks WHERE last_status != 'STOPPED' AND {where} GROUP BY instance_arn",
        params,
    )
    cursor.row_factory = None
    for arn, cpu, memory, running, waiting, tcp, udp in cursor:
        usage = found[arn] = _Usage()
        usage.cpu, usage.memory, usage.running, usage.pending = cpu, memory, running, waiting
        for text, taken in ((tcp, usage.tcp), (udp, usage.udp)):
            for part in text.split("|") if text else ():
                taken.update(rows.ports_of(part))
    return found


def _attributes(conn: sqlite3.Connection, arns: Sequence[str]) -> dict[str, list[Attribute]]:
    found: dict[str, list[Attribute]] = {}
    for start in range(0, len(arns), 500):
        chunk = arns[start : start + 500]
        for row in conn.execute(
            f"SELECT instance_arn, name, value FROM ecs_attributes WHERE instance_arn IN"
            f" ({rows.placeholders(len(chunk))}) ORDER BY instance_arn, name",
            chunk,
        ):
            found.setdefault(row["instance_arn"], []).append(Attribute(row["name"], row["value"]))
    return found


def read_instances(
    conn: sqlite3.Connection, instance_rows: Sequence[sqlite3.Row], *, cluster_arn: str | None
) -> list[ContainerInstance]:
    """Domain values for instance rows, with attributes, reservations and counts."""
    if not instance_rows:
        return []
    arns = [r["arn"] for r in instance_rows]
    if cluster_arn is not None:
        usage = _usage(conn, "cluster_arn = ?", (cluster_arn,))
    else:
        usage = _usage(conn, f"instance_arn IN ({rows.placeholders(len(arns))})", arns)
    attributes = _attributes(conn, arns)
    out = []
    for row in instance_rows:
        used = usage.get(row["arn"]) or _Usage()
        out.append(
            rows.instance(
                row, attributes.get(row["arn"], []), used.resources(), used.running, used.pending
            )
        )
    return out


class InstanceTable:
    _db: Database

    def register_instance(
        self, instance: ContainerInstance, *, keep_custom_attributes: bool = True
    ) -> ContainerInstance:
        with self._db.transaction() as conn:
            conn.execute(
                rows.upsert("ecs_instances", rows.INSTANCE_COLUMNS, "arn"),
                rows.instance_values(instance),
            )
            if keep_custom_attributes:
                conn.execute(
                    "DELETE FROM ecs_attributes WHERE instance_arn = ? AND custom = 0",
                    (instance.arn,),
                )
            else:
                conn.execute("DELETE FROM ecs_attributes WHERE instance_arn = ?", (instance.arn,))
            conn.executemany(
                "INSERT OR REPLACE INTO ecs_attributes VALUES (?, ?, ?, 0)",
                [(instance.arn, a.name, a.value) for a in instance.attributes],
            )
            row = conn.execute("SELECT * FROM ecs_instances WHERE arn = ?", (instance.arn,))
            return read_instances(conn, row.fetchall(), cluster_arn=None)[0]

    def instance_by_machine(self, cluster_arn: str, machine: str) -> ContainerInstance | None:
        return self._one(
            "SELECT * FROM ecs_instances WHERE cluster_arn = ? AND ec2_instance_id = ?"
            " ORDER BY registered_at DESC LIMIT 1",
            (cluster_arn, machine),
        )

    def instance(self, cluster_arn: str, reference: str) -> ContainerInstance | None:
        return self._one(
            "SELECT * FROM ecs_instances WHERE cluster_arn = ? AND (arn = ? OR id = ?)",
            (cluster_arn, reference, reference),
        )

    def instance_by_arn(self, arn: str) -> ContainerInstance | None:
        return self._one("SELECT * FROM ecs_instances WHERE arn = ?", (arn,))

    def _one(self, sql: str, params: Sequence[Any]) -> ContainerInstance | None:
        conn = self._db.connection()
        found = conn.execute(sql, params).fetchall()
        return read_instances(conn, found, cluster_arn=None)[0] if found else None

    def instances(
        self,
        cluster_arn: str,
        *,
        statuses: Collection[str] | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> list[ContainerInstance]:
        sql = "SELECT * FROM ecs_instances WHERE cluster_arn = ?"
        params: list[Any] = [cluster_arn]
        if statuses is not None:
            sql += f" AND status IN ({rows.placeholders(len(statuses))})"
            params += list(statuses)
        if after is not None:
            sql += " AND (registered_at, arn) > (?, ?)"
            params += list(after)
        sql += " ORDER BY registered_at, arn"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        conn = self._db.connection()
        return read_instances(conn, conn.execute(sql, params).fetchall(), cluster_arn=cluster_arn)

    def set_instance_status(self, arn: str, status: str, *, reason: str = "") -> ContainerInstance:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE ecs_instances SET status = ?, status_reason = ?, version = version + 1"
                " WHERE arn = ? AND (status != ? OR status_reason != ?)",
                (status, reason, arn, status, reason),
            )
            found = conn.execute("SELECT * FROM ecs_instances WHERE arn = ?", (arn,)).fetchall()
            if not found:
                raise errors.instance_not_found()
            return read_instances(conn, found, cluster_arn=None)[0]

    def heartbeat(self, arn: str, *, now: float) -> None:
        self._db.execute(
            "UPDATE ecs_instances SET last_seen = max(last_seen, ?), has_agent = 1 WHERE arn = ?",
            (now, arn),
        )

    def put_attributes(self, items: Sequence[tuple[str, Attribute]], *, limit: int) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO ecs_attributes VALUES (?, ?, ?, 1) ON CONFLICT (instance_arn, name)"
                " DO UPDATE SET value = excluded.value",
                [(arn, a.name, a.value) for arn, a in items],
            )
            for arn in {arn for arn, _ in items}:
                count = conn.execute(
                    "SELECT count(*) FROM ecs_attributes WHERE instance_arn = ? AND custom = 1",
                    (arn,),
                ).fetchone()[0]
                if count > limit:
                    raise errors.attribute_limit(limit)
                conn.execute("UPDATE ecs_instances SET version = version + 1 WHERE arn = ?", (arn,))

    def delete_attributes(self, items: Sequence[tuple[str, Attribute]]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM ecs_attributes WHERE instance_arn = ? AND name = ?",
                [(arn, a.name) for arn, a in items],
            )

    def attributes(
        self,
        cluster_arn: str,
        *,
        name: str | None,
        value: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[tuple[str, Attribute]]:
        sql = (
            "SELECT a.instance_arn, a.name, a.value FROM ecs_attributes a JOIN ecs_instances i"
            " ON i.arn = a.instance_arn WHERE i.cluster_arn = ? AND i.status != 'INACTIVE'"
        )
        params: list[Any] = [cluster_arn]
        if name is not None:
            sql += " AND a.name = ?"
            params.append(name)
        if value is not None:
            sql += " AND a.value = ?"
            params.append(value)
        if after is not None:
            sql += " AND (a.instance_arn, a.name) > (?, ?)"
            params += list(after)
        sql += " ORDER BY a.instance_arn, a.name LIMIT ?"
        params.append(limit)
        return [
            (r["instance_arn"], Attribute(r["name"], r["value"]))
            for r in self._db.query(sql, params)
        ]
