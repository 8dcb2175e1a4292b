"""Writing and reading log events: the hot path, plain functions over one SQLite connection.

The caller (:class:`~cais.logs.store.LogStore`) resolves names to ids and holds the
transaction; these functions do one thing each: check a PutLogEvents batch, cut a stream of
lines into valid batches, insert a batch, read a stream (GetLogEvents), search a group
(FilterLogEvents).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from cais.logs import errors
from cais.logs.filterpattern import FilterPattern
from cais.logs.model import (
    DAY_MS,
    EVENT_OVERHEAD_BYTES,
    MAX_AGE_MS,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    MAX_FUTURE_MS,
    MAX_RESPONSE_BYTES,
    EventsPage,
    FilterPage,
    InputEvent,
    LogEvent,
    Position,
    PutResult,
    Rejected,
)

HEAD = Position(-1, 0)
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES  # what Docker's awslogs driver sends
SCAN_BATCH = 2_000
SCAN_BUDGET = 100_000


def check_batch(batch: Sequence[InputEvent]) -> None:
    """PutLogEvents' rules for one batch; raises InvalidParameterException."""
    if not batch:
        raise errors.invalid("A PutLogEvents request must contain at least one log event.")
    if len(batch) > MAX_BATCH_EVENTS:
        raise errors.invalid(
            f"Too many log events: {len(batch)} exceeds the limit of {MAX_BATCH_EVENTS}"
        )
    size = 0
    previous = batch[0].timestamp
    for event in batch:
        if event.timestamp < previous:
            raise errors.invalid(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        if not event.message:
            raise errors.invalid("Log event messages must not be empty.")
        previous = event.timestamp
        size += event.size
    if size > MAX_BATCH_BYTES:
        raise errors.invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    if batch[-1].timestamp - batch[0].timestamp > MAX_BATCH_SPAN_MS:
        raise errors.invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )


def batches(events: Sequence[InputEvent]) -> Iterator[list[InputEvent]]:
    """Sorted events cut into batches that :func:`check_batch` accepts.

    Empty messages are dropped and long ones split, as Docker's awslogs driver does.
    """
    chunk: list[InputEvent] = []
    size = 0
    for event in _pieces(events):
        if chunk and (
            len(chunk) >= MAX_BATCH_EVENTS
            or size + event.size > MAX_BATCH_BYTES
            or event.timestamp - chunk[0].timestamp > MAX_BATCH_SPAN_MS
        ):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += event.size
    if chunk:
        yield chunk


def _pieces(events: Sequence[InputEvent]) -> Iterator[InputEvent]:
    for event in events:
        if not event.message:
            continue
        data = event.message.encode()
        if len(data) <= MAX_EVENT_BYTES:
            yield event
            continue
        start = 0
        while start < len(data):
            end = min(start + MAX_EVENT_BYTES, len(data))
            while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a character
                end -= 1
            yield InputEvent(event.timestamp, data[start:end].decode())
            start = end


def insert(
    conn: sqlite3.Connection,
    group_id: int,
    stream_id: int,
    batch: Sequence[InputEvent],
    *,
    now: int,
    retention: int | None,
) -> PutResult:
    """Store a checked, chronological batch; events too old or too new are skipped."""
    oldest = now - MAX_AGE_MS
    expiry = now - retention * DAY_MS if retention is not None else None
    too_old = sum(1 for e in batch if e.timestamp < oldest)
    expired = sum(1 for e in batch if expiry is not None and e.timestamp < expiry)
    newest = now + MAX_FUTURE_MS
    too_new = next((i for i, e in enumerate(batch) if e.timestamp > newest), None)
    accepted = batch[max(too_old, expired) : too_new]
    rejected = None
    if too_old or expired or too_new is not None:
        rejected = Rejected(
            too_new_start=too_new,
            too_old_end=too_old or None,
            expired_end=expired or None,
        )
    if accepted:
        conn.executemany(
            "INSERT INTO logs_events (group_id, stream_id, timestamp, ingestion_ms, message)"
            " VALUES (?, ?, ?, ?, ?)",
            [(group_id, stream_id, e.timestamp, now, e.message) for e in accepted],
        )
        size = sum(e.size - EVENT_OVERHEAD_BYTES for e in accepted)
        conn.execute(
            "UPDATE logs_streams SET"
            " first_event_ms = min(coalesce(first_event_ms, ?1), ?1),"
            " last_event_ms = max(coalesce(last_event_ms, ?2), ?2),"
            " last_ingestion_ms = ?3, stored_bytes = stored_bytes + ?4,"
            " event_count = event_count + ?5 WHERE id = ?6",
            (accepted[0].timestamp, accepted[-1].timestamp, now, size, len(accepted), stream_id),
        )
    count = conn.execute(
        "SELECT event_count FROM logs_streams WHERE id = ?", (stream_id,)
    ).fetchone()[0]
    return PutResult(len(accepted), rejected, f"{count:056d}")


