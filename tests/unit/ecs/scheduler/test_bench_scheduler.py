"""``python -m bench scheduler`` runs the scheduler suite and saves its rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def bench_suite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> object:
    """The bench package, importable, with small sizes and results in a temp dir."""
    monkeypatch.syspath_prepend(str(REPO))
    import bench.common
    import bench.scheduler

    monkeypatch.setattr(bench.common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(bench.scheduler, "INSTANCES", 12)
    monkeypatch.setattr(bench.scheduler, "TASKS", 30)
    return bench


def test_python_m_bench_scheduler_ignores_the_suite_names(
    bench_suite: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bench.__main__

    monkeypatch.setattr(sys, "argv", ["bench", "scheduler"])
    assert bench.__main__.main(["scheduler"]) == 0
    saved = json.loads((tmp_path / "results" / "scheduler.json").read_text())
    assert saved["tasks"] == 30 and saved["instances"] == 12
    modes = {(row["mode"], row["strategy"]) for row in saved["rows"]}
    assert ("one plan", "binpack(memory)") in modes
    assert ("RunTask x10", "random") in modes
    assert all(row["tasks_per_s"] > 0 for row in saved["rows"])


def test_scheduler_suite_parses_its_own_argv(bench_suite: object, tmp_path: Path) -> None:
    import bench.scheduler

    result = bench.scheduler.main(["--runs", "1", "--instances", "6", "--tasks", "20"])
    assert result["tasks"] == 20 and result["runs"] == 1
    saved = json.loads((tmp_path / "results" / "scheduler.json").read_text())
    assert saved["instances"] == 6
