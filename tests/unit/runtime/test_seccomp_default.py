"""A missing default seccomp profile is said, not silently skipped."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cais.runtime.model import Container, ContainerConfig
from cais.runtime.specgen import build, missing_seccomp
from cais.settings import Settings
from helpers import Cli


def _container(**config: object) -> Container:
    base = {"image": "busybox", "image_id": "sha256:" + "0" * 64, "args": ("true",)}
    return Container("c" * 64, "web", 0.0, ContainerConfig(**{**base, **config}))  # type: ignore[arg-type]


def test_a_missing_default_profile_gives_a_warning(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-seccomp.json"
    warning = missing_seccomp(_container(), missing)
    assert warning is not None
    assert warning.startswith(f"WARNING: seccomp profile {missing} not found")
    assert "without seccomp" in warning
    present = tmp_path / "seccomp.json"
    present.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    assert missing_seccomp(_container(), present) is None
    # nothing is missing for containers that do not ask for the default profile
    assert missing_seccomp(_container(privileged=True), missing) is None
    assert missing_seccomp(_container(seccomp="unconfined"), missing) is None
    assert missing_seccomp(_container(seccomp=str(present)), missing) is None


def test_the_spec_follows_the_configured_profile(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    present = tmp_path / "seccomp.json"
    present.write_text('{"defaultAction": "SCMP_ACT_ERRNO"}')

    def spec(profile: Path) -> dict[str, object]:
        doc = build(
            _container(),
            rootfs=rootfs,
            mounts=[],
            files={},
            netns=None,
            cgroup="/cais/x",
            seccomp_profile=profile,
        )
        return json.loads(json.dumps(doc))  # type: ignore[no-any-return]

    assert spec(present)["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"  # type: ignore[index]
    assert "seccomp" not in spec(tmp_path / "missing.json")["linux"]  # type: ignore[operator]


def test_info_names_the_profile_or_none(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-seccomp.json"
    doc = json.loads(Cli(replace(settings, seccomp_profile=missing))("info", "-f", "json").out)
    assert doc["SeccompProfile"] == "none" and doc["SecurityOptions"] == []
    text = Cli(replace(settings, seccomp_profile=missing))("info").out
    assert f" Seccomp Profile: none ({missing} missing)\n" in text
    present = tmp_path / "seccomp.json"
    present.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    doc = json.loads(Cli(replace(settings, seccomp_profile=present))("info", "-f", "json").out)
    assert doc["SeccompProfile"] == str(present)
    assert doc["SecurityOptions"] == [f"name=seccomp,profile={present}"]
