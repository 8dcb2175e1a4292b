"""Cache keys: what a step is keyed on, and that every input changes the key."""

from __future__ import annotations

import os
from pathlib import Path

from cais.build.cache import BuildCache, StepInputs, base_key, step_key
from cais.build.context import SourceTree
from cais.oci.digest import Digest
from cais.state.sqlite import Database

IMAGE = Digest("sha256", "a" * 64)


def test_keys_chain_from_the_base() -> None:
    base = base_key(IMAGE, platform="linux/amd64")
    assert base != base_key(Digest("sha256", "b" * 64), platform="linux/amd64")
    assert base != base_key(IMAGE, platform="linux/arm64")
    assert base != base_key(None, platform="linux/amd64")
    run = StepInputs("RUN", "make", args=(("V", "1"),), extra=(("network", "none"),))
    first = step_key(base, run)
    assert first == step_key(base, run)  # deterministic
    assert step_key(first, run) != first  # the same step after itself is another step


def test_every_input_changes_the_key() -> None:
    parent = base_key(IMAGE, platform="linux/amd64")
    reference = StepInputs(
        "COPY", "a /b", args=(("V", "1"),), sources=("path a sha"), extra=(("dest", "/b"),)
    )
    changes = [
        StepInputs(
            "ADD", "a /b", args=(("V", "1"),), sources=("path a sha"), extra=(("dest", "/b"),)
        ),
        StepInputs(
            "COPY", "a /c", args=(("V", "1"),), sources=("path a sha"), extra=(("dest", "/b"),)
        ),
        StepInputs(
            "COPY", "a /b", args=(("V", "2"),), sources=("path a sha"), extra=(("dest", "/b"),)
        ),
        StepInputs(
            "COPY", "a /b", args=(("V", "1"),), sources=("path a sh4"), extra=(("dest", "/b"),)
        ),
        StepInputs(
            "COPY", "a /b", args=(("V", "1"),), sources=("path a sha"), extra=(("dest", "/c"),)
        ),
    ]
    key = step_key(parent, reference)
    others = {step_key(parent, c) for c in changes}
    assert key not in others and len(others) == len(changes)
    assert step_key("sha256:other", reference) != key


def _tree(root: Path) -> SourceTree:
    return SourceTree(root)


def test_source_digest_follows_content_and_mode_not_mtime(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("one")
    tree = _tree(tmp_path)
    matches = tree.find("d")
    first = tree.digest(matches)
    os.utime(tmp_path / "d" / "f", (1, 1))
    assert tree.digest(matches) == first  # mtime is not an input (as BuildKit)
    (tmp_path / "d" / "f").write_text("two")
    changed_content = tree.digest(matches)
    assert changed_content != first
    (tmp_path / "d" / "f").chmod(0o600)
    assert tree.digest(matches) != changed_content
    (tmp_path / "d" / "g").symlink_to("f")
    with_link = tree.digest(tree.find("d"))
    (tmp_path / "d" / "g").unlink()
    (tmp_path / "d" / "g").symlink_to("elsewhere")
    assert tree.digest(tree.find("d")) != with_link


def test_source_digest_skips_ignored_files(tmp_path: Path) -> None:
    from cais.build.ignore import IgnoreRules

    (tmp_path / "keep").write_text("k")
    (tmp_path / "skip.log").write_text("s")
    tree = SourceTree(tmp_path, ignore=IgnoreRules(["*.log"]))
    before = tree.digest(tree.find("."))
    (tmp_path / "skip.log").write_text("changed")
    assert tree.digest(tree.find(".")) == before


def test_cache_table(tmp_path: Path) -> None:
    cache = BuildCache(Database(tmp_path / "db"))
    assert cache.lookup("sha256:k") is None
    cache.store("sha256:k", IMAGE)
    assert cache.lookup("sha256:k") == IMAGE
    assert cache.image_ids() == [IMAGE]
    assert cache.count() == 1
    cache.forget("sha256:k")
    assert cache.lookup("sha256:k") is None
    cache.store("sha256:k", IMAGE)
    assert cache.drop_images([IMAGE]) == 1
