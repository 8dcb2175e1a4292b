"""``cais agent`` against a fake control plane: real tasks, real containers."""

from __future__ import annotations

import os
import time
import urllib.request

from agent_helpers import AgentProcesses, container, states_of, statuses

from cais.agent import protocol as p
from cais.engine import Engine
from ecs_fake_control_plane import FakeControlPlane, task_spec


def test_healthy_dependency_starts_first_and_the_task_runs(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    db = container(
        "db",
        command=("sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 600"),
        health_check=p.HealthCheck(("CMD-SHELL", "test -f /tmp/ready"), interval=1, retries=2),
        stop_timeout=2,
    )
    web = container(
        "web",
        command=("sleep", "600"),
        depends_on=(p.Dependency("db", "HEALTHY"),),
        stop_timeout=2,
    )
    spec = control_plane.run_task(task_spec("deps", [web, db]))
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    by_name = {c.name: c for c in running.containers}
    assert by_name["db"].health_status == "HEALTHY"
    assert by_name["web"].last_status == "RUNNING"
    # web was started only after db was reported healthy
    history = control_plane.states(spec.task_arn)
    healthy_at = next(
        i for i, s in enumerate(history) if states_of(s)["db"].health_status == "HEALTHY"
    )
    web_at = next(i for i, s in enumerate(history) if states_of(s)["web"].last_status == "RUNNING")
    assert healthy_at <= web_at
    assert [s for s in statuses(history) if s != "RUNNING"] == [
        "PROVISIONING",
        "PENDING",
        "ACTIVATING",
    ]
    assert running.pull_started_at and running.pull_stopped_at and running.started_at
    assert running.pull_started_at <= running.pull_stopped_at <= running.started_at
    # the engine's containers carry ECS's names and labels
    web_ctr = engine.container_store.get(by_name["web"].runtime_id)
    assert web_ctr.name.startswith("ecs-deps-1-web-")
    assert web_ctr.config.labels["com.amazonaws.ecs.task-arn"] == spec.task_arn
    assert web_ctr.config.labels["com.amazonaws.ecs.container-name"] == "web"
    assert web_ctr.config.labels["com.amazonaws.ecs.task-definition-family"] == "deps"
    assert web_ctr.config.labels["com.amazonaws.ecs.task-definition-version"] == "1"
    assert engine.containers.refresh(web_ctr).state.status == "running"


def test_essential_exit_stops_the_task(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    main = container("main", command=("sh", "-c", "sleep 1; exit 3"))
    side = container("side", command=("sleep", "600"), stop_timeout=1)
    spec = control_plane.run_task(task_spec("essential", [main, side]))
    stopped = control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    assert stopped.stop_code == "EssentialContainerExited"
    assert stopped.stopped_reason == "Essential container in task exited"
    by_name = states_of(stopped)
    assert by_name["main"].exit_code == 3
    assert by_name["side"].last_status == "STOPPED"
    assert statuses(control_plane.states(spec.task_arn))[-4:] == [
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
    ]
    assert stopped.execution_stopped_at is not None
    assert engine.container_store.find(by_name["side"].runtime_id) is None  # cleaned up


def test_non_essential_exit_leaves_the_task_running(
    control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    helper = container("helper", essential=False, command=("sh", "-c", "exit 0"))
    main = container("main", command=("sleep", "600"), stop_timeout=1)
    spec = control_plane.run_task(task_spec("nonessential", [helper, main]))

    def helper_done() -> p.TaskState | None:
        state = control_plane.latest(spec.task_arn)
        if state and states_of(state)["helper"].last_status == "STOPPED":
            return state
        return None

    state = control_plane.wait_for(helper_done, timeout=60)
    assert states_of(state)["helper"].exit_code == 0
    time.sleep(1.5)
    latest = control_plane.latest(spec.task_arn)
    assert latest is not None and latest.last_status == "RUNNING"
    assert states_of(latest)["main"].last_status == "RUNNING"


def test_stop_task_stops_in_reverse_order_and_kills_what_ignores_sigterm(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    db = container(
        "db", command=("sh", "-c", "trap '' TERM; while :; do sleep 1; done"), stop_timeout=2
    )
    web = container(
        "web",
        command=("sleep", "600"),
        depends_on=(p.Dependency("db", "START"),),
        init_process_enabled=True,  # tini forwards SIGTERM: sleep ends at once
        stop_timeout=10,
    )
    spec = control_plane.run_task(task_spec("stopper", [db, web]))
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    ids = {c.name: c.runtime_id for c in running.containers}
    asked = time.monotonic()
    control_plane.stop_task(spec.task_arn, "Task stopped by the test")
    stopped = control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    took = time.monotonic() - asked
    assert 2.0 <= took < 10.0, took  # db's 2 s stop timeout, then SIGKILL; web quick
    history = control_plane.states(spec.task_arn)
    web_stopped = next(
        i for i, s in enumerate(history) if states_of(s)["web"].last_status == "STOPPED"
    )
    db_stopped = next(
        i for i, s in enumerate(history) if states_of(s)["db"].last_status == "STOPPED"
    )
    assert web_stopped < db_stopped  # reverse of the start order
    by_name = states_of(stopped)
    assert by_name["db"].exit_code == 137  # SIGKILL after the stop timeout
    assert by_name["web"].exit_code == 143  # SIGTERM ended it
    assert stopped.stopped_reason == "Task stopped by the test"
    assert statuses(history)[-4:] == ["DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]
    for cid in ids.values():
        assert engine.container_store.find(cid) is None


def test_bridge_dynamic_host_port_answers_and_is_reported(
    control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    web = container(
        "web",
        command=("sh", "-c", "echo hello-from-task > /tmp/index.html; exec httpd -f -p 80 -h /tmp"),
        port_mappings=(p.PortMapping(80, 0, "tcp"),),
        stop_timeout=1,
    )
    spec = control_plane.run_task(task_spec("bridge", [web]))
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    bindings = states_of(running)["web"].network_bindings
    assert len(bindings) == 1
    binding = bindings[0]
    assert binding.container_port == 80 and binding.protocol == "tcp"
    assert binding.host_port > 0
    body = _get(f"http://127.0.0.1:{binding.host_port}/index.html")
    assert body.strip() == "hello-from-task"


def test_awsvpc_containers_share_one_namespace_and_address(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    web = container(
        "web",
        command=("sh", "-c", "echo awsvpc-ok > /tmp/index.html; exec httpd -f -p 80 -h /tmp"),
        port_mappings=(p.PortMapping(80, 80, "tcp"),),
        stop_timeout=1,
    )
    probe = container(
        "probe",
        # reaches web over the loopback of the shared namespace
        command=("sh", "-c", "sleep 1; wget -qO /tmp/got http://127.0.0.1/; exec sleep 600"),
        depends_on=(p.Dependency("web", "START"),),
        stop_timeout=1,
    )
    spec = control_plane.run_task(task_spec("vpc", [web, probe], network_mode="awsvpc"))
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    assert running.private_ipv4
    ids = [c.runtime_id for c in running.containers]
    namespaces = set()
    for cid in ids:
        ctr = engine.container_store.get(cid)
        assert ctr.config.network.startswith("container:")
        namespaces.add(os.readlink(f"/proc/{ctr.state.pid}/ns/net"))
    assert len(namespaces) == 1
    assert namespaces != {os.readlink("/proc/self/ns/net")}
    assert _get(f"http://{running.private_ipv4}/index.html").strip() == "awsvpc-ok"
    control_plane.stop_task(spec.task_arn)
    control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    labels = [c.config.labels for c in engine.container_store.all()]
    assert not any(lb.get("com.amazonaws.ecs.task-arn") == spec.task_arn for lb in labels)


def test_awslogs_events_arrive_with_the_output(
    control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    logged = p.ContainerSpec(
        name="app",
        image="busybox",
        command=("sh", "-c", "echo first line; echo second line >&2; exec sleep 600"),
        stop_timeout=1,
        log_configuration=p.LogConfiguration(
            "awslogs",
            {
                "awslogs-group": "/ecs/agent-test",
                "awslogs-stream-prefix": "web",
                "awslogs-region": "us-east-1",
                "awslogs-create-group": "true",
            },
        ),
    )
    before = time.time()
    spec = control_plane.run_task(task_spec("logs", [logged]))
    task_id = spec.task_arn.rsplit("/", 1)[1]
    stream = f"web/app/{task_id}"
    messages = control_plane.wait_for(
        lambda: (m := control_plane.log_messages("/ecs/agent-test", stream)) and len(m) >= 2 and m,
        timeout=60,
        what="log events",
    )
    assert sorted(messages) == ["first line", "second line"]
    batch = control_plane.logs[0]
    assert batch.create_group and batch.region == "us-east-1"
    for event in batch.events:
        assert before - 1 <= event.timestamp_ms / 1000 <= time.time()


def test_awslogs_to_a_missing_group_fails_the_task(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    """Without ``awslogs-create-group`` the agent asks the control plane first, as ECS's
    awslogs driver fails a container whose group does not exist."""
    agents.start()
    control_plane.missing_log_groups.add("/ecs/nowhere")
    logged = p.ContainerSpec(
        name="app",
        image="busybox",
        command=("sleep", "600"),
        log_configuration=p.LogConfiguration(
            "awslogs", {"awslogs-group": "/ecs/nowhere", "awslogs-region": "us-east-1"}
        ),
    )
    spec = control_plane.run_task(task_spec("nolog", [logged]))
    stopped = control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    assert stopped.stop_code == "TaskFailedToStart"
    assert stopped.stopped_reason.startswith("CannotStartContainerError: ")
    assert stopped.stopped_reason.endswith("The specified log group does not exist: /ecs/nowhere")
    assert states_of(stopped)["app"].runtime_id == ""  # never made
    labels = [c.config.labels for c in engine.container_store.all()]
    assert not any(lb.get("com.amazonaws.ecs.task-arn") == spec.task_arn for lb in labels)


def test_an_image_that_cannot_be_pulled_fails_the_task(
    control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    image = "127.0.0.1:9/nowhere/missing:1.0"
    bad = p.ContainerSpec(name="bad", image=image)
    spec = control_plane.run_task(task_spec("nopull", [bad]))
    stopped = control_plane.wait_status(spec.task_arn, "STOPPED", timeout=90)
    assert stopped.stop_code == "TaskFailedToStart"
    assert image in stopped.stopped_reason
    assert stopped.stopped_reason.startswith("CannotPullContainerError")
    assert image in states_of(stopped)["bad"].reason


def _get(url: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
