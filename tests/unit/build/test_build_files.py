"""COPY sources (context lookups, globs, .dockerignore) and the copy into a root (Docker's rules).

Run without root: owners are set to this user's IDs where the build would use root's.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from cais.build.context import ExcludeFilter, SourceError, SourceTree
from cais.build.files import destination_path, parse_chmod
from cais.build.fsops import CopyPolicy, Destination, FileOpError, resolve_in_root
from cais.build.ignore import IgnoreRules

ME = (os.getuid(), os.getgid())
POLICY = CopyPolicy(owner=ME)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print(1)\n")
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "src" / "pkg" / "mod.pyc").write_text("bytecode")
    (root / "README.md").write_text("readme")
    (root / "a.txt").write_text("a")
    (root / "b.txt").write_text("b")
    (root / "link").symlink_to("src/main.py")
    (root / "escape").symlink_to("/etc/passwd")
    return root


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "etc").mkdir()
    (root / "abs").symlink_to("/etc")
    (root / "afile").write_text("f")
    return root


def names(tree: SourceTree, pattern: str) -> list[tuple[str, str, bool]]:
    return [(m.rel, m.name, m.is_dir) for m in tree.find(pattern)]


def test_find(context: Path) -> None:
    tree = SourceTree(context)
    assert names(tree, "a.txt") == [("a.txt", "a.txt", False)]
    assert names(tree, "/a.txt") == [("a.txt", "a.txt", False)]
    assert names(tree, "./src/../a.txt") == [("a.txt", "a.txt", False)]
    assert names(tree, ".") == [("", "", True)]
    assert names(tree, "link") == [("src/main.py", "link", False)]
    assert names(tree, "*.txt") == [("a.txt", "a.txt", False), ("b.txt", "b.txt", False)]
    assert names(tree, "src/*/*.py") == [("src/pkg/mod.py", "mod.py", False)]
    assert names(tree, "[ab].txt") == [("a.txt", "a.txt", False), ("b.txt", "b.txt", False)]
    assert names(tree, "s?c") == [("src", "src", True)]


def test_find_errors(context: Path) -> None:
    tree = SourceTree(context)
    with pytest.raises(SourceError, match=r'"missing" not found in the build context'):
        tree.find("missing")
    with pytest.raises(SourceError, match=r"forbidden path outside the build context: \.\./x"):
        tree.find("../x")
    with pytest.raises(SourceError, match="outside"):
        tree.find("src/../../x")
    with pytest.raises(SourceError, match="not found"):
        tree.find("*.nothing")
    with pytest.raises(SourceError, match="not found"):
        tree.find("escape")  # a link out of the context points inside it (and finds nothing)
    with pytest.raises(SourceError, match="the build has no context"):
        SourceTree(None).find("a")


def test_ignored_files_do_not_exist(context: Path) -> None:
    tree = SourceTree(context, ignore=IgnoreRules.from_text("*.md\nsrc/**/*.pyc\n"))
    with pytest.raises(SourceError, match=r"excluded by \.dockerignore"):
        tree.find("README.md")
    walked = [rel for rel, _, _ in tree.walk(tree.find("src")[0])]
    assert walked == ["", "main.py", "pkg", "pkg/mod.py"]


def test_destination_paths() -> None:
    assert destination_path("/app/", "/w") == "/app/"
    assert destination_path("app", "/w") == "/w/app"
    assert destination_path(".", "/w") == "/w/"
    assert destination_path("./", "") == "/"
    assert destination_path("../x/", "/w/v") == "/w/x/"
    assert parse_chmod("755") == 0o755
    assert parse_chmod("") is None
    with pytest.raises(Exception, match="it should be octal"):
        parse_chmod("u+x")


def test_resolve_in_root_never_leaves_the_root(rootfs: Path) -> None:
    assert resolve_in_root(rootfs, "/bin/sh") == "usr/bin/sh"
    assert resolve_in_root(rootfs, "/abs/passwd") == "etc/passwd"
    assert resolve_in_root(rootfs, "/../../etc") == "etc"
    assert resolve_in_root(rootfs, "/bin", follow_last=False) == "bin"
    (rootfs / "loop").symlink_to("loop")
    with pytest.raises(FileOpError, match="too many levels"):
        resolve_in_root(rootfs, "/loop/x")


def tree_of(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = "-> " + os.readlink(path)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = f"dir {stat.S_IMODE(st.st_mode):o}"
        else:
            out[rel] = f"{path.read_text()} {stat.S_IMODE(st.st_mode):o}"
    return out


def test_copy_directory_contents(context: Path, rootfs: Path) -> None:
    tree = SourceTree(context)
    (context / "src" / "pkg").chmod(0o750)
    with Destination(rootfs) as dest:
        dest.copy(context / "src", "/opt/app", POLICY, name="src")
    got = tree_of(rootfs / "opt")
    assert got["app"] == "dir 755"  # made, not copied: the contents are what is copied
    assert got["app/main.py"].startswith("print(1)")
    assert got["app/pkg"] == "dir 750"
    assert "app/src" not in got
    del tree


def test_copy_file_into_dir_or_as_name(context: Path, rootfs: Path) -> None:
    with Destination(rootfs) as dest:
        dest.copy(context / "a.txt", "/new/dir/", POLICY, name="a.txt")
        dest.copy(context / "a.txt", "/etc", POLICY, name="a.txt")  # an existing directory
        dest.copy(context / "b.txt", "/renamed", POLICY, name="b.txt")
        dest.copy(context / "src" / "main.py", "/bin/", POLICY, name="link")
    assert (rootfs / "new" / "dir" / "a.txt").read_text() == "a"
    assert (rootfs / "etc" / "a.txt").read_text() == "a"
    assert (rootfs / "renamed").read_text() == "b"
    assert (rootfs / "usr" / "bin" / "link").exists()  # through the image's own symlink


def test_copy_through_absolute_link_stays_inside(context: Path, rootfs: Path) -> None:
    with Destination(rootfs) as dest:
        dest.copy(context / "a.txt", "/abs/", POLICY, name="a.txt")
    assert (rootfs / "etc" / "a.txt").exists()


def test_copy_keeps_links_modes_and_applies_chmod(context: Path, rootfs: Path) -> None:
    (context / "src" / "main.py").chmod(0o751)
    (context / "src" / "rel").symlink_to("main.py")
    with Destination(rootfs) as dest:
        dest.copy(context / "src", "/keep/", POLICY, name="src")
        dest.copy(context / "src", "/chmod/", CopyPolicy(owner=ME, mode=0o600), name="src")
    assert stat.S_IMODE((rootfs / "keep" / "main.py").stat().st_mode) == 0o751
    assert os.readlink(rootfs / "keep" / "rel") == "main.py"
    assert stat.S_IMODE((rootfs / "chmod" / "main.py").stat().st_mode) == 0o600
    assert stat.S_IMODE((rootfs / "chmod" / "pkg").stat().st_mode) == 0o600
    assert stat.S_IMODE((rootfs / "chmod").stat().st_mode) == 0o755


def test_copy_respects_ignore_and_excludes(context: Path, rootfs: Path) -> None:
    tree = SourceTree(context, ignore=IgnoreRules(["src/pkg/*.pyc"]))
    only = ExcludeFilter(tree, "src", IgnoreRules(["main.py"]))
    with Destination(rootfs) as dest:
        dest.copy(context / "src", "/app/", POLICY, only=only, name="src")
    assert sorted(tree_of(rootfs / "app")) == ["pkg", "pkg/mod.py"]


def test_copy_conflicts(context: Path, rootfs: Path) -> None:
    (rootfs / "target").mkdir()
    (rootfs / "target" / "main.py").mkdir()
    with Destination(rootfs) as dest, pytest.raises(FileOpError, match="cannot replace"):
        dest.copy(context / "src", "/target", POLICY, name="src")
    with Destination(rootfs) as dest, pytest.raises(FileOpError, match="not a directory"):
        dest.copy(context / "a.txt", "/afile/x/", POLICY, name="a.txt")


def test_hard_links_stay_linked(tmp_path: Path, rootfs: Path) -> None:
    src = tmp_path / "hl"
    src.mkdir()
    (src / "one").write_text("same")
    os.link(src / "one", src / "two")
    with Destination(rootfs) as dest:
        dest.copy(src, "/hl/", POLICY, name="hl")
    assert (rootfs / "hl" / "one").stat().st_ino == (rootfs / "hl" / "two").stat().st_ino


def test_write_file_and_make_dirs(rootfs: Path) -> None:
    with Destination(rootfs) as dest:
        dest.write_file("/conf/", b"data", name="EOF", owner=ME)
        dest.write_file("/conf/app.ini", b"ini", name="EOF", mode=0o600, owner=ME)
        assert dest.make_dirs("/bin/x/y") == "usr/bin/x/y"
        assert dest.is_dir("/bin/x")
    assert (rootfs / "conf" / "EOF").read_bytes() == b"data"
    assert stat.S_IMODE((rootfs / "conf" / "app.ini").stat().st_mode) == 0o600
    assert (rootfs / "usr" / "bin" / "x" / "y").is_dir()


def _tar(entries: list[tuple[str, bytes | None, str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid = ME
            if link.startswith("sym:"):
                info.type, info.linkname = tarfile.SYMTYPE, link[4:]
                tar.addfile(info)
            elif link.startswith("hard:"):
                info.type, info.linkname = tarfile.LNKTYPE, link[5:]
                tar.addfile(info)
            elif data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o640
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_archive_safely(rootfs: Path) -> None:
    data = _tar(
        [
            ("top/", None, ""),
            ("top/file", b"content", ""),
            ("top/hard", None, "hard:top/file"),
            ("evil", None, "sym:/etc"),
            ("evil/planted", b"inside", ""),
            ("bin/tool", b"#!", ""),
        ]
    )
    with Destination(rootfs) as dest:
        dest.extract(io.BytesIO(data), "/x", owner=None)
    x = rootfs / "x"
    assert (x / "top" / "file").read_text() == "content"
    assert (x / "top" / "hard").stat().st_ino == (x / "top" / "file").stat().st_ino
    assert stat.S_IMODE((x / "top" / "file").stat().st_mode) == 0o640
    assert (rootfs / "etc" / "planted").read_text() == "inside"  # the link resolved in the root
    assert (x / "bin" / "tool").exists()
