from __future__ import annotations

import json
from pathlib import Path

from cais.oci import runtime_spec as rs
from cais.runtime.health import next_health
from cais.runtime.logs import parse_line, parse_since, read
from cais.runtime.model import (
    Container,
    ContainerConfig,
    ContainerState,
    Health,
    HealthCheck,
    HealthResult,
    MountRequest,
    from_json,
    to_json,
)
from cais.runtime.seccomp import DEFAULT_PROFILE, load_profile, to_oci
from cais.runtime.specgen import capabilities, resolve_user


def _container(**config: object) -> Container:
    base = {"image": "busybox", "image_id": "sha256:" + "0" * 64, "args": ("true",)}
    return Container("c" * 64, "web", 0.0, ContainerConfig(**{**base, **config}))  # type: ignore[arg-type]


def test_model_json_round_trip() -> None:
    c = _container(
        mounts=(MountRequest("bind", "/x", "/y", True),),
        healthcheck=HealthCheck(("CMD", "true"), interval=2.0),
        resources=rs.Resources(memory=1 << 25, pids_limit=10),
    )
    state = ContainerState(
        status="running", pid=10, health=Health("healthy", 0, (HealthResult("a", "b", 0, "ok"),))
    )
    again = from_json(ContainerConfig, json.loads(json.dumps(to_json(c.config))))
    assert again == c.config
    assert from_json(ContainerState, json.loads(json.dumps(to_json(state)))) == state


def test_spec_document() -> None:
    spec = rs.build_spec(
        rs.Spec(
            process=rs.Process(
                args=("sh",),
                env=("A=1",),
                uid=5,
                gid=6,
                additional_gids=(7,),
                rlimits=(("RLIMIT_NOFILE", 1024, 2048),),
            ),
            rootfs="/r",
            hostname="h",
            readonly_rootfs=True,
            namespaces={"network": "/run/netns/x"},
            resources=rs.Resources(
                memory=64 << 20, cpu_quota=50_000, cpu_period=100_000, pids_limit=32
            ),
            cgroups_path="/cais/id",
        )
    )
    assert spec["root"] == {"path": "/r", "readonly": True}
    assert spec["process"]["user"] == {"uid": 5, "gid": 6, "additionalGids": [7]}
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024}]
    linux = spec["linux"]
    assert {"type": "network", "path": "/run/netns/x"} in linux["namespaces"]
    assert {"type": "pid"} in linux["namespaces"]
    assert linux["resources"]["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert linux["resources"]["cpu"] == {"quota": 50_000, "period": 100_000}
    assert linux["resources"]["pids"] == {"limit": 32}
    assert "/proc/kcore" in linux["maskedPaths"]
    host = rs.build_spec(
        rs.Spec(
            process=rs.Process(args=("sh",)),
            rootfs="/r",
            namespaces={"network": "host"},
            privileged=True,
        )
    )
    assert all(ns["type"] != "network" for ns in host["linux"]["namespaces"])
    assert "maskedPaths" not in host["linux"]


def test_capabilities_add_drop_all() -> None:
    assert capabilities(_container()) == rs.DEFAULT_CAPABILITIES
    added = capabilities(_container(cap_add=("CAP_NET_ADMIN",), cap_drop=("CAP_CHOWN",)))
    assert "CAP_NET_ADMIN" in added and "CAP_CHOWN" not in added
    assert capabilities(_container(cap_drop=("ALL",), cap_add=("CAP_KILL",))) == ("CAP_KILL",)


def test_seccomp_conversion_follows_capabilities() -> None:
    profile = load_profile(DEFAULT_PROFILE)
    plain = to_oci(profile, rs.DEFAULT_CAPABILITIES, "amd64")
    admin = to_oci(profile, (*rs.DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"), "amd64")
    assert plain["architectures"][0] == "SCMP_ARCH_X86_64"

    def allowed(doc: dict[str, object], name: str) -> bool:
        return any(name in r["names"] and r["action"] == "SCMP_ACT_ALLOW" for r in doc["syscalls"])  # type: ignore[attr-defined]

    assert allowed(plain, "read")
    assert not allowed(plain, "sethostname") and allowed(admin, "sethostname")
    assert not allowed(plain, "swapoff") and not allowed(admin, "swapoff")


def test_user_lookup(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1000:\nextra:x:2000:app\n")
    assert resolve_user(tmp_path, "") == (0, 0, ())
    assert resolve_user(tmp_path, "app") == (1000, 1000, (2000,))
    assert resolve_user(tmp_path, "app:root") == (1000, 0, (2000,))
    assert resolve_user(tmp_path, "4321:55") == (4321, 55, ())
    import pytest

    from cais.runtime.specgen import UserLookupError

    with pytest.raises(UserLookupError, match="unable to find user ghost"):
        resolve_user(tmp_path, "ghost")
    with pytest.raises(UserLookupError, match="unable to find group nogroup"):
        resolve_user(tmp_path, "app:nogroup")


def test_health_rules() -> None:
    check = HealthCheck(("CMD", "x"), retries=2, start_period=60)
    started = ContainerState(
        status="running", started_at=__import__("time").time(), health=Health()
    )
    fail = HealthResult("a", "b", 1, "no")
    ok = HealthResult("a", "b", 0, "yes")
    # failures during the start period do not count
    h = next_health(check, started, fail)
    assert (h.status, h.failing_streak) == ("starting", 0)
    h = next_health(check, started, ok)
    assert (h.status, h.failing_streak) == ("healthy", 0)
    late = ContainerState(status="running", started_at=0.0, health=Health("healthy", 0, ()))
    h1 = next_health(check, late, fail)
    assert (h1.status, h1.failing_streak) == ("healthy", 1)
    h2 = next_health(check, ContainerState(status="running", started_at=0.0, health=h1), fail)
    assert (h2.status, h2.failing_streak) == ("unhealthy", 2)
    many = Health("healthy", 0, tuple(ok for _ in range(5)))
    assert len(next_health(check, ContainerState(health=many), ok).log) == 5


def test_log_lines(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes(
        b"2024-01-01T00:00:00.000000001+00:00 stdout F one\n"
        b"2024-01-01T00:00:01.5+00:00 stderr F two\n"
        b"2024-01-01T00:00:02+00:00 stdout P par\n"
        b"2024-01-01T00:00:02+00:00 stdout F tial\n"
    )
    lines = read(log)
    assert [(x.stream, x.text, x.partial) for x in lines] == [
        ("stdout", b"one", False),
        ("stderr", b"two", False),
        ("stdout", b"par", True),
        ("stdout", b"tial", False),
    ]
    assert [x.text for x in read(log, tail=2)] == [b"par", b"tial"]
    assert read(log, tail=0) == []
    since = parse_since("2024-01-01T00:00:01Z")
    assert [x.text for x in read(log, since=since)] == [b"two", b"par", b"tial"]
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_line(b"garbage") is None
