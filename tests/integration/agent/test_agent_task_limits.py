"""Task-level cpu and memory: one cgroup holds the task's containers and bounds them together."""

from __future__ import annotations

from pathlib import Path

from agent_helpers import AgentProcesses, container

from cais.engine import Engine
from ecs_fake_control_plane import FakeControlPlane, task_spec

CGROUP = Path("/sys/fs/cgroup")


def test_task_limits_bound_all_its_containers_in_one_group(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    web = container("web", command=("sleep", "600"), stop_timeout=1)
    side = container("side", command=("sleep", "600"), stop_timeout=1, essential=False)
    spec = control_plane.run_task(task_spec("limited", [web, side], cpu=256, memory=48))
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    group = f"{engine.settings.cgroup_parent.strip('/')}/ecs-task-{spec.task_arn.rsplit('/', 1)[1]}"
    v2 = (CGROUP / "cgroup.controllers").exists()
    if v2:
        assert (CGROUP / group / "memory.max").read_text().strip() == str(48 << 20)
        assert (CGROUP / group / "cpu.max").read_text().split() == ["25000", "100000"]
    else:
        limit = (CGROUP / "memory" / group / "memory.limit_in_bytes").read_text().strip()
        assert limit == str(48 << 20)
        assert (CGROUP / "cpu" / group / "cpu.cfs_quota_us").read_text().strip() == "25000"
    # each container's process is inside the group, with no limit of its own
    for state in running.containers:
        ctr = engine.container_store.get(state.runtime_id)
        assert ctr.config.resources.memory is None
        lines = Path(f"/proc/{ctr.state.pid}/cgroup").read_text().splitlines()
        memory_line = next(x for x in lines if x.split(":")[1] in ("memory", ""))
        assert f"/{group}/" in memory_line
    control_plane.stop_task(spec.task_arn)
    control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    assert not (CGROUP / group).exists() if v2 else not list(CGROUP.glob(f"*/{group}"))
