"""A killed agent loses nothing; a restarted control plane is registered with again."""

from __future__ import annotations

import json
import signal
import time

from agent_helpers import AgentProcesses, container, states_of

from cais.engine import Engine
from ecs_fake_control_plane import FakeControlPlane, task_spec


def test_a_killed_agent_leaves_the_task_running_and_its_successor_adopts_it(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    first = agents.start("--availability-zone", "zone-a", "--attribute", "stack=blue")
    spec = control_plane.run_task(
        task_spec("adopt", [container("app", command=("sleep", "600"), stop_timeout=1)])
    )
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    cid = states_of(running)["app"].runtime_id
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert engine.containers.refresh(engine.container_store.get(cid)).state.status == "running"

    reports_before = len(control_plane.reports)
    agents.start("--availability-zone", "zone-a", "--attribute", "stack=blue")
    control_plane.wait_for(lambda: len(control_plane.registrations) == 2, what="re-registration")
    one, two = control_plane.registrations
    assert one.instance_id and one.instance_id == two.instance_id
    attributes = {a.name: a.value for a in two.attributes}
    assert attributes["ecs.availability-zone"] == "zone-a"
    assert attributes["stack"] == "blue"
    assert attributes["ecs.os-type"] == "linux"
    assert two.resources.cpu % 1024 == 0 and two.resources.cpu > 0
    assert two.resources.memory > 0

    # the new agent reports the adopted task as it is, with the same container
    adopted = control_plane.wait_for(
        lambda: [s for s in control_plane.reports[reports_before:] if s.task_arn == spec.task_arn],
        what="a report after the restart",
    )[0]
    assert adopted.last_status == "RUNNING"
    assert states_of(adopted)["app"].runtime_id == cid
    assert len([c for c in engine.container_store.all() if c.name.startswith("ecs-adopt-")]) == 1

    # and it still controls it
    control_plane.stop_task(spec.task_arn)
    stopped = control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    assert states_of(stopped)["app"].runtime_id == cid
    assert engine.container_store.find(cid) is None
    identity = json.loads((engine.settings.root / "agent" / "identity.json").read_text())
    assert identity["instance_id"] == one.instance_id


def test_an_exit_while_no_agent_runs_is_seen_by_the_next_one(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    first = agents.start()
    app = container("app", command=("sleep", "600"), stop_timeout=1)
    spec = control_plane.run_task(task_spec("gone", [app]))
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    cid = states_of(running)["app"].runtime_id
    engine.containers.kill(cid, "SIGKILL")  # the task's essential container dies meanwhile
    agents.start()
    stopped = control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)
    assert stopped.stop_code == "EssentialContainerExited"
    assert states_of(stopped)["app"].exit_code == 137


def test_a_restarted_control_plane_is_registered_with_again(
    control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    agents.start()
    spec = control_plane.run_task(
        task_spec("cprestart", [container("app", command=("sleep", "600"), stop_timeout=1)])
    )
    control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    control_plane.restart(down_for=1.0)
    control_plane.wait_for(
        lambda: len(control_plane.registrations) >= 2, timeout=60, what="re-registration"
    )
    # the re-registered agent hears the stop and carries it out
    control_plane.stop_task(spec.task_arn)
    control_plane.wait_status(spec.task_arn, "STOPPED", timeout=60)


def test_a_wrong_join_token_ends_the_agent_with_an_error(
    control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    proc = agents.start(token="not-the-token")
    assert proc.wait(30) != 0
    assert "join token is not valid" in agents.output()
    assert control_plane.registrations == []


def test_sigterm_stops_the_agent_not_its_tasks(
    engine: Engine, control_plane: FakeControlPlane, agents: AgentProcesses
) -> None:
    proc = agents.start()
    spec = control_plane.run_task(
        task_spec("term", [container("app", command=("sleep", "600"), stop_timeout=1)])
    )
    running = control_plane.wait_status(spec.task_arn, "RUNNING", timeout=60)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert time.monotonic() - started < 10
    cid = states_of(running)["app"].runtime_id
    assert engine.containers.refresh(engine.container_store.get(cid)).state.status == "running"
