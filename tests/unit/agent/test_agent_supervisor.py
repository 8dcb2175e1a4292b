"""A task supervisor over a fake engine: order, essential rules, stops, reports."""

from __future__ import annotations

import asyncio

from agent_fakes import Harness, until

from cais.agent import protocol as p
from cais.agent.engine import ContainerView
from cais.agent.model import TaskRecord
from cais.agent.supervisor import TaskSupervisor
from cais.errors import CaisError
from ecs_fake_control_plane import task_spec


def c(name: str, **fields: object) -> p.ContainerSpec:
    return p.ContainerSpec(name=name, image=fields.pop("image", "busybox"), **fields)  # type: ignore[arg-type]


def statuses(reports: list[p.TaskState]) -> list[str]:
    out: list[str] = []
    for state in reports:
        if not out or out[-1] != state.last_status:
            out.append(state.last_status)
    return out


def test_containers_start_in_dependency_order_and_the_task_runs() -> None:
    h = Harness()
    spec = task_spec(
        "app",
        [
            c("web", depends_on=(p.Dependency("db", "HEALTHY"),), links=("cache",)),
            c("db", health_check=p.HealthCheck(("CMD", "true"))),
            c("cache"),
        ],
    )

    async def scenario() -> None:
        sup = h.supervisor(spec)
        job = asyncio.create_task(sup.run())
        await until(lambda: ("start", "db") in h.engine.calls)
        await asyncio.sleep(0.05)
        assert ("start", "web") not in h.engine.calls  # db is not healthy yet
        h.engine.set_health("db", "healthy")
        await until(lambda: sup.record.known == "RUNNING")
        starts = [n for kind, n in h.engine.calls if kind == "start"]
        assert starts.index("web") > starts.index("db")
        assert starts.index("web") > starts.index("cache")  # a link implies START
        sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"}))
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    stops = [n for kind, n in h.engine.calls if kind == "stop"]
    assert stops.index("web") < stops.index("db")
    assert stops.index("web") < stops.index("cache")
    assert statuses(h.reports) == [
        "PROVISIONING",
        "PENDING",
        "ACTIVATING",
        "RUNNING",
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
    ]
    running = next(s for s in h.reports if s.last_status == "RUNNING")
    assert {x.name: x.health_status for x in running.containers}["db"] == "HEALTHY"
    assert running.pull_started_at is not None and running.started_at is not None
    final = h.reports[-1]
    assert final.stop_code == ""  # the control plane's stop: it keeps its own code
    assert final.execution_stopped_at is not None
    assert {x.last_status for x in final.containers} == {"STOPPED"}
    assert [k for k, _ in h.engine.calls].count("remove") == 3


def test_an_essential_exit_stops_the_task_and_a_non_essential_one_does_not() -> None:
    h = Harness()
    spec = task_spec("app", [c("main"), c("init", essential=False)])

    async def scenario() -> TaskSupervisor:
        sup = h.supervisor(spec)
        job = asyncio.create_task(sup.run())
        await until(lambda: sup.record.known == "RUNNING")
        h.engine.exit("init", 0)
        await until(lambda: sup.record.container("init").last_status == "STOPPED")
        await asyncio.sleep(0.05)
        assert sup.record.known == "RUNNING"
        assert sup.record.desired == "RUNNING"
        h.engine.exit("main", 2)
        await asyncio.wait_for(job, 5)
        return sup

    sup = asyncio.run(scenario())
    final = h.reports[-1]
    assert final.last_status == "STOPPED"
    assert final.stop_code == "EssentialContainerExited"
    assert final.stopped_reason == "Essential container in task exited"  # ECS's exact words
    by_name = {x.name: x for x in final.containers}
    assert by_name["main"].exit_code == 2 and by_name["init"].exit_code == 0
    assert h.store.saved[spec.task_arn] == sup.record  # written before reported


