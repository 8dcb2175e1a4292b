"""From an ECS container definition to the engine's options (pure: no I/O).

Names and labels follow the ECS agent, so that ``cais ps`` tells whose container it is:
``ecs-<family>-<revision>-<container>-<20 hex digits>`` and ``com.amazonaws.ecs.*`` labels.
The start order follows ``dependsOn`` (and ``links``, which imply START); stopping goes the
other way round.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cais.agent.model import RUNNING, STOPPED, ContainerRecord
from cais.agent.protocol import ContainerSpec, TaskSpec, Volume
from cais.oci.runtime_spec import Resources
from cais.runtime.configure import RunOptions
from cais.runtime.model import HealthCheck, MountRequest

MIN_CPU_SHARES = 2  # what the kernel accepts; ECS gives a container without cpu this many
AWSVPC_NETWORK = "ecs-awsvpc"  # the network where awsvpc tasks get their own address
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


class PlanError(Exception):
    """A task that cannot run as defined (a dependency cycle, an unknown volume…)."""


def task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]


def container_name(task: TaskSpec, container: str, *, suffix: str | None = None) -> str:
    """``ecs-<family>-<revision>-<container>-<random hex>`` as the ECS agent names them."""
    hexpart = suffix if suffix is not None else os.urandom(10).hex()
    name = f"ecs-{task.family}-{task.revision}-{container}-{hexpart}"
    return _UNSAFE.sub("", name)


def task_group(task: TaskSpec) -> str:
    """The cgroup (under the engine's parent) that holds a task's containers when the task
    has its own cpu or memory limit; "" when it has none."""
    if not task.cpu and not task.memory:
        return ""
    return "ecs-task-" + _UNSAFE.sub("", task.task_arn.rsplit("/", 1)[-1])


def labels(task: TaskSpec, container: ContainerSpec | None, name: str) -> dict[str, str]:
    out = dict(container.docker_labels) if container is not None else {}
    out.update(
        {
            "com.amazonaws.ecs.task-arn": task.task_arn,
            "com.amazonaws.ecs.container-name": name,
            "com.amazonaws.ecs.cluster": task.cluster_arn,
            "com.amazonaws.ecs.task-definition-family": task.family,
            "com.amazonaws.ecs.task-definition-version": str(task.revision),
        }
    )
    return out


def dependencies(container: ContainerSpec) -> list[tuple[str, str]]:
    """(container, condition) this one waits for: dependsOn, and START for every link."""
    out = [(d.container_name, d.condition.upper()) for d in container.depends_on]
    named = {name for name, _ in out}
    for link in container.links:
        target = link.split(":", 1)[0]
        if target not in named:
            out.append((target, "START"))
    return out


def start_order(task: TaskSpec) -> list[str]:
    """Container names in an order that honours every dependency (definition order else)."""
    names = [c.name for c in task.containers]
    deps = {c.name: [n for n, _ in dependencies(c)] for c in task.containers}
    for name, wanted in deps.items():
        for other in wanted:
            if other not in deps:
                raise PlanError(f"container {name} depends on unknown container {other}")
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise PlanError(f"dependency cycle through container {name}")
        visiting.add(name)
        for other in deps[name]:
            visit(other)
        visiting.discard(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


def condition_met(condition: str, dependency: ContainerRecord) -> bool | None:
    """True: met; False: not yet; None: can never be met (the dependency is gone)."""
    status = dependency.last_status
    if condition == "START":
        return dependency.started
    if condition == "COMPLETE":
        return status == STOPPED and dependency.started
    if condition == "SUCCESS":
        if status != STOPPED or not dependency.started:
            return False
        return True if dependency.exit_code == 0 else None
    if condition == "HEALTHY":
        if dependency.health == "HEALTHY" and status == RUNNING:
            return True
        return None if status == STOPPED else False
    raise PlanError(f"unknown dependency condition {condition}")


def engine_volume_name(task: TaskSpec, volume: Volume, *, suffix: str | None = None) -> str:
    """A task-scoped volume gets a name of its own; a shared one is the named volume."""
    if volume.scope == "shared":
        return volume.name
    hexpart = suffix if suffix is not None else os.urandom(10).hex()
    return _UNSAFE.sub("", f"ecs-{task.family}-{task.revision}-{volume.name}-{hexpart}")


@dataclass(frozen=True)
class NetworkPlan:
    """Where a container's network comes from: the mode's engine network, peers for links."""

    mode: str  # bridge, host, none, awsvpc
    pause_id: str = ""  # awsvpc: the container whose namespace the task shares
    link_addresses: Mapping[str, str] | None = None  # container name → its bridge address


def run_options(
    task: TaskSpec,
    container: ContainerSpec,
    *,
    network: NetworkPlan,
    volumes: Mapping[str, str],
    runtime: str,
    cgroup_parent: str = "",
) -> RunOptions:
    """The engine's options for ``container`` (``volumes``: task volume → engine volume;
    ``cgroup_parent``: the task's group, whose limits bound all its containers together)."""
    command: tuple[str, ...] = container.command or ()
    entrypoint: str | None = None
    if container.entry_point:
        # ECS's entryPoint is a list; the engine's --entrypoint one word: clear the
        # image's and run the whole list, followed by the command (Docker's API does so)
        entrypoint = ""
        command = (*container.entry_point, *command)
    memory = container.memory if container.memory is not None else None
    resources = Resources(
        memory=memory << 20 if memory else None,
        memory_reservation=container.memory_reservation << 20
        if container.memory_reservation
        else None,
        cpu_shares=max(container.cpu, MIN_CPU_SHARES),
    )
    health = None
    if container.health_check is not None:
        hc = container.health_check
        health = HealthCheck(
            test=hc.command,
            interval=float(hc.interval),
            timeout=float(hc.timeout),
            retries=hc.retries,
            start_period=float(hc.start_period),
        )
    mode, publish, hosts = _network(container, network)
    return RunOptions(
        cgroup_parent=cgroup_parent,
        command=command,
        entrypoint=entrypoint,
        env=tuple(f"{k}={v}" for k, v in container.environment.items()),
        working_dir=container.working_directory,
        user=container.user or None,
        labels=labels(task, container, container.name),
        stop_timeout=container.stop_timeout,
        healthcheck=health,
        no_healthcheck=health is None,
        init=container.init_process_enabled,
        read_only=container.readonly_root_filesystem,
        cap_add=_capabilities(container.cap_add),
        cap_drop=_capabilities(container.cap_drop),
        resources=resources,
        mounts=_mounts(task, container, volumes),
        runtime=runtime,
        ulimits=container.ulimits,
        network=mode,
        publish=publish,
        extra_hosts=hosts,
    )


def _capabilities(names: Sequence[str]) -> tuple[str, ...]:
    """ECS's ``NET_ADMIN`` (or ``CAP_NET_ADMIN``, ``ALL``) → the engine's ``CAP_NET_ADMIN``."""
    from cais.errors import InvalidArgumentError
    from cais.runtime.flags import parse_capabilities

    try:
        return parse_capabilities(list(names))
    except InvalidArgumentError as exc:
        raise PlanError(str(exc)) from None


def _network(
    container: ContainerSpec, plan: NetworkPlan
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The engine's network mode, ``-p`` specs and ``--add-host`` entries."""
    if plan.mode == "awsvpc":
        if not plan.pause_id:
            raise PlanError("an awsvpc task needs its pause container first")
        return f"container:{plan.pause_id}", (), ()
    if plan.mode in ("host", "none"):
        return plan.mode, (), ()
    if plan.mode != "bridge":
        raise PlanError(f"unknown network mode {plan.mode}")
    publish = tuple(
        f"{m.host_port or ''}:{m.container_port}/{m.protocol}" for m in container.port_mappings
    )
    hosts = []
    for link in container.links:
        target, _, alias = link.partition(":")
        address = (plan.link_addresses or {}).get(target)
        if address:
            hosts += [f"{alias}:{address}"] if alias else []
            hosts.append(f"{target}:{address}")
    return "bridge", publish, tuple(hosts)


def _mounts(
    task: TaskSpec, container: ContainerSpec, volumes: Mapping[str, str]
) -> tuple[MountRequest, ...]:
    by_name = {v.name: v for v in task.volumes}
    out = []
    for point in container.mount_points:
        volume = by_name.get(point.source_volume)
        if volume is None:
            raise PlanError(
                f"container {container.name} mounts unknown volume {point.source_volume}"
            )
        if volume.host_path:
            out.append(
                MountRequest(
                    "bind", point.container_path, volume.host_path, readonly=point.read_only
                )
            )
        else:
            out.append(
                MountRequest(
                    "volume",
                    point.container_path,
                    volumes[volume.name],
                    readonly=point.read_only,
                )
            )
    return tuple(out)


def reverse_stop_order(order: Sequence[str]) -> list[str]:
    return list(reversed(order))
