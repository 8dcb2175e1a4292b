"""The log store's tables.

Events are the hot path (every container's output): one row each, written in batches inside
one transaction, read through two indexes: (stream, timestamp) for GetLogEvents and
(group, timestamp) for FilterLogEvents across streams. The rowid orders events that share a
timestamp. Streams keep running totals so DescribeLogStreams never scans events.
"""

from __future__ import annotations

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS logs_groups (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        retention_days INTEGER,
        kms_key_id TEXT,
        log_class TEXT NOT NULL,
        UNIQUE (account, region, name)
    )""",
    """CREATE TABLE IF NOT EXISTS logs_streams (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL REFERENCES logs_groups(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        first_event_ms INTEGER,
        last_event_ms INTEGER,
        last_ingestion_ms INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        event_count INTEGER NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
    )""",
    """CREATE INDEX IF NOT EXISTS logs_streams_by_last_event
        ON logs_streams (group_id, last_event_ms, name)""",
    """CREATE TABLE IF NOT EXISTS logs_events (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL,
        stream_id INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        ingestion_ms INTEGER NOT NULL,
        message TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS logs_events_by_stream ON logs_events (stream_id, timestamp)",
    "CREATE INDEX IF NOT EXISTS logs_events_by_group ON logs_events (group_id, timestamp)",
    """CREATE TABLE IF NOT EXISTS logs_tags (
        group_id INTEGER NOT NULL REFERENCES logs_groups(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (group_id, key)
    )""",
)
