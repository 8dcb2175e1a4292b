"""What a container definition asks for is what the container gets (seen from the host)."""

from __future__ import annotations

from pathlib import Path

from agent_helpers import AgentProcesses, container, states_of

from cais.agent import protocol as p
from cais.engine import Engine
from cais.runtime import logs
from ecs_fake_control_plane import FakeControlPlane, task_spec

CAP_NET_ADMIN = 12


def _limits(pid: int) -> dict[str, tuple[str, str]]:
    out = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        words = line.split()
        if line.startswith("Max open files"):
            out["nofile"] = (words[3], words[4])
        if line.startswith("Max processes"):
            out["nproc"] = (words[2], words[3])
    return out


def test_definition_options_reach_the_container(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses, tmp_path: Path
) -> None:
    agents.start()
    shared = tmp_path / "shared-host-dir"
    shared.mkdir()
    (shared / "from-host.txt").write_text("host file\n")
    script = (
        "touch /probe 2>/dev/null && echo rw || echo ro; id -u; pwd; echo $GREETING; "
        "cat /host/from-host.txt; grep -o ' /scratch ' /proc/mounts; "
        "exec sleep 600"
    )
    app = container(
        "app",
        command=("sh", "-c", script),
        environment={"GREETING": "hello-env"},
        working_directory="/tmp",
        user="65534",
        cpu=256,
        memory=64,
        ulimits=(("nofile", 1024, 2048), ("nproc", 500, 600)),
        cap_add=("NET_ADMIN",),
        init_process_enabled=True,
        readonly_root_filesystem=True,
        docker_labels={"team": "blue"},
        mount_points=(
            p.MountPoint("host", "/host", read_only=True),
            p.MountPoint("scratch", "/scratch"),
            p.MountPoint("cache", "/cache"),
        ),
        stop_timeout=2,
    )
    spec = control_plane.run_task(
        task_spec(
            "opts",
            [app],
            volumes=(
                p.Volume("host", host_path=str(shared)),
                p.Volume("scratch"),
                p.Volume("cache", scope="shared", autoprovision=True),
            ),
        )
    )
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    cid = states_of(running)["app"].runtime_id
    ctr = engine.container_store.get(cid)
    pid = ctr.state.pid
    assert ctr.config.labels["team"] == "blue"
    lines = control_plane.wait_for(
        lambda: (
            (found := [x.text.decode() for x in logs.read(engine.containers.log_path(cid))])
            and len(found) >= 6
            and found
        ),
        what="the container's output",
    )
    assert lines[:6] == ["ro", "65534", "/tmp", "hello-env", "host file", " /scratch "]
    assert _limits(pid) == {"nofile": ("1024", "2048"), "nproc": ("500", "600")}
    status = Path(f"/proc/{pid}/status").read_text()
    cap_bnd = int(next(x for x in status.splitlines() if x.startswith("CapBnd:")).split()[1], 16)
    assert cap_bnd & (1 << CAP_NET_ADMIN)  # a non-root user has it to gain, as in Docker
    assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/run/cais-init\0")
    cgroup = engine.settings.cgroup_of(cid).lstrip("/")
    memory = Path("/sys/fs/cgroup/memory", cgroup, "memory.limit_in_bytes").read_text()
    assert int(memory) == 64 << 20
    assert Path("/sys/fs/cgroup/cpu", cgroup, "cpu.shares").read_text().strip() == "256"
    scratch = next(m.source for m in ctr.config.mounts if m.target == "/scratch")
    assert scratch.startswith("ecs-opts-1-scratch-")
    assert engine.volumes.find(scratch) is not None

    control_plane.stop_task(spec.task_arn)
    control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    assert engine.volumes.find(scratch) is None  # task scope: gone with the task
    assert engine.volumes.find("cache") is not None  # shared scope: kept
    assert (shared / "from-host.txt").exists()
