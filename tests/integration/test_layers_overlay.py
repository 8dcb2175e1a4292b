"""Whiteouts, ownership and devices for real: overlayfs mounts, as root."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cais.layers import apply_layer, write_layer
from cais.layers.apply import OVERLAY_OPAQUE_XATTR
from tarfixtures import Entry, directory, file, make_tar


@contextmanager
def overlay(lowers: list[Path], upper: Path, work: Path, target: Path) -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    opts = f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_whiteouts_hide_lower_files(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    apply_layer(
        io.BytesIO(
            make_tar(
                [
                    file("keep", b"k"),
                    file("gone", b"g"),
                    directory("dir"),
                    file("dir/old", b"o"),
                    directory("opaque"),
                    file("opaque/hidden", b"h"),
                ]
            )
        ),
        lower,
    )
    upper = tmp_path / "upper"
    apply_layer(
        io.BytesIO(
            make_tar(
                [
                    file(".wh.gone", b""),
                    directory("opaque"),
                    file("opaque/.wh..wh..opq", b""),
                    file("opaque/new", b"n"),
                ]
            )
        ),
        upper,
    )
    gone = (upper / "gone").lstat()
    assert stat.S_ISCHR(gone.st_mode)
    assert gone.st_rdev == 0
    assert os.getxattr(upper / "opaque", OVERLAY_OPAQUE_XATTR) == b"y"
    work = tmp_path / "work"
    work.mkdir()
    with overlay([lower], upper, work, tmp_path / "merged") as merged:
        assert sorted(os.listdir(merged)) == ["dir", "keep", "opaque"]
        assert os.listdir(merged / "opaque") == ["new"]
        assert (merged / "dir/old").read_bytes() == b"o"


def test_diff_of_an_overlay_upper_becomes_tar_whiteouts(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    apply_layer(
        io.BytesIO(
            make_tar(
                [
                    file("etc/a", b"a"),
                    file("etc/b", b"b"),
                    directory("var/cache"),
                    file("var/cache/x", b"x"),
                ]
            )
        ),
        lower,
    )
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay([lower], upper, work, tmp_path / "merged") as merged:
        (merged / "etc/a").unlink()
        (merged / "etc/c").write_text("c")
        subprocess.run(["rm", "-rf", str(merged / "var/cache")], check=True)
        (merged / "var/cache").mkdir()
        (merged / "var/cache/fresh").write_text("f")
    out = io.BytesIO()
    written = write_layer(upper, out, compression="")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = set(tar.getnames())
    assert "etc/.wh.a" in names
    assert "etc/c" in names
    assert "var/cache/.wh..wh..opq" in names
    assert "var/cache/fresh" in names
    # applied again on the lower, the change set gives the same merged view
    again_upper = tmp_path / "again"
    applied = apply_layer(io.BytesIO(out.getvalue()), again_upper)
    assert applied.diff_id == written.diff_id
    work2 = tmp_path / "work2"
    work2.mkdir()
    with overlay([lower], again_upper, work2, tmp_path / "merged2") as merged:
        assert sorted(os.listdir(merged / "etc")) == ["b", "c"]
        assert os.listdir(merged / "var/cache") == ["fresh"]


def test_owners_and_special_bits_are_kept_as_root(tmp_path: Path) -> None:
    data = make_tar(
        [
            file("srv/app", b"x", uid=1000, gid=1001, mode=0o4755),
            directory("home/u", uid=1000, gid=1000),
            Entry("dev/null", "chr", mode=0o666),
        ]
    )
    target = tmp_path / "t"
    applied = apply_layer(io.BytesIO(data), target, trusted=True)
    st = (target / "srv/app").stat()
    assert (st.st_uid, st.st_gid) == (1000, 1001)
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert (target / "home/u").stat().st_uid == 1000
    assert stat.S_ISCHR((target / "dev/null").lstat().st_mode)
    assert applied.skipped_devices == 0
    untrusted = apply_layer(io.BytesIO(data), tmp_path / "u")
    assert untrusted.skipped_devices == 1