def read(
    conn: sqlite3.Connection,
    stream: str,
    stream_id: int,
    *,
    start: int,
    end: int | None,
    after: Position | None,
    before: Position | None,
    from_head: bool,
    limit: int,
) -> EventsPage:
    where = ["stream_id = ?", "timestamp >= ?"]
    params: list[object] = [stream_id, start]
    if end is not None:
        where.append("timestamp < ?")
        params.append(end)
    backward = before is not None or (after is None and not from_head)
    if after is not None:
        where.append("(timestamp > ? OR (timestamp = ? AND id > ?))")
        params += [after.timestamp, after.timestamp, after.event_id]
    elif before is not None:
        where.append("(timestamp < ? OR (timestamp = ? AND id < ?))")
        params += [before.timestamp, before.timestamp, before.event_id]
    order = "DESC" if backward else "ASC"
    rows = (
        _plain(conn)
        .execute(
            "SELECT id, timestamp, ingestion_ms, message FROM logs_events"
            f" WHERE {' AND '.join(where)} ORDER BY timestamp {order}, id {order} LIMIT ?",
            [*params, limit],
        )
        .fetchall()
    )
    found = [LogEvent(stream, r[1], r[3], r[2], r[0]) for r in rows]
    found = _within_response_size(found)
    if backward:
        found.reverse()
    if found:
        return EventsPage(
            found,
            forward=Position(found[-1].timestamp, found[-1].event_id),
            backward=Position(found[0].timestamp, found[0].event_id),
        )
    if after is not None:
        return EventsPage([], forward=after, backward=after)
    if before is not None:
        return EventsPage(
            [], forward=Position(before.timestamp, before.event_id - 1), backward=before
        )
    return EventsPage([], forward=HEAD, backward=HEAD)


def search(
    conn: sqlite3.Connection,
    group_id: int,
    *,
    stream_ids: dict[int, str] | None,
    start: int,
    end: int | None,
    pattern: FilterPattern,
    after: Position | None,
    limit: int,
) -> FilterPage:
    """Matching events in (timestamp, id) order, scanning at most SCAN_BUDGET rows a call.

    When the budget runs out first the page carries where to resume, as AWS returns pages
    that are short (even empty) but have a nextToken.
    """
    if stream_ids is not None and not stream_ids:
        return FilterPage([])
    names = stream_ids
    if names is None:
        names = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT id, name FROM logs_streams WHERE group_id = ?", (group_id,)
            )
        }
    base = ["group_id = ?", "timestamp >= ?"]
    base_params: list[object] = [group_id, start]
    if end is not None:
        base.append("timestamp <= ?")
        base_params.append(end)
    if stream_ids is not None:
        base.append(f"stream_id IN ({','.join('?' * len(stream_ids))})")
        base_params += list(stream_ids)
    for term in pattern.required:
        base.append("instr(message, ?) > 0")
        base_params.append(term)
    found: list[LogEvent] = []
    size = 0
    scanned = 0
    position = after
    while True:
        where, params = list(base), list(base_params)
        if position is not None:
            where.append("(timestamp > ? OR (timestamp = ? AND id > ?))")
            params += [position.timestamp, position.timestamp, position.event_id]
        rows = (
            _plain(conn)
            .execute(
                "SELECT id, stream_id, timestamp, ingestion_ms, message FROM logs_events"
                f" WHERE {' AND '.join(where)} ORDER BY timestamp, id LIMIT ?",
                [*params, SCAN_BATCH],
            )
            .fetchall()
        )
        for event_id, stream_id, timestamp, ingestion, message in rows:
            scanned += 1
            if pattern.matches(message):
                event_size = len(message.encode()) + EVENT_OVERHEAD_BYTES
                if found and size + event_size > MAX_RESPONSE_BYTES:
                    last = found[-1]
                    return FilterPage(found, resume_after=Position(last.timestamp, last.event_id))
                size += event_size
                found.append(
                    LogEvent(names.get(stream_id, ""), timestamp, message, ingestion, event_id)
                )
            position = Position(timestamp, event_id)
            if len(found) >= limit:
                return FilterPage(found, resume_after=position)
        if len(rows) < SCAN_BATCH:
            return FilterPage(found)
        if scanned >= SCAN_BUDGET:
            return FilterPage(found, resume_after=position)


def _within_response_size(events: list[LogEvent]) -> list[LogEvent]:
    """The first events (in reading order) that fit in one 1 MB response."""
    size = 0
    for i, event in enumerate(events):
        size += len(event.message.encode()) + EVENT_OVERHEAD_BYTES
        if size > MAX_RESPONSE_BYTES:
            return events[:i]
    return events


def _plain(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor that yields plain tuples: cheaper than sqlite3.Row for thousands of rows."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor
