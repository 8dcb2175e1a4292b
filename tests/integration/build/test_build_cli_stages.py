"""``cais build --target``, ``--no-cache`` and ``FROM scratch`` through the real entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers import Cli

STAGES = """\
FROM busybox AS base
RUN echo base > /stage
FROM base AS test
RUN echo test > /stage
FROM base
RUN exit 3
"""


def test_target_builds_only_that_stage_and_what_it_needs(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(STAGES)
    built = ccli("build", "--progress=plain", "--target", "test", "-t", "t:1", str(tmp_path))
    assert ccli("run", "--rm", "t:1", "cat", "/stage").out == "test\n"
    assert "RUN echo base > /stage" in built.err and "RUN exit 3" not in built.err
    # without --target the last stage is built, and its failing RUN fails the build
    failed = ccli("build", "-q", str(tmp_path), check=False)
    assert failed.code == 1 and "Dockerfile:6: RUN exited with code 3" in failed.err
    missing = ccli("build", "--target", "nope", str(tmp_path), check=False)
    assert missing.code == 1
    assert "target stage 'nope' could not be found (stages: base, test)" in missing.err


UNIQUE = 'FROM busybox\nRUN cat /proc/sys/kernel/random/uuid > /id\nCMD ["cat", "/id"]\n'


def test_no_cache_reruns_every_step(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(UNIQUE)
    first = ccli("build", "-q", "-t", "u:1", str(tmp_path)).out.strip()
    first_id = ccli("run", "--rm", "u:1").out
    again = ccli("build", "--progress=plain", "-t", "u:1", str(tmp_path))
    assert "CACHED" in again.err
    assert ccli("inspect", "-f", "{{.Id}}", "u:1").out.strip() == first
    fresh = ccli("build", "--progress=plain", "--no-cache", "-t", "u:1", str(tmp_path))
    assert "CACHED" not in fresh.err
    assert ccli("inspect", "-f", "{{.Id}}", "u:1").out.strip() != first
    assert ccli("run", "--rm", "u:1").out != first_id  # the RUN ran again


def test_from_scratch_with_copy_runs_and_inspects(ccli: Cli, tmp_path: Path) -> None:
    busybox = shutil.which("busybox")
    assert busybox is not None  # Debian's busybox-static: runs with no libraries
    shutil.copy2(busybox, tmp_path / "busybox")
    (tmp_path / "hello.txt").write_text("hello from scratch\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY hello.txt /\n"
        'CMD ["/bin/busybox", "cat", "/hello.txt"]\n'
    )
    ccli("build", "-q", "-t", "scratchy:1", str(tmp_path))
    assert ccli("run", "--rm", "--network", "none", "scratchy:1").out == "hello from scratch\n"
    (info,) = json.loads(ccli("image", "inspect", "scratchy:1").out)
    assert info["RepoTags"] == ["scratchy:1"]
    assert info["Os"] == "linux" and info["Architecture"]
    assert info["Config"]["Cmd"] == ["/bin/busybox", "cat", "/hello.txt"]
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 2
    history = ccli("history", "--no-trunc", "--format", "{{.CreatedBy}}", "scratchy:1").out
    lines = history.splitlines()
    assert len(lines) == 3 and lines[0].startswith("CMD ")
    assert all(line.startswith("COPY ") for line in lines[1:])
