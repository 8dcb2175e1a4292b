"""Overlay mounts of writable snapshots keep the upper directory a plain diff."""

from __future__ import annotations

from pathlib import Path

from cais.runtime.mounts import overlay_attempts
from cais.snapshots.overlay import OverlaySnapshotter
from cais.state.sqlite import Database


def test_active_snapshot_mounts_turn_metacopy_and_redirect_dir_off(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path / "snapshots", Database(tmp_path / "db.sqlite"))
    snapshotter.prepare("base-active")
    snapshotter.commit("base", "base-active")
    (mount,) = snapshotter.prepare("run", "base")
    assert mount.type == "overlay"
    # a host whose overlay defaults these on would otherwise give metadata-only copies
    # and redirected directories, which the layer differ cannot turn into a layer
    assert "metacopy=off" in mount.options and "redirect_dir=off" in mount.options
    assert "index=off" in mount.options


def test_a_kernel_refusing_the_options_is_tried_without_them() -> None:
    data = ["index=off", "metacopy=off", "redirect_dir=off", "lowerdir=/l", "upperdir=/u"]
    assert overlay_attempts(data) == [
        data,
        ["index=off", "redirect_dir=off", "lowerdir=/l", "upperdir=/u"],
        ["index=off", "lowerdir=/l", "upperdir=/u"],
    ]
    assert overlay_attempts(["lowerdir=/l"]) == [["lowerdir=/l"]]
