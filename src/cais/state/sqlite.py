"""A small SQLite wrapper: WAL mode, one connection per thread, immediate transactions.

Each room owns its tables and declares them with :meth:`Database.ensure_schema`; no room
reads another room's tables directly. A root made by an older cais is brought up to date
additively: columns a room declares now but an existing table lacks are added (with their
declared defaults), so new columns go at the end of a table's declaration.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cais.errors import CaisError

BUSY_TIMEOUT_MS = 30_000
_CREATE_TABLE = re.compile(r"\s*CREATE TABLE IF NOT EXISTS\s+(\w+)\s*\(", re.IGNORECASE)


class Database:
    """A SQLite file opened lazily, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._schemas: set[str] = set()
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def ensure_schema(self, name: str, statements: Sequence[str]) -> None:
        """Create (or bring up to date) a room's tables once per process; statements must be
        idempotent. The statements last applied are kept per room, so that the common case
        is one query (no hashing: hashlib's OpenSSL start-up would cost every command)."""
        if name in self._schemas:
            return
        text = "\n".join(statements)
        with self._lock:
            if name in self._schemas:
                return
            if self._applied_schema(name) != text:
                with self.transaction() as conn:
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS cais_schemas "
                        "(room TEXT PRIMARY KEY, statements TEXT NOT NULL)"
                    )
                    for statement in statements:
                        conn.execute(statement)
                        _add_missing_columns(conn, statement)
                    conn.execute("INSERT OR REPLACE INTO cais_schemas VALUES (?, ?)", (name, text))
            self._schemas.add(name)

    def _applied_schema(self, name: str) -> str | None:
        try:
            row = self.query_one("SELECT statements FROM cais_schemas WHERE room = ?", (name,))
        except sqlite3.OperationalError:
            return None  # a root made before the statements were kept
        return None if row is None else str(row[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self.connection().execute(sql, params))

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.connection().execute(sql, params).fetchone()
        return row

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the rows it changed."""
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _add_missing_columns(conn: sqlite3.Connection, statement: str) -> None:
    """ALTER TABLE … ADD COLUMN for each column the statement declares that the table lacks.

    The declared columns come from SQLite itself (the statement run against a temporary
    table), not from parsing SQL here."""
    match = _CREATE_TABLE.match(statement)
    if match is None:
        return
    table = match.group(1)
    have = {row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")}
    probe = f"cais_probe_{table}"
    conn.execute(f"DROP TABLE IF EXISTS temp.{probe}")
    conn.execute(f"CREATE TEMP TABLE {probe} (" + statement[match.end() :])
    try:
        declared = list(conn.execute(f"PRAGMA temp.table_info({probe})"))
        for _, column, kind, notnull, default, primary in declared:
            if column in have:
                continue
            if primary or (notnull and default is None):
                raise CaisError(
                    f"the database's table {table} was made by an older cais and cannot be "
                    f"brought up to date (column {column} needs a value): reset this root"
                )
            clause = f"ALTER TABLE {table} ADD COLUMN {column} {kind}"
            if default is not None:
                clause += f" DEFAULT {default}"
            if notnull:
                clause += " NOT NULL"
            conn.execute(clause)
    finally:
        conn.execute(f"DROP TABLE temp.{probe}")
