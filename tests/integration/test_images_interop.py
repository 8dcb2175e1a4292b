"""cais archives against podman and skopeo (Debian's packages), as a user would mix them."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from anchors import Podman, skopeo
from helpers import Cli


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    p = Podman.create(tmp_path / "podman")
    yield p
    p.reset()


@pytest.fixture
def busybox_id(cli: Cli) -> str:
    return cli("image", "bootstrap", "busybox").out.split()[1]


def test_podman_loads_what_cais_saves(
    cli: Cli, podman: Podman, busybox_id: str, tmp_path: Path
) -> None:
    archive = tmp_path / "bb.tar"
    cli("save", "-o", str(archive), "busybox")
    assert "busybox" in podman("load", "-i", str(archive)).stdout
    theirs = json.loads(podman("image", "inspect", "docker.io/library/busybox:latest").stdout)[0]
    ours = json.loads(cli("image", "inspect", "busybox").out)[0]
    assert "sha256:" + theirs["Id"].removeprefix("sha256:") == busybox_id
    assert theirs["RootFS"]["Layers"] == ours["RootFS"]["Layers"]
    assert theirs["Config"]["Cmd"] == ours["Config"]["Cmd"]
    assert theirs["Config"]["Env"] == ours["Config"]["Env"]
    assert theirs["Architecture"] == ours["Architecture"]


def test_cais_loads_what_podman_and_skopeo_write(
    cli: Cli, podman: Podman, busybox_id: str, tmp_path: Path
) -> None:
    archive = tmp_path / "bb.tar"
    cli("save", "-o", str(archive), "busybox")
    podman("load", "-i", str(archive))
    podman("tag", "docker.io/library/busybox:latest", "localhost/team/box:v2")
    ours_layers = json.loads(cli("image", "inspect", "busybox").out)[0]["RootFS"]["Layers"]
    cli("rmi", "busybox")

    # podman save (docker-archive, with symlinked layer directories)
    podman_tar = tmp_path / "podman.tar"
    podman("save", "-o", str(podman_tar), "localhost/team/box:v2")
    assert cli("load", "-i", str(podman_tar)).out == "Loaded image: localhost/team/box:v2\n"
    doc = json.loads(cli("image", "inspect", "localhost/team/box:v2").out)[0]
    assert doc["Id"] == busybox_id
    assert doc["RootFS"]["Layers"] == ours_layers
    cli("rmi", "-f", busybox_id)

    # podman save --format oci-archive
    oci_tar = tmp_path / "podman-oci.tar"
    podman("save", "--format", "oci-archive", "-o", str(oci_tar), "localhost/team/box:v2")
    cli("load", "-i", str(oci_tar))
    assert cli("images", "-q", "--no-trunc").out.strip() == busybox_id
    cli("rmi", "-f", busybox_id)

    # skopeo copy into an OCI layout directory, then as an oci-archive
    layout = tmp_path / "layout"
    skopeo(
        "copy",
        "--quiet",
        f"{podman.storage}localhost/team/box:v2",
        f"oci:{layout}:v2",
        env=podman.env(),
    )
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    out = cli("load", "-i", str(layout)).out
    assert out.startswith("Loaded image")
    assert cli("images", "-q", "--no-trunc").out.strip() == busybox_id
    doc = json.loads(cli("image", "inspect", busybox_id).out)[0]
    assert doc["ManifestDigest"] == manifest_digest
    cli("rmi", "-f", busybox_id)

    skopeo_tar = tmp_path / "skopeo-oci.tar"
    skopeo(
        "copy",
        "--quiet",
        f"{podman.storage}localhost/team/box:v2",
        f"oci-archive:{skopeo_tar}:localhost/team/box:v2",
        env=podman.env(),
    )
    assert cli("load", "-i", str(skopeo_tar)).out == "Loaded image: localhost/team/box:v2\n"
    doc = json.loads(cli("image", "inspect", "localhost/team/box:v2").out)[0]
    assert doc["Id"] == busybox_id
    with tarfile.open(skopeo_tar) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        assert doc["ManifestDigest"] == json.loads(member.read())["manifests"][0]["digest"]
