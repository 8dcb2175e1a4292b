"""Containers started without the default seccomp profile: one warning per command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from helpers import Cli


def test_missing_profile_warns_once_per_command(ccli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-seccomp.json"
    cli = Cli(replace(ccli.settings, seccomp_profile=missing))
    first = cli("create", "--name", "one", "busybox", "true").out.strip()
    cli("create", "--name", "two", "busybox", "true")
    started = cli("start", "one", "two")
    assert started.err.count("WARNING: seccomp profile") == 1
    assert f"WARNING: seccomp profile {missing} not found" in started.err
    spec = json.loads((ccli.settings.runroot / "containers" / first / "config.json").read_text())
    assert "seccomp" not in spec["linux"]
    # with the profile in place: no warning
    quiet = ccli("run", "--rm", "busybox", "true")
    assert "WARNING" not in quiet.err
