"""One conformance suite that every storage driver passes (parametrised by ``driver``)."""

from __future__ import annotations

import threading

import pytest

from cais.registry.storage import (
    FilesystemDriver,
    InvalidPathError,
    PathNotFoundError,
    StorageDriver,
)


def test_put_then_get_returns_the_bytes(driver: StorageDriver) -> None:
    driver.put_content("/a/b/c", b"hello")
    assert driver.get_content("/a/b/c") == b"hello"
    driver.put_content("/a/b/c", b"replaced")
    assert driver.get_content("/a/b/c") == b"replaced"


def test_missing_paths_raise_path_not_found(driver: StorageDriver) -> None:
    for call in (
        lambda: driver.get_content("/nope"),
        lambda: driver.stat("/nope"),
        lambda: driver.reader("/nope"),
        lambda: driver.list("/nope"),
        lambda: driver.delete("/nope"),
        lambda: driver.move("/nope", "/there"),
        lambda: list(driver.walk("/nope")),
    ):
        with pytest.raises(PathNotFoundError):
            call()


@pytest.mark.parametrize("bad", ["relative", "/a/../b", "/a//b", "/a/./b", "/a/b/", "/a/.hidden"])
def test_invalid_paths_are_refused(driver: StorageDriver, bad: str) -> None:
    with pytest.raises(InvalidPathError):
        driver.put_content(bad, b"x")


def test_reader_starts_at_offset(driver: StorageDriver) -> None:
    driver.put_content("/f", b"0123456789")
    reader = driver.reader("/f", 4)
    try:
        assert reader.read(3) == b"456"
        assert reader.read() == b"789"
    finally:
        reader.close()


def test_writer_commit_makes_bytes_readable_and_append_resumes(driver: StorageDriver) -> None:
    writer = driver.writer("/up/data", append=False)
    writer.write(b"abc")
    writer.write(b"def")
    assert writer.size == 6
    writer.commit()
    writer.close()
    assert driver.get_content("/up/data") == b"abcdef"
    again = driver.writer("/up/data", append=True)
    assert again.size == 6
    again.write(b"gh")
    again.commit()
    again.close()
    assert driver.get_content("/up/data") == b"abcdefgh"
    assert driver.stat("/up/data").size == 8


def test_writer_cancel_leaves_nothing(driver: StorageDriver) -> None:
    writer = driver.writer("/up/data", append=False)
    writer.write(b"partial")
    writer.cancel()
    with pytest.raises(PathNotFoundError):
        driver.get_content("/up/data")


def test_stat_of_file_and_directory(driver: StorageDriver) -> None:
    driver.put_content("/dir/file", b"12345")
    info = driver.stat("/dir/file")
    assert (info.size, info.is_dir, info.path) == (5, False, "/dir/file")
    assert info.mod_time > 0
    assert driver.stat("/dir").is_dir


def test_list_gives_direct_children_sorted(driver: StorageDriver) -> None:
    for path in ("/r/b/x", "/r/a", "/r/c/d/e", "/other"):
        driver.put_content(path, b"")
    assert driver.list("/r") == ["/r/a", "/r/b", "/r/c"]
    assert driver.list("/") == ["/other", "/r"]


def test_move_replaces_destination_and_removes_source(driver: StorageDriver) -> None:
    driver.put_content("/src/f", b"new")
    driver.put_content("/dst/f", b"old")
    driver.move("/src/f", "/dst/f")
    assert driver.get_content("/dst/f") == b"new"
    with pytest.raises(PathNotFoundError):
        driver.stat("/src/f")
    driver.put_content("/src/g", b"g")
    driver.move("/src/g", "/deep/new/place")
    assert driver.get_content("/deep/new/place") == b"g"


def test_delete_file_and_whole_directory(driver: StorageDriver) -> None:
    for path in ("/t/a", "/t/b/c", "/t/b/d", "/keep"):
        driver.put_content(path, b"1")
    driver.delete("/t/a")
    with pytest.raises(PathNotFoundError):
        driver.stat("/t/a")
    driver.delete("/t")
    with pytest.raises(PathNotFoundError):
        driver.stat("/t")
    with pytest.raises(PathNotFoundError):
        driver.list("/t")
    assert driver.get_content("/keep") == b"1"


def test_walk_yields_every_file_depth_first(driver: StorageDriver) -> None:
    for path in ("/w/b/2", "/w/a", "/w/b/1", "/w/c/d/3"):
        driver.put_content(path, path.encode())
    walked = list(driver.walk("/w"))
    assert [i.path for i in walked] == ["/w/a", "/w/b/1", "/w/b/2", "/w/c/d/3"]
    assert all(not i.is_dir for i in walked)
    assert [i.size for i in walked] == [len(i.path) for i in walked]


def test_put_content_is_never_seen_half_written(driver: StorageDriver) -> None:
    """Readers racing a writer of large contents see the old or the new bytes, whole."""
    old, new = b"a" * (1 << 20), b"b" * (2 << 20)
    driver.put_content("/race", old)
    seen: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(driver.get_content("/race"))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(5):
            driver.put_content("/race", new)
            driver.put_content("/race", old)
    finally:
        done.set()
        thread.join()
    assert seen
    assert all(data in (old, new) for data in seen)


def test_filesystem_temp_files_are_invisible(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    driver = FilesystemDriver(tmp_path / "s")
    driver.put_content("/d/f", b"x")
    (tmp_path / "s" / "d" / ".f.tmp").write_bytes(b"half")
    assert driver.list("/d") == ["/d/f"]
    assert [i.path for i in driver.walk("/")] == ["/d/f"]
