"""A root made by an older cais keeps working: tables gain the columns a room declares now."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cais.errors import CaisError
from cais.state.sqlite import Database

OLD = ("CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, size INTEGER NOT NULL)",)
NEW = (
    "CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, size INTEGER NOT NULL, "
    "plugins TEXT NOT NULL DEFAULT '[\"bridge\"]', note TEXT)",
    "CREATE INDEX IF NOT EXISTS things_size ON things (size)",
)


def old_root(tmp_path: Path) -> Path:
    path = tmp_path / "cais.db"
    db = Database(path)
    db.ensure_schema("things", OLD)
    db.execute("INSERT INTO things VALUES (?, ?)", ("a", 1))
    db.close()
    return path


def test_an_older_table_gains_the_new_columns_with_their_defaults(tmp_path: Path) -> None:
    path = old_root(tmp_path)
    db = Database(path)
    db.ensure_schema("things", NEW)
    db.execute("INSERT INTO things VALUES (?, ?, ?, ?)", ("b", 2, '["x"]', "new"))
    rows = [tuple(r) for r in db.query("SELECT * FROM things ORDER BY id")]
    assert rows == [("a", 1, '["bridge"]', None), ("b", 2, '["x"]', "new")]
    # the next process finds the statements it applied and leaves the tables alone
    again = Database(path)
    again.ensure_schema("things", NEW)
    assert [tuple(r) for r in again.query("SELECT id FROM things ORDER BY id")] == [
        ("a",),
        ("b",),
    ]
    assert again.query_one("SELECT count(*) FROM sqlite_temp_master")[0] == 0


def test_a_column_that_needs_a_value_is_a_clear_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = old_root(tmp_path)
    db = Database(path)
    with pytest.raises(CaisError, match="column owner needs a value"):
        db.ensure_schema(
            "things",
            (
                "CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                "owner TEXT NOT NULL)",
            ),
        )
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(things)")]
    assert columns == ["id", "size"]
    conn.close()
