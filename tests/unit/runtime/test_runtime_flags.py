from __future__ import annotations

import os

import pytest

from cais.errors import InvalidArgumentError
from cais.runtime import flags
from cais.runtime.model import MountRequest, RestartPolicy
from helpers import Cli


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("32m", 32 << 20),
        ("1g", 1 << 30),
        ("512k", 512 << 10),
        ("1048576", 1 << 20),
        ("1.5g", 3 << 29),
        ("64MB", 64 << 20),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert flags.parse_bytes(text, "-m") == size


@pytest.mark.parametrize("bad", ["abc", "-1m", "12q", ""])
def test_bad_sizes(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid argument"):
        flags.parse_bytes(bad, "-m, --memory")


def test_memory_minimum() -> None:
    with pytest.raises(InvalidArgumentError, match="Minimum memory limit allowed is 6MB"):
        flags.parse_memory("4m")


def test_cpus() -> None:
    assert flags.parse_cpus("1.5", available=4) == (150_000, 100_000)
    assert flags.parse_cpus("0", available=4) is None  # no limit, as Docker
    with pytest.raises(InvalidArgumentError, match='"x" for "--cpus" flag'):
        flags.parse_cpus("x")


@pytest.mark.parametrize("value", ["4.01", "16", "-1", "0.001"])
def test_cpus_beyond_the_host_are_refused(value: str) -> None:
    message = "Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"
    with pytest.raises(InvalidArgumentError) as info:
        flags.parse_cpus(value, available=4)
    assert str(info.value) == message


def test_run_refuses_more_cpus_than_the_host_has(cli: Cli) -> None:
    count = len(os.sched_getaffinity(0))
    result = cli("run", "--cpus", str(count + 1), "busybox", "true", check=False)
    assert result.code == 125
    assert (
        f"Range of CPUs is from 0.01 to {count}.00, as there are only {count} CPUs available"
        in result.err
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("10", 10)]
)
def test_durations(text: str, seconds: float) -> None:
    assert flags.parse_duration(text, "--health-interval") == seconds


def test_bad_duration() -> None:
    with pytest.raises(InvalidArgumentError, match='invalid duration "5x"'):
        flags.parse_duration("5x", "--health-interval")


def test_restart_policies() -> None:
    assert flags.parse_restart("on-failure:5") == RestartPolicy("on-failure", 5)
    assert flags.parse_restart("always") == RestartPolicy("always")
    for bad, needle in (
        ("sometimes", "invalid restart policy"),
        ("always:3", "cannot be used"),
        ("on-failure:x", "integer"),
    ):
        with pytest.raises(InvalidArgumentError, match=needle):
            flags.parse_restart(bad)


def test_signals() -> None:
    assert flags.parse_signal("TERM") == "SIGTERM"
    assert flags.parse_signal("9") == "SIGKILL"
    assert flags.parse_signal("sigusr1") == "SIGUSR1"
    with pytest.raises(InvalidArgumentError):
        flags.parse_signal("SIGNOPE")


def test_env_and_env_files(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    monkeypatch.setenv("FROM_HOST", "yes")
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=1\n\nFROM_HOST\nB=two words\n")
    out = flags.parse_env(["C=3", "FROM_HOST", "UNSET_ONE"], [str(env_file)])
    assert out == ["A=1", "FROM_HOST=yes", "B=two words", "C=3", "FROM_HOST=yes"]
    assert flags.merge_env(("PATH=/bin", "A=0"), ["A=1", "B=2"]) == ("PATH=/bin", "A=1", "B=2")
    bad = tmp_path / "bad"
    bad.write_text("BAD KEY=1\n")
    with pytest.raises(InvalidArgumentError, match=":1: invalid variable name"):
        flags.parse_env([], [str(bad)])


def test_volumes_and_mounts() -> None:
    assert flags.parse_volume("/host:/ctr:ro") == MountRequest("bind", "/ctr", "/host", True)
    assert flags.parse_volume("data:/data") == MountRequest("volume", "/data", "data", False)
    assert flags.parse_volume("/anon") == MountRequest("volume", "/anon", anonymous=True)
    assert flags.parse_mount("type=tmpfs,target=/t,tmpfs-size=1m").options == (f"size={1 << 20}",)
    assert flags.parse_mount("type=bind,src=/a,dst=/b,readonly") == MountRequest(
        "bind", "/b", "/a", True
    )
    for bad, needle in (
        ("a:b", "not an absolute path"),
        ("/a:/b:zz", "invalid mode"),
        ("bad$name:/x", "invalid characters"),
        ("/x:/", "cannot mount over"),
    ):
        with pytest.raises(InvalidArgumentError, match=needle):
            flags.parse_volume(bad)
    with pytest.raises(InvalidArgumentError, match="invalid mount type"):
        flags.parse_mount("type=nfs,target=/x")


def test_security_options_and_capabilities() -> None:
    assert flags.parse_security_opts(["no-new-privileges"]) == (True, "")
    assert flags.parse_security_opts(["no-new-privileges:false", "seccomp=unconfined"]) == (
        False,
        "unconfined",
    )
    assert flags.parse_capabilities(["net_admin", "CAP_SYS_TIME,chown"]) == (
        "CAP_NET_ADMIN",
        "CAP_SYS_TIME",
        "CAP_CHOWN",
    )
    with pytest.raises(InvalidArgumentError, match="unknown capability"):
        flags.parse_capabilities(["FLY"])
    assert flags.check_container_name("/web-1") == "web-1"
    with pytest.raises(InvalidArgumentError, match="Invalid container name"):
        flags.check_container_name("x")
