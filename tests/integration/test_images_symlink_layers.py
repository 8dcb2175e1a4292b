"""A symlink planted by one layer is never followed by a later layer's entries: not when the
image is loaded and unpacked, not when a container runs it."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from cais.engine import Engine
from cais.oci.config import chain_ids
from cais.oci.digest import Digest
from helpers import Cli
from tarfixtures import file, make_tar, symlink


def _archive_on_busybox(engine: Engine, extra: list[bytes], tag: str) -> bytes:
    """A docker-archive of busybox's layers plus ``extra`` layer tars, tagged ``tag``."""
    base = engine.image_store.resolve("busybox")
    manifest = engine.image_store.read_manifest(base.manifest_digest)
    layers = [engine.content.read(d.digest) for d in manifest.layers] + extra
    config = base.config.to_json()
    config["rootfs"]["diff_ids"] = [str(d) for d in base.config.diff_ids] + [
        str(Digest.from_bytes(layer)) for layer in extra
    ]
    config.pop("history", None)
    files = {f"layer{i}.tar": layer for i, layer in enumerate(layers)}
    files["config.json"] = json.dumps(config).encode()
    files["manifest.json"] = json.dumps(
        [{"Config": "config.json", "RepoTags": [tag], "Layers": list(files)[:-1]}]
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_absolute_symlink_from_an_earlier_layer_is_not_followed(
    ccli: Cli, engine: Engine, tmp_path: Path
) -> None:
    marker = f"cais-escape-{os.urandom(6).hex()}"
    outside = Path("/etc") / marker
    planted = make_tar([symlink("etc", "/etc")])  # layer 1: etc -> /etc (the host's, if followed)
    write = make_tar([file(f"etc/{marker}", b"inside\n")])  # layer 2: writes through "etc"
    archive = tmp_path / "escape.tar"
    archive.write_bytes(_archive_on_busybox(engine, [planted, write], "escape:1"))
    try:
        assert ccli("load", "-i", str(archive)).out == "Loaded image: escape:1\n"
        assert not outside.exists()

        image = engine.image_store.resolve("escape:1")
        *_, link_chain, write_chain = chain_ids(image.config.diff_ids)
        link_layer = engine.snapshotter.directory(str(link_chain))
        write_layer = engine.snapshotter.directory(str(write_chain))
        assert os.readlink(link_layer / "etc") == "/etc"  # kept as the layer says
        assert (write_layer / "etc").is_dir() and not (write_layer / "etc").is_symlink()
        assert (write_layer / "etc" / marker).read_bytes() == b"inside\n"

        shown = ccli("run", "--rm", "escape:1", "cat", f"/etc/{marker}").out
        assert shown == "inside\n"  # the later layer's directory hides the earlier symlink
        assert not outside.exists()
    finally:
        if outside.exists() or outside.is_symlink():
            outside.unlink()
