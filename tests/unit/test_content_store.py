from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest

from cais.content.store import DigestMismatchError, LocalContentStore, SizeMismatchError
from cais.oci.digest import Digest
from cais.state.sqlite import Database


@pytest.fixture
def store(tmp_path: Path) -> LocalContentStore:
    return LocalContentStore(tmp_path, Database(tmp_path / "cais.db"))


def _visible(store: LocalContentStore) -> list[Digest]:
    return [b.digest for b in store.walk()]


def test_put_and_read(store: LocalContentStore) -> None:
    info = store.put(b"hello")
    assert info.digest == Digest.from_bytes(b"hello")
    assert store.read(info.digest) == b"hello"
    assert store.info(info.digest) is not None
    assert store.info(info.digest).size == 5  # type: ignore[union-attr]


def test_ingest_verifies_digest_and_size_before_commit(store: LocalContentStore) -> None:
    good = Digest.from_bytes(b"payload")
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        store.ingest(io.BytesIO(b"tampered"), expected=good, size=8)
    with pytest.raises(SizeMismatchError, match="larger than the announced 6 bytes"):
        store.ingest(io.BytesIO(b"payload"), expected=good, size=6)
    assert _visible(store) == []
    assert not any((store.root / "ingest").iterdir())
    assert store.ingest(io.BytesIO(b"payload"), expected=good, size=7).digest == good


def test_sha512_is_accepted(store: LocalContentStore) -> None:
    digest = Digest.from_bytes(b"x" * 100, "sha512")
    info = store.ingest(io.BytesIO(b"x" * 100), expected=digest, size=100)
    assert info.digest == digest
    assert store.read(digest) == b"x" * 100


def test_killed_writer_leaves_no_visible_blob(store: LocalContentStore) -> None:
    store.root.mkdir(parents=True, exist_ok=True)
    pid = os.fork()
    if pid == 0:  # a writer killed half-way
        w = store.writer()
        w.write(b"a" * 1000)
        os.kill(os.getpid(), 9)
    os.waitpid(pid, 0)
    assert _visible(store) == []


def test_two_writers_of_the_same_blob(store: LocalContentStore) -> None:
    data = os.urandom(1 << 20)
    digest = Digest.from_bytes(data)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.ingest(io.BytesIO(data), expected=digest, size=len(data))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _visible(store) == [digest]
    assert store.read(digest) == data


def test_interrupted_write_with_a_ref_resumes(store: LocalContentStore) -> None:
    data = b"0123456789" * 1000
    digest = Digest.from_bytes(data)
    w = store.writer(ref="pull-layer-1")
    w.write(data[:4000])
    w.suspend()
    again = store.writer(ref="pull-layer-1")
    assert again.offset == 4000
    again.write(data[4000:])
    assert again.commit(digest, len(data)).digest == digest


def test_sweep_keeps_marked_and_leased_blobs(store: LocalContentStore) -> None:
    kept = store.put(b"kept").digest
    doomed = store.put(b"doomed").digest
    with store.lease() as lease:
        leased = store.put(b"leased", lease=lease).digest
        with store.gc_lock():
            removed = {b.digest for b in store.sweep([kept])}
        assert removed == {doomed}
        assert store.exists(leased)
    with store.gc_lock():
        store.sweep([kept])
    assert _visible(store) == [kept]


def test_hold_protects_an_existing_blob(store: LocalContentStore) -> None:
    digest = store.put(b"shared").digest
    with store.lease() as lease:
        assert store.hold(lease, digest)
        with store.gc_lock():
            store.sweep([])
        assert store.exists(digest)


def test_commit_waits_while_gc_runs(store: LocalContentStore) -> None:
    """A writer cannot publish between GC's mark and sweep: it waits for the GC lock."""
    committed = threading.Event()
    with store.gc_lock():

        def write() -> None:
            with store.lease() as lease:
                store.put(b"late", lease=lease)
                committed.set()

        t = threading.Thread(target=write)
        t.start()
        time.sleep(0.2)
        assert not committed.is_set()
        store.sweep([])
    t.join()
    assert committed.is_set()
    assert store.exists(Digest.from_bytes(b"late"))


def test_expired_leases_are_dropped(store: LocalContentStore) -> None:
    lease = store.create_lease(seconds=-1)
    store.put(b"orphan", lease=lease)
    with store.gc_lock():
        removed = store.sweep([])
    assert [b.digest for b in removed] == [Digest.from_bytes(b"orphan")]
