"""Progress output (BuildKit's plain layout), the failure tail, and CLI argument helpers."""

from __future__ import annotations

import io
import re

import pytest

from cais.build.execute import OutputTail
from cais.build.progress import PlainProgress, QuietProgress, TtyProgress, progress_for
from cais.cli.build import _build_args, _is_tar, _pairs
from cais.errors import InvalidArgumentError


def test_plain_progress_layout() -> None:
    out = io.StringIO()
    progress = PlainProgress(out)
    first = progress.start("[stage-0 2/3] RUN make")
    progress.output(first, b"compiling\nhalf a ")
    progress.output(first, b"line\nno newline at the end")
    progress.done(first)
    second = progress.start("[stage-0 3/3] COPY . /app")
    progress.cached(second)
    third = progress.start("[stage-0 4/4] RUN false")
    progress.failed(third, "RUN exited with code 1")
    progress.note("writing image sha256:abc done")
    lines = out.getvalue().splitlines()
    assert lines[0] == "#1 [stage-0 2/3] RUN make"
    assert re.fullmatch(r"#1 \d+\.\d{3} compiling", lines[1])
    assert re.fullmatch(r"#1 \d+\.\d{3} half a line", lines[2])
    assert re.fullmatch(r"#1 \d+\.\d{3} no newline at the end", lines[3])
    assert re.fullmatch(r"#1 DONE \d+\.\ds", lines[4])
    assert lines[5:] == [
        "#2 [stage-0 3/3] COPY . /app",
        "#2 CACHED",
        "#3 [stage-0 4/4] RUN false",
        "#3 ERROR: RUN exited with code 1",
        "writing image sha256:abc done",
    ]


def test_progress_modes() -> None:
    out = io.StringIO()
    assert isinstance(progress_for("auto", out), PlainProgress)  # not a terminal
    assert isinstance(progress_for("tty", out), TtyProgress)
    assert isinstance(progress_for("plain", out, quiet=True), QuietProgress)
    tty = TtyProgress(out)
    tty.cached(tty.start("x"))
    assert "\033[" in out.getvalue()


def test_output_tail_keeps_the_last_lines() -> None:
    tail = OutputTail(keep=2)
    tail.feed(b"one\ntwo\nthr")
    tail.feed(b"ee\r\nfour")
    assert tail.result() == ("three", "four")


def test_cli_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_ENV", "env-value")
    monkeypatch.delenv("NOT_SET", raising=False)
    assert _build_args(["A=1", "B=", "C=x=y", "FROM_ENV", "NOT_SET"]) == {
        "A": "1",
        "B": "",
        "C": "x=y",
        "FROM_ENV": "env-value",
    }
    with pytest.raises(InvalidArgumentError):
        _build_args(["=1"])
    assert _pairs(["a=b", "c"], "--label") == {"a": "b", "c": ""}
    assert _is_tar(b"\x1f\x8b rest")
    assert _is_tar(b"\0" * 257 + b"ustar" + b"\0" * 250)
    assert not _is_tar(b"FROM busybox\n")
