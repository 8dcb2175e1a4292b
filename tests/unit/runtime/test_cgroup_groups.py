"""Task groups over fake cgroup trees: the limits land where the kernel reads them."""

from __future__ import annotations

from pathlib import Path

from cais.runtime.cgroupgroups import create_group, quota_us, remove_group


def v1_tree(root: Path) -> Path:
    for controller in ("memory", "cpu", "pids"):
        (root / controller).mkdir(parents=True)
        (root / controller / "cgroup.procs").write_text("")
    return root


def v2_tree(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_cpu_units_become_a_cfs_quota() -> None:
    assert quota_us(1024) == 100_000
    assert quota_us(256) == 25_000
    assert quota_us(1) == 1000  # the kernel's minimum


def test_v1_limits_in_the_memory_and_cpu_hierarchies(tmp_path: Path) -> None:
    root = v1_tree(tmp_path / "cg")
    create_group("cais/ecs-task-1", cpu_units=512, memory_bytes=64 << 20, root=root)
    assert (root / "memory/cais/ecs-task-1/memory.limit_in_bytes").read_text() == str(64 << 20)
    assert (root / "cpu/cais/ecs-task-1/cpu.cfs_quota_us").read_text() == "50000"
    assert (root / "cpu/cais/ecs-task-1/cpu.cfs_period_us").read_text() == "100000"
    # the runtime makes the group in other hierarchies too (pids here): all of it goes
    (root / "pids/cais/ecs-task-1/leftover").mkdir(parents=True)
    for path in root.rglob("ecs-task-1/*"):
        if path.is_file():
            path.unlink()  # a real cgroup directory's files vanish with it
    remove_group("cais/ecs-task-1", root=root)
    assert not list(root.rglob("ecs-task-1"))


def test_v2_limits_with_the_controllers_delegated_down_the_tree(tmp_path: Path) -> None:
    root = v2_tree(tmp_path / "cg")
    (root / "cais").mkdir()
    (root / "cais" / "cgroup.subtree_control").write_text("")
    create_group("cais/ecs-task-2", cpu_units=2048, memory_bytes=1 << 30, root=root)
    group = root / "cais" / "ecs-task-2"
    assert (group / "memory.max").read_text() == str(1 << 30)
    assert (group / "cpu.max").read_text() == "200000 100000"
    # a fake file keeps only the last write; the kernel's accumulates "+cpu", "+memory"
    assert (root / "cgroup.subtree_control").read_text() in ("+cpu", "+memory")
    assert (root / "cais" / "cgroup.subtree_control").read_text() in ("+cpu", "+memory")


def test_only_the_limits_asked_for_are_set(tmp_path: Path) -> None:
    root = v1_tree(tmp_path / "cg")
    create_group("cais/ecs-task-3", cpu_units=None, memory_bytes=32 << 20, root=root)
    assert (root / "memory/cais/ecs-task-3/memory.limit_in_bytes").exists()
    assert not (root / "cpu/cais/ecs-task-3").exists()
