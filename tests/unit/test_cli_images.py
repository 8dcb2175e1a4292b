"""The image commands as a user sees them: output shape, exit codes, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import Cli
from tarfixtures import file, make_tar


@pytest.fixture
def with_busybox(cli: Cli) -> str:
    out = cli("image", "bootstrap", "busybox").out
    assert out.startswith("busybox:latest sha256:")
    return out.split()[1]


def test_help_and_unknown_commands(cli: Cli) -> None:
    assert "images" in cli("--help").out
    bad = cli("frobnicate", check=False)
    assert bad.code == 125
    assert "is not a cais command" in bad.err
    flag = cli("images", "--bogus", check=False)
    assert flag.code == 125
    assert "unrecognized arguments: --bogus" in flag.err


def test_images_table_and_quiet(cli: Cli, with_busybox: str) -> None:
    lines = cli("images").out.splitlines()
    assert re.split(r"\s{3,}", lines[0]) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    row = re.split(r"\s{3,}", lines[1])
    assert row[:3] == ["busybox", "latest", with_busybox.removeprefix("sha256:")[:12]]
    assert row[3].endswith("ago")
    assert re.fullmatch(r"[\d.]+MB", row[4])
    assert cli("images", "-q").out == with_busybox.removeprefix("sha256:")[:12] + "\n"
    assert cli("images", "-q", "--no-trunc").out == with_busybox + "\n"
    assert "DIGEST" in cli("images", "--digests").out.splitlines()[0]


def test_images_filters_and_formats(cli: Cli, with_busybox: str, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(make_tar([file("hello", b"hi")]))
    dangling = cli("import", "-c", "LABEL tier=web", str(rootfs)).out.strip()
    assert cli("images", "-q", "--no-trunc", "--filter", "dangling=true").out.split() == [dangling]
    assert cli("images", "-q", "--no-trunc", "-f", "label=tier=web").out.split() == [dangling]
    labels = cli("image", "inspect", "-f", "{{.Config.Labels}} {{.RootFS.Layers}}", dangling).out
    assert re.fullmatch(r"map\[tier:web\] \[sha256:[0-9a-f]{64}\]\n", labels)
    assert cli("images", "-q", "--no-trunc", "-f", "reference=busy*").out.split() == [with_busybox]
    rows = [json.loads(x) for x in cli("images", "--format", "json").out.splitlines()]
    assert {r["Repository"] for r in rows} == {"busybox", "<none>"}
    assert {"ID", "Tag", "Size", "CreatedSince", "Digest"} <= set(rows[0])
    assert (
        cli("images", "--format", "{{.Repository}}:{{.Tag}}", "-f", "dangling=false").out
        == "busybox:latest\n"
    )
    table = cli("images", "--format", "table {{.Repository}}\\t{{.Tag}}").out.splitlines()
    assert re.split(r"\s{3,}", table[0]) == ["REPOSITORY", "TAG"]
    bad = cli("images", "-f", "colour=red", check=False)
    assert bad.code == 1
    assert "invalid filter 'colour'" in bad.err


def test_inspect_history_tag_rmi(cli: Cli, with_busybox: str) -> None:
    doc = json.loads(cli("image", "inspect", "busybox").out)[0]
    assert doc["Id"] == with_busybox
    assert doc["RepoTags"] == ["busybox:latest"]
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["RootFS"]["Type"] == "layers"
    assert doc["Os"] == "linux"
    assert isinstance(doc["Size"], int)
    [entry] = doc["History"]
    assert entry["created_by"].startswith("cais image bootstrap busybox")
    assert entry["created"].endswith("Z")
    fields = "{{.Config.Cmd}} {{.Config.Env}} {{.RootFS.Type}}"
    assert cli("inspect", "-f", fields, "busybox").out == (
        "[sh] [PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin] layers\n"
    )
    assert cli("inspect", "-f", "{{json .Config.Cmd}}", "busybox").out == '["sh"]\n'
    history = cli("history", "busybox").out.splitlines()
    assert re.split(r"\s{3,}", history[0]) == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    assert "cais image bootstrap busybox" in history[1]

    cli("tag", "busybox", "localhost:5000/team/box:v1")
    assert "localhost:5000/team/box" in cli("images").out
    assert cli("rmi", "localhost:5000/team/box:v1").out == "Untagged: localhost:5000/team/box:v1\n"
    missing = cli("rmi", "nope:1", check=False)
    assert missing.code == 1
    assert missing.err == "Error: no such image: nope:1\n"
    out = cli("rmi", "busybox").out.splitlines()
    assert out == ["Untagged: busybox:latest", f"Deleted: {with_busybox}"]
    assert cli("images", "-q").out == ""


def test_save_load_import(cli: Cli, with_busybox: str, tmp_path: Path) -> None:
    archive = tmp_path / "busybox.tar"
    cli("save", "-o", str(archive), "busybox")
    assert archive.stat().st_size > 1_000_000
    cli("rmi", "busybox")
    assert cli("load", "-i", str(archive)).out == "Loaded image: busybox:latest\n"
    assert cli("images", "-q", "--no-trunc").out.strip() == with_busybox
    cli("rmi", "busybox")
    assert cli("load", input=archive.read_bytes()).out == "Loaded image: busybox:latest\n"
    streamed = cli("save", "busybox").raw
    cli("rmi", "busybox")
    assert cli("load", input=streamed).out == "Loaded image: busybox:latest\n"
    bad = cli("load", "-i", str(tmp_path / "missing.tar"), check=False)
    assert bad.code == 125
    assert "missing.tar" in bad.err

    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(make_tar([file("bin/app", b"#!/bin/sh\n")]))
    image_id = cli(
        "import", "-c", 'CMD ["/bin/app"]', "-m", "mine", str(rootfs), "app:v1"
    ).out.strip()
    doc = json.loads(cli("image", "inspect", "app:v1").out)[0]
    assert doc["Id"] == image_id
    assert doc["Config"]["Cmd"] == ["/bin/app"]
    assert doc["Comment"] == "mine"


def test_prune_and_df(cli: Cli, with_busybox: str, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(make_tar([file("junk", b"j" * 5000)]))
    junk = cli("import", str(rootfs)).out.strip()
    df = cli("system", "df").out.splitlines()
    assert re.split(r"\s{3,}", df[0]) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert re.split(r"\s{3,}", df[1])[:3] == ["Images", "2", "0"]
    out = cli("image", "prune", "-f").out
    assert f"deleted: {junk}" in out
    assert "Total reclaimed space:" in out
    assert cli("images", "-q", "--no-trunc").out.strip() == with_busybox
    assert cli("image", "prune", "-f", "-a").out.count("deleted:") == 1
    assert cli("images", "-q").out == ""


def test_info_reports_roots_runtime_and_cgroups(cli: Cli) -> None:
    out = cli("info").out
    assert f"Cais Root Dir: {cli.settings.root}" in out
    assert f"Run Root Dir: {cli.settings.runroot}" in out
    assert "Default Runtime: crun" in out
    assert re.search(r"Cgroup Version: [12] \((v1|v2|hybrid)\)", out)
    doc = json.loads(cli("info", "--format", "json").out)
    assert doc["CaisRootDir"] == str(cli.settings.root)
    assert doc["CgroupMode"] in ("v1", "v2", "hybrid")
