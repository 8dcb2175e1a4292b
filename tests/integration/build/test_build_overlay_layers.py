"""RUN layers made through overlay: a mode-only change and a directory rename."""

from __future__ import annotations

import io
import tarfile

from buildsupport import BuildKit

from cais.engine import Engine

DOCKERFILE = """\
FROM busybox
RUN mkdir -p /d/sub && echo one > /d/sub/f && echo top > /d/t && echo m > /m && chmod 600 /m
RUN chmod 755 /m && mv /d /d2
"""


def test_chmod_only_and_renamed_directory_make_complete_layers(
    kit: BuildKit, engine: Engine
) -> None:
    built = kit(DOCKERFILE)
    manifest = engine.image_store.read_manifest(built.image.manifest_digest)
    with tarfile.open(fileobj=io.BytesIO(engine.content.read(manifest.layers[-1].digest))) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        contents = {
            name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for name, m in members.items()
            if m.isfile()
        }
    # the mode change carries the whole file, not an empty metadata-only copy
    assert members["m"].mode & 0o7777 == 0o755 and contents["m"] == b"m\n"
    # the old directory is whited out and the new one holds everything
    assert ".wh.d" in members
    assert members["d2"].isdir() and members["d2/sub"].isdir()
    assert contents["d2/sub/f"] == b"one\n" and contents["d2/t"] == b"top\n"
    files = kit.files(built.image)
    assert "d" not in files
    assert files["m"][:2] == ("file", 0o755) and files["m"][4] == "m\n"
    assert files["d2/sub/f"][4] == "one\n" and files["d2/t"][4] == "top\n"
