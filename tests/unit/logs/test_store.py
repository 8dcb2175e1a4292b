"""The log store's rules, without HTTP: what PutLogEvents accepts, how reads page."""

from __future__ import annotations

from pathlib import Path

import pytest

from cais.aws.errors import AwsError
from cais.logs.filterpattern import FilterPattern
from cais.logs.model import DAY_MS, InputEvent, Scope
from cais.logs.store import LogStore
from cais.state.sqlite import Database

NOW = 1_700_000_000_000
HOUR = 3600 * 1000
S = Scope("000000000000", "us-east-1")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "cais.db")


@pytest.fixture
def store(db: Database, clock: Clock) -> LogStore:
    s = LogStore(db, clock=clock)
    s.create_group(S, "app")
    s.create_stream(S, "app", "web")
    return s


def ev(ts: int, msg: str = "line") -> InputEvent:
    return InputEvent(ts, msg)


def count_events(db: Database) -> int:
    row = db.query_one("SELECT count(*) FROM logs_events")
    assert row is not None
    return int(row[0])


def refused(
    fn: object, *args: object, error: str = "InvalidParameterException", **kwargs: object
) -> str:
    with pytest.raises(AwsError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert info.value.type == error
    return info.value.message


def test_groups_and_streams_are_scoped_and_unique(store: LogStore) -> None:
    refused(store.create_group, S, "app", error="ResourceAlreadyExistsException")
    refused(store.create_stream, S, "app", "web", error="ResourceAlreadyExistsException")
    other = Scope("000000000000", "eu-west-1")
    store.create_group(other, "app")  # same name, other region
    assert [g.name for g in store.list_groups(other)] == ["app"]
    refused(store.create_stream, S, "nope", "web", error="ResourceNotFoundException")


def test_put_rules_leave_storage_unchanged(store: LogStore, db: Database) -> None:
    put = store.put_events
    msg = refused(put, S, "app", "web", [ev(NOW), ev(NOW - 1)])
    assert "chronological order" in msg
    assert "24 hours" in refused(put, S, "app", "web", [ev(NOW - 25 * HOUR), ev(NOW)])
    assert "Upload too large" in refused(
        put, S, "app", "web", [ev(NOW, "x" * 600_000), ev(NOW, "y" * 600_000)]
    )
    assert "Too many" in refused(put, S, "app", "web", [ev(NOW)] * 10_001)
    refused(put, S, "app", "nope", [ev(NOW)], error="ResourceNotFoundException")
    refused(put, S, "nope", "web", [ev(NOW)], error="ResourceNotFoundException")
    assert count_events(db) == 0
    assert store.get_stream(S, "app", "web").last_event_ms is None


def test_too_old_and_too_new_events_are_reported(store: LogStore) -> None:
    old_edge = NOW - 14 * DAY_MS
    result = store.put_events(
        S, "app", "web", [ev(old_edge - 2, "ancient"), ev(old_edge - 1, "old"), ev(old_edge + 1)]
    )
    assert result.accepted == 1
    assert result.rejected is not None
    assert (result.rejected.too_old_end, result.rejected.too_new_start) == (2, None)
    result = store.put_events(
        S, "app", "web", [ev(NOW, "fine"), ev(NOW + 2 * HOUR + 1, "f1"), ev(NOW + 3 * HOUR)]
    )
    assert result.rejected is not None
    assert (result.rejected.too_old_end, result.rejected.too_new_start) == (None, 1)
    page = store.get_events(S, "app", "web", from_head=True)
    assert [e.message for e in page.events] == ["line", "fine"]


def test_retention_expires_events(store: LogStore, clock: Clock) -> None:
    store.put_events(S, "app", "web", [ev(NOW - 2 * DAY_MS, "old")])
    store.put_events(S, "app", "web", [ev(NOW, "new")])
    store.set_retention(S, "app", 1)
    assert store.get_group(S, "app").retention_days == 1
    assert [e.message for e in store.get_events(S, "app", "web", from_head=True).events] == ["new"]
    assert [e.message for e in store.filter_events(S, "app").events] == ["new"]
    result = store.put_events(S, "app", "web", [ev(NOW - DAY_MS - 5), ev(NOW - DAY_MS + 1)])
    assert result.rejected is not None and result.rejected.expired_end == 1
    assert result.accepted == 1
    assert store.expire() == 1
    clock.now += DAY_MS + 1
    assert store.expire() == 2
    refused(store.set_retention, S, "app", 2)
    store.set_retention(S, "app", None)
    assert store.get_group(S, "app").retention_days is None


def test_get_events_pages_forward_and_backward(store: LogStore) -> None:
    store.put_events(S, "app", "web", [ev(NOW + i, f"m{i}") for i in range(10)])
    tail = store.get_events(S, "app", "web", limit=3)
    assert [e.message for e in tail.events] == ["m7", "m8", "m9"]
    back = store.get_events(S, "app", "web", before=tail.backward, limit=3)
    assert [e.message for e in back.events] == ["m4", "m5", "m6"]
    head = store.get_events(S, "app", "web", from_head=True, limit=4)
    assert [e.message for e in head.events] == ["m0", "m1", "m2", "m3"]
    fwd = store.get_events(S, "app", "web", after=head.forward, limit=100)
    assert [e.message for e in fwd.events] == [f"m{i}" for i in range(4, 10)]
    end = store.get_events(S, "app", "web", after=fwd.forward)
    assert end.events == [] and end.forward == fwd.forward
    window = store.get_events(S, "app", "web", start=NOW + 2, end=NOW + 5, from_head=True)
    assert [e.message for e in window.events] == ["m2", "m3", "m4"]


def test_events_with_equal_timestamps_keep_their_order(store: LogStore) -> None:
    store.put_events(S, "app", "web", [ev(NOW, f"same{i}") for i in range(5)])
    first = store.get_events(S, "app", "web", from_head=True, limit=2)
    rest = store.get_events(S, "app", "web", after=first.forward)
    assert [e.message for e in first.events + rest.events] == [f"same{i}" for i in range(5)]


def test_filter_across_streams_in_time_order(store: LogStore) -> None:
    store.create_stream(S, "app", "db")
    store.put_events(S, "app", "web", [ev(NOW, "ERROR a"), ev(NOW + 2, "INFO b")])
    store.put_events(S, "app", "db", [ev(NOW + 1, "ERROR c"), ev(NOW + 3, "WARN d")])
    page = store.filter_events(S, "app")
    assert [(e.stream, e.message) for e in page.events] == [
        ("web", "ERROR a"),
        ("db", "ERROR c"),
        ("web", "INFO b"),
        ("db", "WARN d"),
    ]
    errors = store.filter_events(S, "app", pattern=FilterPattern.parse("ERROR"))
    assert [e.message for e in errors.events] == ["ERROR a", "ERROR c"]
    only_db = store.filter_events(S, "app", streams=["db"], start=NOW + 2)
    assert [e.message for e in only_db.events] == ["WARN d"]
    prefix = store.filter_events(S, "app", stream_prefix="w", end=NOW)
    assert [e.message for e in prefix.events] == ["ERROR a"]
    refused(store.filter_events, S, "app", streams=["db"], stream_prefix="d")


def test_filter_pages(store: LogStore) -> None:
    store.put_events(S, "app", "web", [ev(NOW + i, f"n{i}") for i in range(7)])
    seen: list[str] = []
    after = None
    while True:
        page = store.filter_events(S, "app", after=after, limit=3)
        seen += [e.message for e in page.events]
        if page.resume_after is None:
            break
        after = page.resume_after
    assert seen == [f"n{i}" for i in range(7)]


def test_append_creates_and_splits(store: LogStore, db: Database) -> None:
    refused(store.append, "missing", "s", [ev(NOW)], error="ResourceNotFoundException")
    assert count_events(db) == 0
    lines = [ev(NOW - i, "x" * 1000) for i in range(3000)]  # > 1 MB, unsorted
    lines.append(ev(NOW, "é" * 200_000))  # 400 kB: split into two events
    stored = store.append("new", "task/1", lines, create_group=True)
    assert stored == 3002
    page = store.get_events(S, "new", "task/1", from_head=True)
    timestamps = [e.timestamp for e in page.events]
    assert timestamps == sorted(timestamps)
    refused(
        store.append,
        "new",
        "task/2",
        [ev(NOW)],
        create_stream=False,
        error="ResourceNotFoundException",
    )


def test_delete_group_removes_everything(store: LogStore, db: Database) -> None:
    store.put_events(S, "app", "web", [ev(NOW)])
    store.tag(S, "app", {"team": "a"})
    store.delete_group(S, "app")
    assert count_events(db) == 0
    refused(store.get_group, S, "app", error="ResourceNotFoundException")
    refused(store.delete_group, S, "app", error="ResourceNotFoundException")


def test_tags(store: LogStore) -> None:
    store.tag(S, "app", {"a": "1", "b": "2"})
    store.untag(S, "app", ["a"])
    assert store.tags(S, "app") == {"b": "2"}
    refused(store.tag, S, "app", {f"k{i}": "v" for i in range(50)}, error="TooManyTagsException")
    refused(store.tag, S, "app", {"aws:x": "v"})
    assert store.tags(S, "app") == {"b": "2"}


def test_list_streams_orders_and_pages(store: LogStore) -> None:
    for name, ts in [("b", NOW + 5), ("a", NOW + 9), ("c", NOW + 1)]:
        store.create_stream(S, "app", name)
        store.put_events(S, "app", name, [ev(ts)])
    by_name = [s.name for s in store.list_streams(S, "app")]
    assert by_name == ["a", "b", "c", "web"]
    by_time = store.list_streams(S, "app", by_last_event=True, descending=True, limit=2)
    assert [s.name for s in by_time] == ["a", "b"]
    last = by_time[-1]
    assert last.last_event_ms is not None
    more = store.list_streams(
        S, "app", by_last_event=True, descending=True, after=(last.last_event_ms, last.name)
    )
    assert [s.name for s in more] == ["c", "web"]
    assert [s.name for s in store.list_streams(S, "app", prefix="w")] == ["web"]
