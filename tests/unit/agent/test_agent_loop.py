"""The agent loop with an in-memory control plane; the agent's state; this machine."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from agent_fakes import FakeEngine, MemoryControlPlane, until

from cais.agent import protocol as p
from cais.agent.agent import Agent, AgentOptions
from cais.agent.client import ControlPlaneError
from cais.agent.machine import attributes, listening_ports, parse_attribute
from cais.agent.model import TaskRecord
from cais.agent.state import AgentState
from cais.errors import ConflictError
from cais.state.sqlite import Database
from ecs_fake_control_plane import task_spec


def _agent(tmp_path: Path, cp: MemoryControlPlane, engine: FakeEngine) -> Agent:
    async def run(fn: object, *args: object) -> object:
        return fn(*args)  # type: ignore[operator]

    state = AgentState(tmp_path, Database(tmp_path / "cais.db"))
    return Agent(
        control_plane=cp,
        engine=engine,
        state=state,
        run=run,
        options=AgentOptions(
            token="t", availability_zone="az-1", watch_interval=0.01, poll_wait=0.01
        ),
        machine=lambda: p.Resources(cpu=2048, memory=1000),
    )


def test_the_agent_registers_runs_reports_and_forgets_stopped_tasks(tmp_path: Path) -> None:
    cp = MemoryControlPlane()
    engine = FakeEngine()
    agent = _agent(tmp_path, cp, engine)
    spec = task_spec("t", [p.ContainerSpec(name="web", image="busybox")])

    async def scenario() -> None:
        stop = asyncio.Event()
        job = asyncio.create_task(agent.run(stop))
        await until(lambda: cp.registrations)
        cp.tasks.append(spec)
        await until(lambda: any(r.last_status == "RUNNING" for r in cp.reports))
        cp.expired = True  # the control plane restarted: 401 → register again
        await until(lambda: len(cp.registrations) == 2)
        stopped = p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"})
        cp.tasks.append(stopped)
        await until(lambda: any(r.last_status == "STOPPED" for r in cp.reports))
        await until(lambda: not agent.supervisors)
        # finished: known as STOPPED, so a control plane hears of it once; said again,
        # the stop changes nothing
        assert agent.known() == {spec.task_arn: "STOPPED"}
        reports = len(cp.reports)
        cp.tasks.append(stopped)
        await until(lambda: not cp.tasks)
        await asyncio.sleep(0.05)
        assert len(cp.reports) == reports
        # a task stopped before it ever got here is reported STOPPED, nothing started
        never = task_spec("t", [p.ContainerSpec(name="x", image="busybox")])
        cp.tasks.append(
            p.TaskSpec(**{**never.__dict__, "desired_status": "STOPPED", "stop_reason": "r"})
        )
        await until(lambda: any(r.task_arn == never.task_arn for r in cp.reports))
        assert agent.known()[never.task_arn] == "STOPPED"
        stop.set()
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    first, second = cp.registrations
    assert first.instance_id == second.instance_id != ""
    assert {a.name: a.value for a in first.attributes}["ecs.availability-zone"] == "az-1"
    assert first.resources == p.Resources(cpu=2048, memory=1000)
    # after the re-registration the agent said again what it knows
    again = [r for r in cp.reports if r.last_status == "RUNNING"]
    assert len(again) >= 2
    late = next(r for r in cp.reports if r.task_arn != spec.task_arn)
    assert (late.last_status, late.stopped_reason) == ("STOPPED", "r")
    assert [c.last_status for c in late.containers] == ["STOPPED"]
    assert ("create", "x") not in engine.calls
    state = AgentState(tmp_path, Database(tmp_path / "cais.db"))
    assert {r.known for _, r in state.load()} == {"STOPPED"}  # kept for FINISHED_TTL
    assert state.prune(before=time.time() + 1) == 2
    assert state.load() == []


def test_a_restarted_agent_adopts_the_tasks_of_its_table(tmp_path: Path) -> None:
    cp = MemoryControlPlane()
    engine = FakeEngine()
    spec = task_spec("t", [p.ContainerSpec(name="web", image="busybox")])
    db = Database(tmp_path / "cais.db")
    record = TaskRecord.new(spec)
    AgentState(tmp_path, db).save(spec, record)
    agent = _agent(tmp_path, cp, engine)

    async def scenario() -> None:
        stop = asyncio.Event()
        job = asyncio.create_task(agent.run(stop))
        await until(lambda: any(r.last_status == "RUNNING" for r in cp.reports))
        assert agent.known() == {spec.task_arn: "RUNNING"}
        stop.set()
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    assert engine.views  # it went on with the task it found


def test_a_refused_first_registration_ends_the_agent(tmp_path: Path) -> None:
    class Refusing(MemoryControlPlane):
        async def register(self, request: p.RegisterRequest) -> p.RegisterResponse:
            raise ControlPlaneError("register: the join token is not valid", status=401)

    agent = _agent(tmp_path, Refusing(), FakeEngine())
    with pytest.raises(ControlPlaneError, match="join token"):
        asyncio.run(agent.run(asyncio.Event()))


def test_identity_is_stable_and_one_agent_holds_a_root(tmp_path: Path) -> None:
    state = AgentState(tmp_path, Database(tmp_path / "cais.db"))
    first = state.identity()
    assert first.instance_id.startswith("i-")
    assert AgentState(tmp_path, Database(tmp_path / "cais.db")).identity() == first
    state.lock()
    try:
        with pytest.raises(ConflictError, match="another agent"):
            AgentState(tmp_path, Database(tmp_path / "cais.db")).lock()
    finally:
        state.unlock()


def test_records_survive_a_round_trip(tmp_path: Path) -> None:
    spec = task_spec(
        "t",
        [
            p.ContainerSpec(
                name="web",
                image="busybox",
                ulimits=(("nofile", 1, 2),),
                health_check=p.HealthCheck(("CMD", "true")),
                port_mappings=(p.PortMapping(80),),
            )
        ],
        volumes=(p.Volume("v"),),
    )
    record = TaskRecord.new(spec)
    record = record.with_container(
        record.container("web").__class__(
            "web", "id", "RUNNING", bindings=(p.NetworkBinding(80, 3000),), log_offset=9
        )
    )
    state = AgentState(tmp_path, Database(tmp_path / "cais.db"))
    state.save(spec, record)
    assert state.load() == [(spec, record)]


def test_machine_attributes_and_ports(tmp_path: Path) -> None:
    found = {
        a.name: a.value
        for a in attributes(
            instance_type="m5.large", extra=(parse_attribute("stack=blue"), parse_attribute("gpu"))
        )
    }
    assert found["ecs.instance-type"] == "m5.large"
    assert found["ecs.os-type"] == "linux"
    assert found["stack"] == "blue" and found["gpu"] is None
    assert "ecs.capability.task-eni" in found
    with pytest.raises(ValueError):
        parse_attribute("=x")
    header = "  sl  local_address rem_address   st\n"
    (tmp_path / "tcp").write_text(
        header
        + "   0: 00000000:0016 00000000:0000 0A 0 0\n"  # 22 listening
        + "   1: 0100007F:1F90 0100007F:C350 01 0 0\n"  # 8080 established: not in use
    )
    (tmp_path / "udp").write_text(header + "   0: 00000000:0035 00000000:0000 07 0 0\n")
    assert listening_ports(tmp_path) == ((22,), (53,))


def test_a_control_plane_that_repeats_itself_does_not_make_a_hot_poll_loop(
    tmp_path: Path,
) -> None:
    spec = task_spec("t", [p.ContainerSpec(name="web", image="busybox")])

    class Repeating(MemoryControlPlane):
        polls = 0

        async def poll(self, session: str, request: p.PollRequest) -> p.PollResponse:
            self._check(session)
            self.polls += 1
            await asyncio.sleep(0)
            return p.PollResponse((spec,))  # the same task, every time, at once

    cp = Repeating()
    agent = _agent(tmp_path, cp, FakeEngine())

    async def scenario() -> int:
        stop = asyncio.Event()
        job = asyncio.create_task(agent.run(stop))
        await until(lambda: agent.known().get(spec.task_arn) == "RUNNING")
        before = cp.polls
        await asyncio.sleep(0.6)
        stop.set()
        await asyncio.wait_for(job, 5)
        return cp.polls - before

    assert asyncio.run(scenario()) <= 3