def test_complete_and_success_dependencies() -> None:
    h = Harness()
    spec = task_spec(
        "app",
        [
            c("migrate", essential=False),
            c("app", depends_on=(p.Dependency("migrate", "SUCCESS"),)),
        ],
    )

    async def scenario() -> None:
        sup = h.supervisor(spec)
        job = asyncio.create_task(sup.run())
        await until(lambda: ("start", "migrate") in h.engine.calls)
        await asyncio.sleep(0.05)
        assert ("start", "app") not in h.engine.calls
        h.engine.exit("migrate", 1)  # SUCCESS can now never be met
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    final = h.reports[-1]
    assert final.stop_code == "TaskFailedToStart"
    assert "app" in final.stopped_reason
    assert ("start", "app") not in h.engine.calls


def test_an_image_that_cannot_be_pulled_fails_the_task_before_anything_runs() -> None:
    h = Harness()
    h.engine.missing_images.add("registry.example/missing:1")
    spec = task_spec("app", [c("ok"), c("bad", image="registry.example/missing:1")])
    asyncio.run(asyncio.wait_for(h.supervisor(spec).run(), 5))
    final = h.reports[-1]
    assert final.last_status == "STOPPED"
    assert final.stop_code == "TaskFailedToStart"
    assert "registry.example/missing:1" in final.stopped_reason
    assert {x.name: x.reason for x in final.containers}["bad"].startswith(
        "CannotPullContainerError"
    )
    assert not [k for k, _ in h.engine.calls if k in ("create", "start")]
    assert final.pull_started_at is not None and final.pull_stopped_at is None


def test_a_start_failure_names_the_container() -> None:
    h = Harness()
    h.engine.fail_start.add("web")
    spec = task_spec("app", [c("web")])
    asyncio.run(asyncio.wait_for(h.supervisor(spec).run(), 5))
    final = h.reports[-1]
    assert final.stop_code == "TaskFailedToStart"
    reason = {x.name: x.reason for x in final.containers}["web"]
    assert reason.startswith("CannotStartContainerError: ")


def test_task_volumes_are_made_and_removed_shared_ones_kept() -> None:
    h = Harness()
    spec = task_spec(
        "app",
        [
            c(
                "web",
                mount_points=(
                    p.MountPoint("scratch", "/scratch"),
                    p.MountPoint("cache", "/cache"),
                    p.MountPoint("host", "/host", read_only=True),
                ),
            )
        ],
        volumes=(
            p.Volume("scratch"),
            p.Volume("cache", scope="shared", autoprovision=True),
            p.Volume("host", host_path="/srv/data"),
        ),
    )
    sup = h.supervisor(spec)

    async def scenario() -> None:
        job = asyncio.create_task(sup.run())
        await until(lambda: sup.record.known == "RUNNING")
        options = h.engine.options[h.engine.by_container("web")]
        mounts = {m.target: m for m in options.mounts}
        assert mounts["/scratch"].type == "volume"
        assert mounts["/scratch"].source.startswith("ecs-app-1-scratch-")
        assert mounts["/cache"].source == "cache"
        assert (mounts["/host"].type, mounts["/host"].source) == ("bind", "/srv/data")
        assert mounts["/host"].readonly
        sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"}))
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    assert h.engine.volumes == {"cache"}


def test_a_shared_volume_is_not_autoprovisioned_by_default() -> None:
    """ECS's autoprovision defaults to false: a shared volume that does not exist fails the
    task before any container is made; one that exists is mounted."""
    h = Harness()
    spec = task_spec(
        "app",
        [c("web", mount_points=(p.MountPoint("cache", "/cache"),))],
        volumes=(p.Volume("cache", scope="shared"),),
    )
    asyncio.run(asyncio.wait_for(h.supervisor(spec).run(), 5))
    final = h.reports[-1]
    assert final.last_status == "STOPPED"
    assert final.stop_code == "TaskFailedToStart"
    assert final.stopped_reason == (
        "CannotCreateVolumeError: volume detection failed, volume 'cache' does not exist "
        "and autoprovision is set to false"
    )
    assert not [call for call in h.engine.calls if call[0] in ("volume", "create")]
    assert h.engine.volumes == set()

    h = Harness()
    h.engine.volumes.add("cache")
    sup = h.supervisor(spec)

    async def scenario() -> None:
        job = asyncio.create_task(sup.run())
        await until(lambda: sup.record.known == "RUNNING")
        mounts = h.engine.options[h.engine.by_container("web")].mounts
        assert [(m.type, m.source, m.target) for m in mounts] == [("volume", "cache", "/cache")]
        sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"}))
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    assert h.engine.volumes == {"cache"}  # a shared volume outlives the task


