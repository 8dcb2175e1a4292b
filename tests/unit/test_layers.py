from __future__ import annotations

import gzip
import io
import os
import stat
from pathlib import Path

import pytest
import zstandard

from cais.layers import LayerError, apply_layer, write_layer
from cais.oci.digest import Digest
from tarfixtures import MALICIOUS, Entry, directory, file, hardlink, make_tar, symlink


def _tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """path → (kind, mode, content-or-target) for comparing trees."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), "")
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo", stat.S_IMODE(st.st_mode), "")
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes().hex())
    return out


SAMPLE = [
    directory("bin"),
    file("bin/tool", b"#!/bin/sh\necho hi\n", mode=0o755),
    file("etc/conf", b"a=1\n", mode=0o600),
    symlink("bin/alias", "/bin/tool"),
    symlink("rel", "etc/conf"),
    hardlink("bin/tool2", "bin/tool"),
    Entry("run/fifo", "fifo", mode=0o644),
    file("xattr", b"x", pax={"SCHILY.xattr.user.cais": "yes"}),
    directory("deep/er/est"),
]


def test_apply_reproduces_the_tar(tmp_path: Path) -> None:
    data = make_tar(SAMPLE)
    target = tmp_path / "t"
    applied = apply_layer(io.BytesIO(data), target)
    assert applied.diff_id == Digest.from_bytes(data)
    assert applied.size == len(data)
    assert (target / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((target / "bin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "etc/conf").stat().st_mode) == 0o600
    assert os.readlink(target / "bin/alias") == "/bin/tool"
    assert (target / "bin/tool2").stat().st_ino == (target / "bin/tool").stat().st_ino
    assert stat.S_ISFIFO((target / "run/fifo").lstat().st_mode)
    assert (target / "bin/tool").stat().st_mtime == 1_700_000_000
    assert (target / "deep/er/est").is_dir()
    assert (target / "bin").stat().st_mtime == 1_700_000_000  # set after its children
    try:
        assert os.getxattr(target / "xattr", "user.cais") == b"yes"
    except OSError:
        pytest.skip("filesystem without user xattrs")


@pytest.mark.parametrize("compression", ["gzip", "zstd", ""])
def test_compressed_layers_are_detected(tmp_path: Path, compression: str) -> None:
    data = make_tar([file("a", b"1")])
    packed = {"gzip": gzip.compress, "zstd": zstandard.compress, "": bytes}[compression](data)
    applied = apply_layer(io.BytesIO(packed), tmp_path / "t")
    assert applied.diff_id == Digest.from_bytes(data)
    assert (tmp_path / "t/a").read_bytes() == b"1"


def test_write_then_apply_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "src"
    apply_layer(io.BytesIO(make_tar(SAMPLE)), source)
    out = io.BytesIO()
    written = write_layer(source, out, compression="gzip", overlay_whiteouts=False)
    assert written.digest == Digest.from_bytes(out.getvalue())
    assert written.diff_id == Digest.from_bytes(gzip.decompress(out.getvalue()))
    again = tmp_path / "again"
    applied = apply_layer(io.BytesIO(out.getvalue()), again)
    assert applied.diff_id == written.diff_id
    assert _tree(again) == _tree(source)
    assert (again / "bin/tool2").stat().st_ino == (again / "bin/tool").stat().st_ino


def test_write_layer_is_reproducible(tmp_path: Path) -> None:
    source = tmp_path / "src"
    apply_layer(io.BytesIO(make_tar(SAMPLE)), source)
    one, two = io.BytesIO(), io.BytesIO()
    a = write_layer(source, one, compression="gzip", overlay_whiteouts=False)
    b = write_layer(source, two, compression="gzip", overlay_whiteouts=False)
    assert a == b
    assert one.getvalue() == two.getvalue()


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    data = make_tar(
        [
            file("x", b"old"),
            directory("d"),
            file("d/f"),
            file("x", b"new"),
            file("d", b"now a file"),
        ]
    )
    apply_layer(io.BytesIO(data), tmp_path / "t")
    assert (tmp_path / "t/x").read_bytes() == b"new"
    assert (tmp_path / "t/d").read_bytes() == b"now a file"


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_layers_cannot_escape(tmp_path: Path, case: str) -> None:
    target = tmp_path / "deep" / "er" / "root"
    target.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    with pytest.raises(LayerError) as exc:
        apply_layer(io.BytesIO(make_tar(MALICIOUS[case])), target)
    message = str(exc.value)
    assert "\n" not in message
    assert any(word in message for word in ("outside", "symlink", "not in this layer"))
    after = set(tmp_path.rglob("*"))
    escaped = {p for p in after - before if target not in p.parents and p != target}
    assert escaped == set()
    assert not Path("/tmp/sub").exists() or case != "symlink-then-dir"


def test_leading_slash_stays_inside(tmp_path: Path) -> None:
    apply_layer(io.BytesIO(make_tar([file("/etc/inside", b"ok")])), tmp_path / "t")
    assert (tmp_path / "t/etc/inside").read_bytes() == b"ok"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (make_tar([file("big", b"y" * 10_000)])[:3000], "truncated"),
        (b"this is not a tar archive at all" * 40, "not a valid tar"),
        (gzip.compress(b"garbage" * 100), "not a valid tar"),
    ],
)
def test_broken_archives_get_a_clear_error(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(LayerError) as exc:
        apply_layer(io.BytesIO(data), tmp_path / "t")
    assert needle in str(exc.value)


def test_devices_are_skipped_when_untrusted(tmp_path: Path) -> None:
    data = make_tar([Entry("dev/null", "chr", mode=0o666), file("ok")])
    applied = apply_layer(io.BytesIO(data), tmp_path / "t")
    assert applied.skipped_devices == 1
    assert not (tmp_path / "t/dev/null").exists()
    assert (tmp_path / "t/ok").exists()
