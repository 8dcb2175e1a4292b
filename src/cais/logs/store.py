"""The log store: groups, streams, tags and retention in SQLite (events in :mod:`events`).

This is the domain; it knows nothing of HTTP or JSON. The CloudWatch Logs provider calls it
for the API, and the engine's ``awslogs`` driver calls :meth:`LogStore.append` in-process.
Every change happens in one transaction: bad input raises before anything is written.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from cais.logs import errors, events
from cais.logs.filterpattern import FilterPattern
from cais.logs.model import (
    DAY_MS,
    DEFAULT_SCOPE,
    LOG_CLASSES,
    MAX_TAGS,
    RETENTION_DAYS,
    EventsPage,
    FilterPage,
    InputEvent,
    LogGroup,
    LogStream,
    Position,
    PutResult,
    Scope,
)
from cais.logs.schema import SCHEMA
from cais.state.sqlite import Database

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class LogStore:
    """CloudWatch Logs' data for every account and region of one cais root."""

    def __init__(self, db: Database, *, clock: Clock = wall_clock_ms) -> None:
        self._db = db
        self._clock = clock
        db.ensure_schema("logs", SCHEMA)

    # -- log groups -------------------------------------------------------------------------

    def create_group(
        self,
        scope: Scope,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        kms_key_id: str | None = None,
        log_class: str = "STANDARD",
    ) -> LogGroup:
        if log_class not in LOG_CLASSES:
            raise errors.invalid(f"Invalid log group class {log_class!r}")
        tags = dict(tags or {})
        _check_tags(tags)
        now = self._clock()
        with self._db.transaction() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO logs_groups (account, region, name, created_ms, kms_key_id,"
                    " log_class) VALUES (?, ?, ?, ?, ?, ?)",
                    (scope.account, scope.region, name, now, kms_key_id, log_class),
                )
            except sqlite3.IntegrityError:
                raise errors.group_exists() from None
            conn.executemany(
                "INSERT INTO logs_tags VALUES (?, ?, ?)",
                [(cur.lastrowid, k, v) for k, v in tags.items()],
            )
        return LogGroup(name, now, None, kms_key_id, log_class, 0)

    def delete_group(self, scope: Scope, name: str) -> None:
        with self._db.transaction() as conn:
            group_id = self._group_id(conn, scope, name)
            conn.execute("DELETE FROM logs_events WHERE group_id = ?", (group_id,))
            conn.execute("DELETE FROM logs_streams WHERE group_id = ?", (group_id,))
            conn.execute("DELETE FROM logs_tags WHERE group_id = ?", (group_id,))
            conn.execute("DELETE FROM logs_groups WHERE id = ?", (group_id,))

    def get_group(self, scope: Scope, name: str) -> LogGroup:
        rows = self._groups(scope, "AND g.name = ?", [name], 1)
        if not rows:
            raise errors.group_not_found()
        return rows[0]

    def list_groups(
        self,
        scope: Scope,
        *,
        prefix: str | None = None,
        pattern: str | None = None,
        names: Sequence[str] | None = None,
        log_class: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[LogGroup]:
        """Groups by name; ``pattern`` is a case-insensitive substring, as AWS matches it."""
        where, params = [], []
        if prefix:
            where.append("AND substr(g.name, 1, ?) = ?")
            params += [len(prefix), prefix]
        if pattern:
            where.append("AND instr(lower(g.name), lower(?)) > 0")
            params.append(pattern)
        if names is not None:
            where.append(f"AND g.name IN ({','.join('?' * len(names))})")
            params += list(names)
        if log_class:
            where.append("AND g.log_class = ?")
            params.append(log_class)
        if after is not None:
            where.append("AND g.name > ?")
            params.append(after)
        return self._groups(scope, " ".join(where), params, limit)

    def _groups(self, scope: Scope, where: str, params: list[object], limit: int) -> list[LogGroup]:
        rows = self._db.query(
            "SELECT g.*, (SELECT coalesce(sum(stored_bytes), 0) FROM logs_streams s"
            " WHERE s.group_id = g.id) AS stored FROM logs_groups g"
            f" WHERE g.account = ? AND g.region = ? {where} ORDER BY g.name LIMIT ?",
            [scope.account, scope.region, *params, limit],
        )
        return [
            LogGroup(
                r["name"],
                r["created_ms"],
                r["retention_days"],
                r["kms_key_id"],
                r["log_class"],
                r["stored"],
            )
            for r in rows
        ]

    # -- log streams ------------------------------------------------------------------------

    def create_stream(self, scope: Scope, group: str, name: str) -> LogStream:
        now = self._clock()
        with self._db.transaction() as conn:
            group_id = self._group_id(conn, scope, group)
            try:
                conn.execute(
                    "INSERT INTO logs_streams (group_id, name, created_ms) VALUES (?, ?, ?)",
                    (group_id, name, now),
                )
            except sqlite3.IntegrityError:
                raise errors.stream_exists() from None
        return LogStream(group, name, now, None, None, None, 0, 0)

    def delete_stream(self, scope: Scope, group: str, name: str) -> None:
        with self._db.transaction() as conn:
            stream_id = self._stream_id(conn, scope, group, name)
            conn.execute("DELETE FROM logs_events WHERE stream_id = ?", (stream_id,))
            conn.execute("DELETE FROM logs_streams WHERE id = ?", (stream_id,))

    def list_streams(
        self,
        scope: Scope,
        group: str,
        *,
        prefix: str | None = None,
        by_last_event: bool = False,
        descending: bool = False,
        after: tuple[int, str] | str | None = None,
        limit: int = 50,
    ) -> list[LogStream]:
        """Streams by name, or by last event time (then name) with ``by_last_event``.

        ``after`` is the sort key of the last stream of the previous page.
        """
        conn = self._db.connection()
        group_id = self._group_id(conn, scope, group)
        where: list[str] = ["s.group_id = ?"]
        params: list[object] = [group_id]
        cmp = "<" if descending else ">"
        order = "DESC" if descending else "ASC"
        if prefix:
            where.append("substr(s.name, 1, ?) = ?")
            params += [len(prefix), prefix]
        if by_last_event:
            sort = f"coalesce(s.last_event_ms, -1) {order}, s.name {order}"
            if isinstance(after, tuple):
                where.append(f"(coalesce(s.last_event_ms, -1), s.name) {cmp} (?, ?)")
                params += [after[0], after[1]]
        else:
            sort = f"s.name {order}"
            if isinstance(after, str):
                where.append(f"s.name {cmp} ?")
                params.append(after)
        rows = conn.execute(
            f"SELECT s.* FROM logs_streams s WHERE {' AND '.join(where)} ORDER BY {sort} LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [_stream(group, r) for r in rows]

    def get_stream(self, scope: Scope, group: str, name: str) -> LogStream:
        conn = self._db.connection()
        group_id = self._group_id(conn, scope, group)
        row = conn.execute(
            "SELECT * FROM logs_streams WHERE group_id = ? AND name = ?", (group_id, name)
        ).fetchone()
        if row is None:
            raise errors.stream_not_found()
        return _stream(group, row)

    # -- events -----------------------------------------------------------------------------

    def put_events(
        self, scope: Scope, group: str, stream: str, batch: Sequence[InputEvent]
    ) -> PutResult:
        """PutLogEvents: one batch, AWS's rules (order, size, span); too old/new are skipped."""
        events.check_batch(batch)
        now = self._clock()
        with self._db.transaction() as conn:
            group_id, retention = self._group_row(conn, scope, group)
            stream_id = self._stream_id_in(conn, group_id, stream)
            return events.insert(conn, group_id, stream_id, batch, now=now, retention=retention)

    def append(
        self,
        group: str,
        stream: str,
        lines: Iterable[InputEvent],
        *,
        scope: Scope = DEFAULT_SCOPE,
        create_group: bool = False,
        create_stream: bool = True,
    ) -> int:
        """Add a container's output (the ``awslogs`` driver's way in); returns events stored.

        Events are sorted and cut into valid batches here, so the caller may hand over any
        amount. The group is created only with ``create_group`` (``awslogs-create-group``),
        the stream unless ``create_stream`` is False, as Docker's driver does.
        """
        batch = sorted(lines, key=lambda e: e.timestamp)
        if not batch:
            return 0
        stored = 0
        now = self._clock()
        with self._db.transaction() as conn:
            row = self._find_group(conn, scope, group)
            if row is None:
                if not create_group:
                    raise errors.group_not_found()
                self.create_group(scope, group)
                row = self._find_group(conn, scope, group)
                assert row is not None
            group_id, retention = row
            stream_row = conn.execute(
                "SELECT id FROM logs_streams WHERE group_id = ? AND name = ?", (group_id, stream)
            ).fetchone()
            if stream_row is None:
                if not create_stream:
                    raise errors.stream_not_found()
                stream_id = conn.execute(
                    "INSERT INTO logs_streams (group_id, name, created_ms) VALUES (?, ?, ?)",
                    (group_id, stream, now),
                ).lastrowid
                assert stream_id is not None
            else:
                stream_id = stream_row["id"]
            for chunk in events.batches(batch):
                result = events.insert(
                    conn, group_id, stream_id, chunk, now=now, retention=retention
                )
                stored += result.accepted
        return stored

    def get_events(
        self,
        scope: Scope,
        group: str,
        stream: str,
        *,
        start: int | None = None,
        end: int | None = None,
        after: Position | None = None,
        before: Position | None = None,
        from_head: bool = False,
        limit: int = 10_000,
    ) -> EventsPage:
        """GetLogEvents: read forward from ``after``, backward from ``before``, or from an end.

        ``start`` is inclusive and ``end`` exclusive, as in AWS.
        """
        conn = self._db.connection()
        group_id, retention = self._group_row(conn, scope, group)
        stream_id = self._stream_id_in(conn, group_id, stream)
        cutoff = self._cutoff(retention)
        return events.read(
            conn,
            stream,
            stream_id,
            start=max(start or 0, cutoff),
            end=end,
            after=after,
            before=before,
            from_head=from_head,
            limit=limit,
        )

    def filter_events(
        self,
        scope: Scope,
        group: str,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        start: int | None = None,
        end: int | None = None,
        pattern: FilterPattern | None = None,
        after: Position | None = None,
        limit: int = 10_000,
    ) -> FilterPage:
        """FilterLogEvents: matching events of the group's streams in time order."""
        if streams is not None and stream_prefix:
            raise errors.invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        conn = self._db.connection()
        group_id, retention = self._group_row(conn, scope, group)
        stream_ids: dict[int, str] | None = None
        if streams is not None or stream_prefix:
            if streams is not None:
                rows = conn.execute(
                    f"SELECT id, name FROM logs_streams WHERE group_id = ?"
                    f" AND name IN ({','.join('?' * len(streams))})",
                    [group_id, *streams],
                ).fetchall()
            else:
                assert stream_prefix is not None
                rows = conn.execute(
                    "SELECT id, name FROM logs_streams WHERE group_id = ?"
                    " AND substr(name, 1, ?) = ?",
                    (group_id, len(stream_prefix), stream_prefix),
                ).fetchall()
            stream_ids = {r["id"]: r["name"] for r in rows}
        return events.search(
            conn,
            group_id,
            stream_ids=stream_ids,
            start=max(start or 0, self._cutoff(retention)),
            end=end,
            pattern=pattern or FilterPattern(),
            after=after,
            limit=limit,
        )

    # -- tags and retention -----------------------------------------------------------------

    def tags(self, scope: Scope, group: str) -> dict[str, str]:
        conn = self._db.connection()
        group_id = self._group_id(conn, scope, group)
        rows = conn.execute(
            "SELECT key, value FROM logs_tags WHERE group_id = ? ORDER BY key", (group_id,)
        )
        return {r["key"]: r["value"] for r in rows}

    def tag(self, scope: Scope, group: str, tags: Mapping[str, str]) -> None:
        _check_tags(tags)
        with self._db.transaction() as conn:
            group_id = self._group_id(conn, scope, group)
            existing = {
                r["key"]
                for r in conn.execute("SELECT key FROM logs_tags WHERE group_id = ?", (group_id,))
            }
            if len(existing | set(tags)) > MAX_TAGS:
                raise errors.too_many_tags(MAX_TAGS)
            conn.executemany(
                "INSERT OR REPLACE INTO logs_tags VALUES (?, ?, ?)",
                [(group_id, k, v) for k, v in tags.items()],
            )

    def untag(self, scope: Scope, group: str, keys: Iterable[str]) -> None:
        with self._db.transaction() as conn:
            group_id = self._group_id(conn, scope, group)
            conn.executemany(
                "DELETE FROM logs_tags WHERE group_id = ? AND key = ?",
                [(group_id, k) for k in keys],
            )

    def set_retention(self, scope: Scope, group: str, days: int | None) -> None:
        """Keep events ``days`` days (None: forever); older ones vanish from reads at once."""
        if days is not None and days not in RETENTION_DAYS:
            raise errors.invalid(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(map(str, RETENTION_DAYS))}]"
            )
        with self._db.transaction() as conn:
            group_id = self._group_id(conn, scope, group)
            conn.execute("UPDATE logs_groups SET retention_days = ? WHERE id = ?", (days, group_id))

    def expire(self) -> int:
        """Delete events past their group's retention; returns how many (for a scheduler)."""
        now = self._clock()
        deleted = 0
        with self._db.transaction() as conn:
            groups = conn.execute(
                "SELECT id, retention_days FROM logs_groups WHERE retention_days IS NOT NULL"
            ).fetchall()
            for g in groups:
                cutoff = now - g["retention_days"] * DAY_MS
                deleted += conn.execute(
                    "DELETE FROM logs_events WHERE group_id = ? AND timestamp < ?",
                    (g["id"], cutoff),
                ).rowcount
        return deleted

    # -- lookups ----------------------------------------------------------------------------

    def _cutoff(self, retention: int | None) -> int:
        return 0 if retention is None else self._clock() - retention * DAY_MS

    def _find_group(
        self, conn: sqlite3.Connection, scope: Scope, name: str
    ) -> tuple[int, int | None] | None:
        row = conn.execute(
            "SELECT id, retention_days FROM logs_groups"
            " WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        ).fetchone()
        return None if row is None else (row["id"], row["retention_days"])

    def _group_row(
        self, conn: sqlite3.Connection, scope: Scope, name: str
    ) -> tuple[int, int | None]:
        row = self._find_group(conn, scope, name)
        if row is None:
            raise errors.group_not_found()
        return row

    def _group_id(self, conn: sqlite3.Connection, scope: Scope, name: str) -> int:
        return self._group_row(conn, scope, name)[0]

    def _stream_id_in(self, conn: sqlite3.Connection, group_id: int, name: str) -> int:
        row = conn.execute(
            "SELECT id FROM logs_streams WHERE group_id = ? AND name = ?", (group_id, name)
        ).fetchone()
        if row is None:
            raise errors.stream_not_found()
        stream_id: int = row["id"]
        return stream_id

    def _stream_id(self, conn: sqlite3.Connection, scope: Scope, group: str, name: str) -> int:
        return self._stream_id_in(conn, self._group_id(conn, scope, group), name)


def _stream(group: str, r: sqlite3.Row) -> LogStream:
    return LogStream(
        group,
        r["name"],
        r["created_ms"],
        r["first_event_ms"],
        r["last_event_ms"],
        r["last_ingestion_ms"],
        r["stored_bytes"],
        r["event_count"],
    )


def _check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.too_many_tags(MAX_TAGS)
    for key in tags:
        if key.lower().startswith("aws:"):
            raise errors.invalid(f"Tag keys starting with 'aws:' are reserved: {key!r}")