def test_awsvpc_tasks_join_the_pause_containers_namespace() -> None:
    h = Harness()
    spec = task_spec("vpc", [c("a"), c("b")], network_mode="awsvpc")
    sup = h.supervisor(spec)

    async def scenario() -> None:
        job = asyncio.create_task(sup.run())
        await until(lambda: sup.record.known == "RUNNING")
        for name in ("a", "b"):
            assert h.engine.options[h.engine.by_container(name)].network == "container:" + "f" * 64
        sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"}))
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    assert h.reports[-1].private_ipv4 == "10.90.7.2"
    assert h.engine.calls[0] == ("pause", "ecs-awsvpc")
    assert ("remove", h.engine.names["f" * 64]) in h.engine.calls


def test_an_awsvpc_task_whose_pause_container_dies_stops() -> None:
    h = Harness()
    spec = task_spec("vpc", [c("a")], network_mode="awsvpc")
    sup = h.supervisor(spec)

    async def scenario() -> None:
        job = asyncio.create_task(sup.run())
        await until(lambda: sup.record.known == "RUNNING")
        h.engine.views["f" * 64] = ContainerView("exited", exit_code=137)
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    assert h.reports[-1].stop_code == "EssentialContainerExited"
    assert "~internal~ecs~pause" in h.reports[-1].stopped_reason


def test_an_adopted_running_task_is_watched_not_started_again() -> None:
    h = Harness()
    spec = task_spec("app", [c("web", port_mappings=(p.PortMapping(80),))])
    first = h.supervisor(spec)

    async def run_first() -> TaskRecord:
        job = asyncio.create_task(first.run())
        await until(lambda: first.record.known == "RUNNING")
        job.cancel()  # the agent dies; the container goes on
        return first.record

    record = asyncio.run(run_first())
    assert record.container("web").bindings == (p.NetworkBinding(80, 40000),)
    starts = len([k for k, _ in h.engine.calls if k == "start"])
    h.reports.clear()
    second = TaskSupervisor(spec, record, h.services())

    async def run_second() -> None:
        job = asyncio.create_task(second.run())
        await until(lambda: bool(h.reports))
        h.engine.exit("web", 0)
        await asyncio.wait_for(job, 5)

    asyncio.run(run_second())
    assert h.reports[0].last_status == "RUNNING"  # what it knows, reported at once
    assert len([k for k, _ in h.engine.calls if k == "start"]) == starts
    assert h.reports[-1].stop_code == "EssentialContainerExited"


def test_a_stopped_wish_before_the_start_skips_the_containers() -> None:
    h = Harness()
    spec = task_spec("app", [c("web")])
    sup = h.supervisor(spec)
    sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED", "stop_reason": "no"}))
    asyncio.run(asyncio.wait_for(sup.run(), 5))
    assert statuses(h.reports) == [
        "PROVISIONING",
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
    ]
    assert h.reports[-1].stopped_reason == "no"
    assert not [k for k, _ in h.engine.calls if k in ("pull", "create", "start")]


def awslogs(**options: str) -> p.LogConfiguration:
    return p.LogConfiguration(
        "awslogs", {"awslogs-group": "/ecs/app", "awslogs-region": "eu-west-1", **options}
    )


