"""Docker's detach keys: parsing ``--detach-keys`` and finding the sequence in typed input."""

from __future__ import annotations

import pytest

from cais.errors import InvalidArgumentError
from cais.runtime.attach import DEFAULT_DETACH_KEYS, DetachScanner, parse_detach_keys


def test_keys_parse_as_docker_writes_them() -> None:
    assert parse_detach_keys(DEFAULT_DETACH_KEYS) == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == bytes(
        [0, 27, 28, 29, 30, 31]
    )
    assert parse_detach_keys("") == b""  # detaching turned off


@pytest.mark.parametrize("bad", ["ctrl-", "ctrl-1", "ab", "ctrl-pq", "é"])
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid detach keys"):
        parse_detach_keys(bad)


def test_the_sequence_detaches_and_what_comes_before_it_still_goes_through() -> None:
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"ls\r") == (b"ls\r", False)
    assert scanner.feed(b"echo\x10\x11after") == (b"echo", True)


def test_a_sequence_split_across_reads_is_still_found() -> None:
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"a\x10") == (b"a", False)  # held back: maybe the sequence
    assert scanner.feed(b"\x11") == (b"", True)


def test_a_prefix_that_is_not_the_sequence_is_passed_on() -> None:
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"\x10") == (b"", False)
    assert scanner.feed(b"x") == (b"\x10x", False)  # Ctrl-P alone reaches the container
    assert scanner.feed(b"\x10\x10\x11") == (b"\x10", True)


def test_no_keys_pass_everything() -> None:
    assert DetachScanner(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
