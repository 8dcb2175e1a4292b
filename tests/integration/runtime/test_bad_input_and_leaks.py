"""Bad input gets a clear error and leaves nothing behind; many cycles leak nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cais.engine import Engine
from cais.runtime.attach import run_attached
from cais.runtime.configure import RunOptions, configure
from helpers import Cli


def leftovers(engine: Engine) -> dict[str, object]:
    """Mounts, cgroups, runtime state, conmon processes and rows a test may have left."""
    root = str(engine.settings.runroot)
    with open("/proc/self/mountinfo") as fh:
        mounts = [line.split()[4] for line in fh if root in line.split()[4]]
    cgroups = []
    for base in Path("/sys/fs/cgroup").iterdir():
        parent = base / engine.settings.cgroup_parent  # this test's own
        if parent.is_dir():
            cgroups += [p.name for p in parent.iterdir() if p.is_dir()]
    conmons = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"conmon") and root.encode() in b" ".join(cmd):
                conmons.append(pid)
    state_dirs = []
    for name in ("crun", "runc"):
        runtime_root = engine.settings.runroot / "runtime" / name
        if runtime_root.exists():
            state_dirs += os.listdir(runtime_root)
    snapshots = [s.key for s in engine.snapshotter.walk() if s.key.startswith("container-")]
    return {
        "mounts": mounts,
        "cgroups": [c for c in cgroups if len(c) == 64],
        "conmon": conmons,
        "runtime": state_dirs,
        "rows": engine.container_store.all(),
        "snapshots": snapshots,
    }


CLEAN = {"mounts": [], "cgroups": [], "conmon": [], "runtime": [], "rows": [], "snapshots": []}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--pull", "never", "nope:1", "true"], 125, "no such image"),  # no pull from a hub
        (["-m", "abc", "busybox", "true"], 125, 'invalid argument "abc" for "-m, --memory"'),
        (["-m", "1k", "busybox", "true"], 125, "Minimum memory limit allowed is 6MB"),
        (["--cpus", "-1", "busybox", "true"], 125, "Range of CPUs is from 0.01 to"),
        (["--restart", "sometimes", "busybox", "true"], 125, "invalid restart policy"),
        (
            ["-v", "/no/such/host/path:/x", "busybox", "true"],
            125,
            "bind source path does not exist: /no/such/host/path",
        ),
        (["-v", "relative:x", "busybox", "true"], 125, "is not an absolute path"),
        (["--name", "bad name!", "busybox", "true"], 125, "Invalid container name"),
        (["--cap-add", "NOT_A_CAP", "busybox", "true"], 125, "unknown capability"),
        (["-u", "ghost", "busybox", "true"], 126, "unable to find user ghost"),
        (["busybox", "/does/not/exist"], 127, "/does/not/exist"),
        (["--security-opt", "bogus", "busybox", "true"], 125, "invalid --security-opt"),
    ],
)
def test_bad_run_input(ccli: Cli, engine: Engine, args: list[str], code: int, needle: str) -> None:
    result = ccli("run", "--rm", *args, check=False)
    assert result.code == code, result.err
    assert needle in result.err
    assert leftovers(engine) == CLEAN


def test_name_already_in_use(ccli: Cli, engine: Engine) -> None:
    ccli("create", "--name", "taken", "busybox", "true")
    result = ccli("run", "--name", "taken", "busybox", "true", check=False)
    assert result.code == 125
    assert 'The container name "/taken" is already in use' in result.err
    assert [c.name for c in engine.container_store.all()] == ["taken"]
    ccli("rm", "taken")


def test_exec_into_a_stopped_container_and_rm_of_a_running_one(ccli: Cli, engine: Engine) -> None:
    ccli("create", "--name", "idle", "busybox", "sleep", "100")
    result = ccli("exec", "idle", "true", check=False)
    assert result.code == 1 and "is not running" in result.err
    ccli("start", "idle")
    result = ccli("rm", "idle", check=False)
    assert result.code == 1 and "container is running" in result.err
    assert ccli("ps", "-q").out.strip()
    ccli("rm", "-f", "idle")
    assert leftovers(engine) == CLEAN


def test_many_run_rm_cycles_leak_nothing(engine: Engine, busybox: str) -> None:
    image = engine.image_store.resolve("busybox")
    service = engine.containers
    for i in range(200):
        opts = RunOptions(command=("sh", "-c", f"exit {i % 3}"), auto_remove=True, network="none")
        container = service.create(configure(image, "busybox", opts))
        final = run_attached(service, container, stdin=False, sig_proxy=False)
        assert final.state.exit_code == i % 3
    assert leftovers(engine) == CLEAN
