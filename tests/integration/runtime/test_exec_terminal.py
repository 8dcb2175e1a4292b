"""``exec -t`` and ``-it`` when stdin is not a terminal, as Docker handles them."""

from __future__ import annotations

from helpers import Cli


def test_exec_it_without_a_terminal_is_refused(ccli: Cli) -> None:
    ccli("run", "-d", "--name", "box", "busybox", "sleep", "300")
    result = ccli("exec", "-it", "box", "true", input=b"", check=False)
    assert result.code == 1
    assert "the input device is not a TTY" in result.err


def test_exec_t_alone_gets_a_terminal_anyway(ccli: Cli) -> None:
    ccli("run", "-d", "--name", "box", "busybox", "sleep", "300")
    result = ccli("exec", "-t", "box", "sh", "-c", "tty; echo hi; exit 3", input=b"", check=False)
    assert result.code == 3
    assert result.out.startswith("/dev/pts/")
    assert result.raw.endswith(b"hi\r\n")  # the terminal's line endings, as with docker -t
    plain = ccli("exec", "box", "tty", input=b"", check=False)
    assert plain.code == 1 and plain.out == "not a tty\n"
