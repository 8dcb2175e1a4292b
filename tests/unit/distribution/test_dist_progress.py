from __future__ import annotations

import io

from cais.distribution.progress import LineProgress, NoProgress, RichProgress, progress_for


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_on_a_pipe_one_per_status_change() -> None:
    out = io.StringIO()
    progress = progress_for(out)
    assert isinstance(progress, LineProgress)
    progress.note("v1: Pulling from team/app")
    progress.add("abcdef012345", total=10, status="Pulling fs layer")
    progress.status("abcdef012345", "Downloading", transferring=True)
    progress.advance("abcdef012345", 5)
    progress.status("abcdef012345", "Downloading", transferring=True)
    progress.status("abcdef012345", "Pull complete")
    progress.close()
    assert out.getvalue().splitlines() == [
        "v1: Pulling from team/app",
        "abcdef012345: Pulling fs layer",
        "abcdef012345: Downloading",
        "abcdef012345: Pull complete",
    ]


def test_bars_on_a_terminal_and_nothing_when_quiet() -> None:
    assert isinstance(progress_for(Tty(), quiet=True), NoProgress)
    out = Tty()
    progress = progress_for(out)
    assert isinstance(progress, RichProgress)
    progress.add("abcdef012345", total=2048, status="Downloading")
    progress.status("abcdef012345", "Downloading", transferring=True)
    progress.advance("abcdef012345", 1024)
    progress.note("a line above the bars")
    progress.status("abcdef012345", "Pull complete")
    progress.close()
    text = out.getvalue()
    assert "a line above the bars" in text
    assert "abcdef012345: Pull complete" in text
