"""The pure parts: the transition table, dependency order and conditions, engine options."""

from __future__ import annotations

import pytest

from cais.agent import plan
from cais.agent import protocol as p
from cais.agent.model import ContainerRecord
from cais.agent.transitions import TABLE, next_step
from ecs_fake_control_plane import task_spec


def c(name: str, **fields: object) -> p.ContainerSpec:
    return p.ContainerSpec(name=name, image="busybox", **fields)  # type: ignore[arg-type]


# the transition table


def test_running_is_reached_through_every_step_in_order() -> None:
    known, seen = "PROVISIONING", []
    while (step := next_step("RUNNING", known)) is not None and step.next is not None:
        seen.append(step.action)
        known = step.next
    assert seen == ["provision", "pull", "activate"]
    assert known == "RUNNING"
    assert next_step("RUNNING", "RUNNING") == TABLE[("RUNNING", "RUNNING")]
    assert next_step("RUNNING", "RUNNING").action == "watch"  # type: ignore[union-attr]


@pytest.mark.parametrize("known", ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"])
def test_stopping_goes_through_every_stop_status(known: str) -> None:
    seen = []
    while (step := next_step("STOPPED", known)) is not None:
        assert step.next is not None
        seen.append(step.next)
        known = step.next
    assert seen == ["DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]


@pytest.mark.parametrize("known", ["DEACTIVATING", "STOPPING", "DEPROVISIONING"])
def test_a_stopping_task_never_comes_back(known: str) -> None:
    assert next_step("RUNNING", known) == next_step("STOPPED", known)
    assert next_step("RUNNING", "STOPPED") is None
    assert next_step("STOPPED", "STOPPED") is None


# order and conditions


def test_start_order_follows_depends_on_and_links() -> None:
    spec = task_spec(
        "t",
        [
            c("web", depends_on=(p.Dependency("app", "HEALTHY"),)),
            c("app", links=("db:database",)),
            c("db"),
            c("side"),
        ],
    )
    order = plan.start_order(spec)
    assert order.index("db") < order.index("app") < order.index("web")
    assert set(order) == {"web", "app", "db", "side"}


def test_cycles_and_unknown_dependencies_are_refused() -> None:
    cycle = task_spec(
        "t",
        [
            c("a", depends_on=(p.Dependency("b", "START"),)),
            c("b", depends_on=(p.Dependency("a", "START"),)),
        ],
    )
    with pytest.raises(plan.PlanError, match="cycle"):
        plan.start_order(cycle)
    unknown = task_spec("t", [c("a", depends_on=(p.Dependency("zz", "START"),))])
    with pytest.raises(plan.PlanError, match="unknown container zz"):
        plan.start_order(unknown)


@pytest.mark.parametrize(
    ("condition", "record", "expected"),
    [
        ("START", ContainerRecord("d"), False),
        ("START", ContainerRecord("d", "id", "RUNNING"), True),
        ("COMPLETE", ContainerRecord("d", "id", "RUNNING"), False),
        ("COMPLETE", ContainerRecord("d", "id", "STOPPED", exit_code=1), True),
        ("SUCCESS", ContainerRecord("d", "id", "STOPPED", exit_code=0), True),
        ("SUCCESS", ContainerRecord("d", "id", "STOPPED", exit_code=1), None),
        ("SUCCESS", ContainerRecord("d", "id", "RUNNING"), False),
        ("HEALTHY", ContainerRecord("d", "id", "RUNNING", health="UNKNOWN"), False),
        ("HEALTHY", ContainerRecord("d", "id", "RUNNING", health="HEALTHY"), True),
        ("HEALTHY", ContainerRecord("d", "id", "STOPPED", exit_code=0), None),
    ],
)
def test_dependency_conditions(condition: str, record: ContainerRecord, expected: object) -> None:
    assert plan.condition_met(condition, record) is expected


# engine options


def test_run_options_carry_the_container_definition() -> None:
    spec = task_spec(
        "web",
        [
            c(
                "app",
                command=("-c", "echo hi"),
                entry_point=("/bin/sh",),
                environment={"A": "1"},
                working_directory="/srv",
                user="nobody",
                cpu=256,
                memory=128,
                memory_reservation=64,
                port_mappings=(p.PortMapping(80, 0), p.PortMapping(53, 5353, "udp")),
                health_check=p.HealthCheck(("CMD-SHELL", "true"), interval=5, retries=2),
                stop_timeout=7,
                links=("db:database",),
                ulimits=(("nofile", 1024, 2048),),
                cap_add=("NET_ADMIN",),
                cap_drop=("CAP_CHOWN",),
                init_process_enabled=True,
                readonly_root_filesystem=True,
                docker_labels={"team": "blue"},
            )
        ],
        revision=3,
    )
    options = plan.run_options(
        spec,
        spec.containers[0],
        network=plan.NetworkPlan("bridge", link_addresses={"db": "10.90.0.5"}),
        volumes={},
        runtime="crun",
    )
    assert options.entrypoint == ""
    assert options.command == ("/bin/sh", "-c", "echo hi")
    assert options.env == ("A=1",)
    assert (options.working_dir, options.user) == ("/srv", "nobody")
    assert options.resources.cpu_shares == 256
    assert options.resources.memory == 128 << 20
    assert options.resources.memory_reservation == 64 << 20
    assert options.publish == (":80/tcp", "5353:53/udp")
    assert options.extra_hosts == ("database:10.90.0.5", "db:10.90.0.5")
    assert options.healthcheck is not None
    assert options.healthcheck.test == ("CMD-SHELL", "true")
    assert (options.healthcheck.interval, options.healthcheck.retries) == (5.0, 2)
    assert options.stop_timeout == 7
    assert options.ulimits == (("nofile", 1024, 2048),)
    assert (options.cap_add, options.cap_drop) == (("CAP_NET_ADMIN",), ("CAP_CHOWN",))
    assert options.init and options.read_only
    assert options.labels["team"] == "blue"
    assert options.labels["com.amazonaws.ecs.task-definition-version"] == "3"
    assert options.network == "bridge"


def test_defaults_follow_ecs() -> None:
    spec = task_spec("t", [c("app")], memory=512)
    options = plan.run_options(
        spec, spec.containers[0], network=plan.NetworkPlan("host"), volumes={}, runtime="crun"
    )
    assert options.resources.cpu_shares == plan.MIN_CPU_SHARES  # cpu 0 → 2 shares
    # the task's limit is not copied to each container: it bounds them all, in the task's group
    assert options.resources.memory is None
    assert options.no_healthcheck and options.healthcheck is None
    assert options.entrypoint is None and options.command == ()
    assert options.network == "host" and options.publish == ()


def test_a_task_with_its_own_limits_gets_a_group() -> None:
    limited = task_spec("t", [c("app")], memory=512)
    assert plan.task_group(limited).startswith("ecs-task-")
    assert plan.task_group(task_spec("t", [c("app")])) == ""
    options = plan.run_options(
        limited,
        limited.containers[0],
        network=plan.NetworkPlan("none"),
        volumes={},
        runtime="crun",
        cgroup_parent="cais/ecs-task-1",
    )
    assert options.cgroup_parent == "cais/ecs-task-1"


def test_an_unknown_capability_is_a_plan_error() -> None:
    spec = task_spec("t", [c("app", cap_add=("NOT_A_CAP",))])
    with pytest.raises(plan.PlanError, match="unknown capability"):
        plan.run_options(
            spec, spec.containers[0], network=plan.NetworkPlan("none"), volumes={}, runtime="crun"
        )


def test_names_are_ecs_names() -> None:
    spec = task_spec("my_family", [c("web")], revision=12)
    assert plan.container_name(spec, "web", suffix="ab" * 10) == (
        "ecs-my_family-12-web-abababababababababab"
    )
    assert len(plan.container_name(spec, "web")) == len("ecs-my_family-12-web-") + 20
    assert plan.container_name(spec, "~internal~ecs~pause", suffix="0") == (
        "ecs-my_family-12-internalecspause-0"
    )
