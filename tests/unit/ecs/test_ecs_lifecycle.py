"""The task state machine: agents' reports drive it, monotonically and idempotently."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cais.agent import protocol
from cais.ecs.lifecycle import ReportError, apply_report, request_stop, task_health
from cais.ecs.model import Container, Resources, Scope, Task

SCOPE = Scope("000000000000", "us-east-1")


def make_task(*, health_checked: bool = False) -> Task:
    return Task(
        arn="arn:aws:ecs:us-east-1:000000000000:task/default/t1",
        id="t1",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/default",
        scope=SCOPE,
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        family="web",
        revision=1,
        container_instance_arn="arn:aws:ecs:us-east-1:000000000000:container-instance/default/i1",
        group="family:web",
        launch_type="EC2",
        created_at=100.0,
        containers=(
            Container(name="app", arn="c-app", image="busybox", has_health_check=health_checked),
            Container(name="side", arn="c-side", image="busybox", essential=False),
        ),
        reserved=Resources(cpu=256, memory=128),
    )


def state(
    status: str, *containers: protocol.ContainerState, **fields: object
) -> protocol.TaskState:
    return protocol.TaskState(task_arn="t1", last_status=status, containers=containers, **fields)  # type: ignore[arg-type]


def running(name: str, **fields: object) -> protocol.ContainerState:
    return protocol.ContainerState(name=name, last_status="RUNNING", **fields)  # type: ignore[arg-type]


def test_a_task_walks_forward_and_timestamps_are_set_once() -> None:
    task = make_task()
    pending = apply_report(task, state("PENDING", pull_started_at=101.0), now=101.5)
    assert pending.last_status == "PENDING" and pending.pull_started_at == 101.0
    assert pending.version == task.version + 1
    up = apply_report(
        pending,
        state("RUNNING", running("app"), running("side"), pull_stopped_at=102.0, started_at=103.0),
        now=103.5,
    )
    assert up.last_status == "RUNNING" and up.started_at == 103.0
    assert up.pull_started_at == 101.0 and up.pull_stopped_at == 102.0
    assert [c.last_status for c in up.containers] == ["RUNNING", "RUNNING"]
    assert up.connectivity_at == 103.5


def test_the_same_report_twice_changes_nothing() -> None:
    task = apply_report(make_task(), state("RUNNING", running("app")), now=5.0)
    again = apply_report(task, state("RUNNING", running("app")), now=9.0)
    assert again is task


def test_an_older_report_arriving_late_does_not_go_back() -> None:
    task = make_task()
    stopped = apply_report(
        task,
        state(
            "STOPPED",
            protocol.ContainerState(name="app", last_status="STOPPED", exit_code=1),
            stop_code="EssentialContainerExited",
            stopped_reason="Essential container in task exited",
        ),
        now=10.0,
    )
    late = apply_report(stopped, state("RUNNING", running("app", exit_code=None)), now=11.0)
    assert late.last_status == "STOPPED"
    assert late.container("app") is not None and late.container("app").exit_code == 1  # type: ignore[union-attr]
    assert late.container("app").last_status == "STOPPED"  # type: ignore[union-attr]


def test_an_agent_that_stops_a_task_sets_the_desired_status_and_its_stop_code() -> None:
    task = apply_report(make_task(), state("RUNNING", running("app")), now=5.0)
    stopped = apply_report(
        task,
        state(
            "STOPPED",
            protocol.ContainerState(name="app", last_status="STOPPED", exit_code=3),
            stop_code="EssentialContainerExited",
            stopped_reason="Essential container in task exited",
            execution_stopped_at=7.0,
        ),
        now=8.0,
    )
    assert stopped.desired_status == "STOPPED"
    assert stopped.stop_code == "EssentialContainerExited"
    assert stopped.stopped_reason == "Essential container in task exited"
    assert stopped.stopping_at == 8.0 and stopped.stopped_at == 8.0
    assert stopped.execution_stopped_at == 7.0


def test_stop_task_wins_over_the_agents_stop_code() -> None:
    task = apply_report(make_task(), state("RUNNING", running("app")), now=5.0)
    asked = request_stop(task, reason="maintenance", code="UserInitiated", now=6.0)
    assert asked.desired_status == "STOPPED" and asked.stopping_at == 6.0
    assert request_stop(asked, reason="again", code="UserInitiated", now=7.0) is asked
    done = apply_report(asked, state("STOPPED", stop_code="EssentialContainerExited"), now=8.0)
    assert done.stop_code == "UserInitiated" and done.stopped_reason == "maintenance"


def test_network_bindings_and_exit_codes_come_from_the_agent() -> None:
    binding = protocol.NetworkBinding(container_port=80, host_port=32768)
    task = apply_report(
        make_task(), state("RUNNING", running("app", network_bindings=(binding,))), now=1.0
    )
    app = task.container("app")
    assert app is not None and app.network_bindings[0].host_port == 32768
    assert app.exit_code is None


@pytest.mark.parametrize(
    ("health", "expected"),
    [("HEALTHY", "HEALTHY"), ("UNHEALTHY", "UNHEALTHY"), ("UNKNOWN", "UNKNOWN")],
)
def test_task_health_follows_its_essential_checked_containers(health: str, expected: str) -> None:
    task = apply_report(
        make_task(health_checked=True),
        state("RUNNING", running("app", health_status=health), running("side")),
        now=1.0,
    )
    assert task.health_status == expected


def test_no_health_check_means_unknown() -> None:
    task = replace(make_task(), containers=(Container(name="app", arn="a", image="x"),))
    assert task_health(task) == "UNKNOWN"


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ReportError):
        apply_report(make_task(), state("DANCING"), now=1.0)