def test_awslogs_to_a_missing_group_fails_the_task_before_the_container_starts() -> None:
    h = Harness()
    h.missing_log_groups.add("/ecs/app")
    spec = task_spec("app", [c("side"), c("web", log_configuration=awslogs())])
    asyncio.run(asyncio.wait_for(h.supervisor(spec).run(), 5))
    final = h.reports[-1]
    assert final.last_status == "STOPPED"
    assert final.stop_code == "TaskFailedToStart"
    assert final.stopped_reason.startswith("CannotStartContainerError: ")
    assert "The specified log group does not exist: /ecs/app" in final.stopped_reason
    web = next(x for x in final.containers if x.name == "web")
    assert web.last_status == "STOPPED" and web.reason == final.stopped_reason
    assert ("create", "web") not in h.engine.calls
    assert h.asked_log_groups == [("/ecs/app", "eu-west-1")]


def test_awslogs_create_group_true_is_not_checked_and_an_existing_group_runs() -> None:
    for options, asked in (({"awslogs-create-group": "true"}, []), ({}, ["/ecs/app"])):
        h = Harness()
        if options:
            h.missing_log_groups.add("/ecs/app")
        spec = task_spec("app", [c("web", log_configuration=awslogs(**options))])
        sup = h.supervisor(spec)

        async def scenario(sup: TaskSupervisor = sup, spec: p.TaskSpec = spec) -> None:
            job = asyncio.create_task(sup.run())
            await until(lambda: sup.record.known == "RUNNING")
            sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"}))
            await asyncio.wait_for(job, 5)

        asyncio.run(scenario())
        assert ("start", "web") in h.engine.calls
        assert h.reports[-1].stop_code == ""
        assert [group for group, _ in h.asked_log_groups] == asked


def test_an_initialization_error_fails_the_task_before_anything_is_made() -> None:
    h = Harness()
    reason = "ResourceInitializationError: unable to pull secrets or registry auth: no secret"
    spec = p.TaskSpec(**{**task_spec("app", [c("web")]).__dict__, "initialization_error": reason})
    asyncio.run(asyncio.wait_for(h.supervisor(spec).run(), 5))
    final = h.reports[-1]
    assert (final.last_status, final.stop_code, final.stopped_reason) == (
        "STOPPED",
        "TaskFailedToStart",
        reason,
    )
    assert final.pull_started_at is None
    assert h.engine.calls == []


def test_task_level_limits_make_a_group_for_the_containers_removed_at_the_end() -> None:
    h = Harness()
    spec = task_spec("app", [c("web"), c("side", essential=False)], cpu=256, memory=64)
    group = "ecs-task-" + spec.task_arn.rsplit("/", 1)[1]

    async def scenario() -> None:
        sup = h.supervisor(spec)
        job = asyncio.create_task(sup.run())
        await until(lambda: sup.record.known == "RUNNING")
        sup.update(p.TaskSpec(**{**spec.__dict__, "desired_status": "STOPPED"}))
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    made = [call for call in h.engine.calls if call[0] == "group"]
    assert made == [("group", group, 256, 64)]
    # both containers live in the group; neither carries the task's limit on its own
    assert {o.cgroup_parent for o in h.engine.options.values()} == {f"cais/{group}"}
    assert {o.resources.memory for o in h.engine.options.values()} == {None}
    kinds = [call[0] for call in h.engine.calls]
    assert kinds.index("group") < kinds.index("create")
    assert kinds.index("remove-group") > max(i for i, k in enumerate(kinds) if k == "remove")


def test_a_group_that_cannot_be_made_fails_the_task() -> None:
    h = Harness()

    def refuse(name: str, cpu_units: int | None, memory_mib: int | None) -> None:
        raise CaisError(f"cannot make the cgroup cais/{name}: Permission denied")

    h.engine.create_group = refuse  # type: ignore[method-assign]
    spec = task_spec("app", [c("web")], memory=64)
    asyncio.run(asyncio.wait_for(h.supervisor(spec).run(), 5))
    final = h.reports[-1]
    assert (final.last_status, final.stop_code) == ("STOPPED", "TaskFailedToStart")
    assert final.stopped_reason.startswith("ResourceInitializationError: cannot make the cgroup")
    assert not [call for call in h.engine.calls if call[0] == "create"]
