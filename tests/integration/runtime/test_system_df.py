"""``cais system df`` counts what containers, volumes and the build cache really hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import Cli

_UNITS = {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}


def _bytes(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(B|kB|MB|GB)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def _rows(cli: Cli) -> dict[str, dict[str, str]]:
    lines = cli("system", "df", "--format", "json").out.splitlines()
    return {row["Type"]: row for row in map(json.loads, lines)}


def test_df_counts_containers_volumes_and_build_cache(ccli: Cli, tmp_path: Path) -> None:
    ccli("run", "--name", "stopped", "busybox", "sh", "-c", "head -c 400000 /dev/urandom > /big")
    ccli(
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "head -c 300000 /dev/urandom > /data/b",
    )
    ccli("run", "-d", "--name", "live", "-v", "data:/data", "busybox", "sleep", "300")
    ccli("volume", "create", "idle")
    mountpoint = Path(json.loads(ccli("volume", "inspect", "idle").out)[0]["Mountpoint"])
    (mountpoint / "f").write_bytes(b"x" * 100_000)
    (tmp_path / "Dockerfile").write_text(
        'FROM busybox\nRUN head -c 200000 /dev/urandom > /cached\nCMD ["true"]\n'
    )
    ccli("build", "-q", "-t", "cached:1", str(tmp_path))
    ccli("rmi", "cached:1")  # its RUN step stays as build cache

    rows = _rows(ccli)
    containers = rows["Containers"]
    assert (containers["TotalCount"], containers["Active"]) == ("2", "1")
    assert 400_000 <= _bytes(containers["Size"]) < 600_000
    reclaim, pct = containers["Reclaimable"].split(" ")
    assert _bytes(reclaim) >= 400_000 and re.fullmatch(r"\((9\d|100)%\)", pct)

    volumes = rows["Local Volumes"]
    assert (volumes["TotalCount"], volumes["Active"]) == ("2", "1")
    assert 400_000 <= _bytes(volumes["Size"]) < 600_000
    assert 100_000 <= _bytes(volumes["Reclaimable"].split(" ")[0]) < 200_000  # only "idle"

    cache = rows["Build Cache"]
    assert (cache["TotalCount"], cache["Active"]) == ("1", "0")
    assert 200_000 <= _bytes(cache["Size"]) < 300_000
    assert cache["Reclaimable"].startswith(cache["Size"] + " (")

    images = rows["Images"]
    assert (images["TotalCount"], images["Active"]) == ("1", "1")  # busybox; the cache apart

    table = ccli("system", "df").out.splitlines()
    assert re.split(r"\s{3,}", table[2])[:3] == ["Containers", "2", "1"]
    verbose = ccli("system", "df", "-v").out
    containers_part = verbose.split("Containers space usage:")[1].split("Local Volumes")[0]
    assert "stopped" in containers_part and "live" in containers_part
    volumes_part = verbose.split("Local Volumes space usage:")[1]
    assert re.search(r"^data\s+1\s+\d", volumes_part, re.M)
    assert re.search(r"^idle\s+0\s+1\d\dkB", volumes_part, re.M)
    assert "Build cache usage: " + cache["Size"] in verbose

    ccli("rm", "-f", "live", "stopped")
    ccli("volume", "rm", "data", "idle")
    rows = _rows(ccli)
    assert rows["Containers"]["Size"] == rows["Local Volumes"]["Size"] == "0B"


def test_ps_and_inspect_show_the_writable_layer_and_virtual_sizes(ccli: Cli) -> None:
    ccli(
        "run",
        "--name",
        "writer",
        "--network",
        "none",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1024",
        "count=300",
    )
    header, row = ccli("ps", "-a", "-s").out.splitlines()
    assert header.split()[-1] == "SIZE"
    assert re.search(r"  307kB \(virtual 2\.\d+MB\)$", row), row  # 300 KiB over busybox
    plain = ccli("ps", "-a").out.splitlines()[0]
    assert "SIZE" not in plain  # only asked for
    (doc,) = json.loads(ccli("inspect", "-s", "writer").out)
    assert doc["SizeRw"] >= 300 * 1024 and doc["SizeRootFs"] > doc["SizeRw"]
    assert "SizeRw" not in json.loads(ccli("inspect", "writer").out)[0]
    assert ccli("inspect", "--type", "network", "none", "--format", "{{.Driver}}").out == "null\n"
    ccli("rm", "writer")
