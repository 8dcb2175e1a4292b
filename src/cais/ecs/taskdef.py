"""RegisterTaskDefinition's rules: a request in, a normalised task definition body out.

Pure: no store, no clock. The botocore model has already checked types and enums; what is
checked here are the rules ECS states in its documentation and error messages (container
names, memory, CPU, network modes and port mappings, dependencies, volumes, health checks,
log configuration). Every problem is a ``ClientException`` with ECS's wording where it is
known; nothing is stored when one is raised.

The body keeps the API's member names, with ECS's defaults filled in (``cpu`` 0,
``essential`` true, empty lists), host ports set to the container port where the network
mode requires it, and task-level ``cpu``/``memory`` converted to units and MiB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cais.ecs import errors
from cais.ecs.envfiles import parse_s3_arn
from cais.ecs.requirements import required_attributes

NETWORK_MODES = ("bridge", "host", "awsvpc", "none")
CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
MIN_CONTAINER_MEMORY = 6  # MiB: the least Docker (and ECS) accept
EC2_TASK_CPU = (128, 196608)  # units, ECS's range for task-level CPU on EC2
MAX_STOP_TIMEOUT = 120
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}
HEALTH_RANGES = {"interval": (5, 300), "timeout": (2, 120), "retries": (1, 10)}
START_PERIOD_RANGE = (0, 300)

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
_CPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$", re.IGNORECASE)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gb|mib|mb)?\s*$", re.IGNORECASE)

# Fargate's CPU (units) → memory (MiB) choices: (low, high, step).
FARGATE_SIZES: Mapping[int, tuple[int, int, int]] = {
    256: (512, 2048, 512),
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}

Body = dict[str, Any]


def _setting(field: str, container: str) -> Exception:
    return errors.client(f"Invalid '{field}' setting for container '{container}'.")


def parse_task_cpu(text: str) -> int:
    """Task-level ``cpu``: ``"1024"``, ``"1 vCPU"`` or ``"0.5 vcpu"`` → CPU units."""
    found = _CPU.match(text)
    if found is None:
        raise errors.client("Invalid 'cpu' setting for task.")
    value = float(found[1])
    units = round(value * 1024) if found[2] else round(value)
    if units <= 0 or (not found[2] and "." in found[1]):
        raise errors.client("Invalid 'cpu' setting for task.")
    return units


def parse_task_memory(text: str) -> int:
    """Task-level ``memory``: ``"512"``, ``"512 MiB"``, ``"1 GB"`` or ``"1GB"`` → MiB."""
    found = _MEMORY.match(text)
    if found is None:
        raise errors.client("Invalid 'memory' setting for task.")
    value = float(found[1])
    mib = round(value * 1024) if (found[2] or "").lower() == "gb" else round(value)
    if mib < MIN_CONTAINER_MEMORY or (not found[2] and "." in found[1]):
        raise errors.client("Invalid 'memory' setting for task.")
    return mib


def fargate_fits(cpu: int, memory: int) -> bool:
    size = FARGATE_SIZES.get(cpu)
    if size is None:
        return False
    low, high, step = size
    return low <= memory <= high and (memory - low) % step == 0


def check_family(family: str) -> None:
    if not _NAME.match(family):
        raise errors.client(
            "Family must be 1-255 letters, numbers, hyphens and underscores: "
            f"{family!r} is not valid."
        )


def normalise(params: Mapping[str, Any]) -> Body:
    """The body of a new revision from RegisterTaskDefinition's members (tags left out)."""
    check_family(params["family"])
    mode = params.get("networkMode") or "bridge"
    containers = list(params.get("containerDefinitions") or ())
    if not containers:
        raise errors.client("Container list cannot be empty.")
    volumes = _volumes(params.get("volumes") or ())
    compat = list(params.get("requiresCompatibilities") or ())
    task_cpu = parse_task_cpu(str(params["cpu"])) if params.get("cpu") is not None else None
    task_memory = (
        parse_task_memory(str(params["memory"])) if params.get("memory") is not None else None
    )
    if (
        task_cpu is not None
        and "FARGATE" not in compat
        and not (EC2_TASK_CPU[0] <= task_cpu <= EC2_TASK_CPU[1])
    ):
        raise errors.client("Invalid 'cpu' setting for task.")
    if "FARGATE" in compat:
        _check_fargate(mode, task_cpu, task_memory)

    defs = [_container(c, mode=mode, task_memory=task_memory) for c in containers]
    names = [d["name"] for d in defs]
    if len(set(names)) != len(names):
        raise errors.client("Container names must be unique within a Task Definition.")
    if not any(d["essential"] for d in defs):
        raise errors.client("Task definition doesn't have any essential container.")
    _check_ports(defs, mode)
    _check_links(defs, mode)
    _check_dependencies(defs)
    _check_mounts(defs, {v["name"] for v in volumes})
    _check_totals(defs, task_cpu, task_memory)

    body: Body = {
        "family": params["family"],
        "containerDefinitions": defs,
        "networkMode": mode,
        "volumes": volumes,
        "placementConstraints": _placement_constraints(params.get("placementConstraints") or ()),
        "requiresAttributes": [],
        "compatibilities": _compatibilities(mode, task_cpu, task_memory),
    }
    if compat:
        body["requiresCompatibilities"] = compat
    if task_cpu is not None:
        body["cpu"] = str(task_cpu)
    if task_memory is not None:
        body["memory"] = str(task_memory)
    for member in (
        "taskRoleArn",
        "executionRoleArn",
        "pidMode",
        "ipcMode",
        "proxyConfiguration",
        "ephemeralStorage",
        "runtimePlatform",
        "enableFaultInjection",
    ):
        if params.get(member) is not None:
            body[member] = params[member]
    body["requiresAttributes"] = required_attributes(body)
    return body


def _check_fargate(mode: str, cpu: int | None, memory: int | None) -> None:
    if mode != "awsvpc":
        raise errors.client("Fargate only supports network mode 'awsvpc'.")
    if cpu is None:
        raise errors.client("Fargate requires that 'cpu' be defined at the task level.")
    if memory is None:
        raise errors.client("Fargate requires that 'memory' be defined at the task level.")
    if not fargate_fits(cpu, memory):
        raise errors.client("No Fargate configuration exists for given values.")


def _compatibilities(mode: str, cpu: int | None, memory: int | None) -> list[str]:
    found = ["EC2", "EXTERNAL"]
    if mode == "awsvpc" and cpu is not None and memory is not None and fargate_fits(cpu, memory):
        found.append("FARGATE")
    return found


def _container(raw: Mapping[str, Any], *, mode: str, task_memory: int | None) -> Body:
    name = raw.get("name")
    if not name:
        raise errors.client("Container.name should not be null or empty.")
    if not _NAME.match(name):
        raise errors.client("Container.name contains invalid characters.")
    if not raw.get("image"):
        raise errors.client("Container.image should not be null or empty.")
    out: Body = {k: v for k, v in raw.items() if v is not None}
    cpu = int(raw.get("cpu") or 0)
    if cpu < 0:
        raise _setting("cpu", name)
    out["cpu"] = cpu
    _check_memory(name, raw.get("memory"), raw.get("memoryReservation"), task_memory)
    out["essential"] = raw.get("essential") is not False
    out["portMappings"] = [_port_mapping(name, p, mode) for p in raw.get("portMappings") or ()]
    for member in ("environment", "mountPoints", "volumesFrom", "systemControls"):
        out[member] = list(raw.get(member) or ())
    for variable in out["environment"]:
        if not variable.get("name"):
            raise _setting("environment", name)
    _check_environment_files(name, raw.get("environmentFiles") or ())
    for timeout in ("stopTimeout", "startTimeout"):
        value = raw.get(timeout)
        if value is not None and not 0 <= value <= MAX_STOP_TIMEOUT:
            raise _setting(timeout, name)
    if raw.get("healthCheck") is not None:
        out["healthCheck"] = _health_check(name, raw["healthCheck"])
    for limit in raw.get("ulimits") or ():
        if limit["softLimit"] > limit["hardLimit"] or limit["softLimit"] < 0:
            raise _setting("ulimits", name)
    if raw.get("logConfiguration") is not None:
        _check_log_configuration(raw["logConfiguration"])
    for mount in out["mountPoints"]:
        if not mount.get("sourceVolume") or not str(mount.get("containerPath", "")).startswith("/"):
            raise _setting("mountPoints", name)
    if raw.get("workingDirectory") is not None and not str(raw["workingDirectory"]).startswith("/"):
        raise _setting("workingDirectory", name)
    return out


def _check_environment_files(name: str, files: Iterable[Mapping[str, Any]]) -> None:
    """Only S3 objects can be env files (ECS knows no other ``type``)."""
    for source in files:
        if source.get("type") != "s3":
            raise errors.client(
                f"Invalid setting for container '{name}'. "
                f"environmentFiles type '{source.get('type')}' is not supported: use 's3'."
            )
        if parse_s3_arn(str(source.get("value", ""))) is None:
            raise errors.client(
                f"Invalid setting for container '{name}'. "
                f"environmentFiles value '{source.get('value')}' is not an S3 object ARN "
                "(arn:aws:s3:::bucket/key)."
            )


def _check_memory(
    name: str, memory: int | None, reservation: int | None, task_memory: int | None
) -> None:
    if memory is None and reservation is None and task_memory is None:
        raise errors.client(
            f"Invalid setting for container '{name}'. "
            "At least one of 'memory' or 'memoryReservation' must be specified."
        )
    if memory is not None and memory < MIN_CONTAINER_MEMORY:
        raise _setting("memory", name)
    if reservation is not None and reservation < MIN_CONTAINER_MEMORY:
        raise _setting("memoryReservation", name)
    if memory is not None and reservation is not None and memory < reservation:
        raise errors.client(
            f"Invalid setting for container '{name}'. "
            "'memory' must be greater than or equal to 'memoryReservation'."
        )
    if task_memory is not None and max(memory or 0, reservation or 0) > task_memory:
        raise errors.client(
            f"Invalid setting for container '{name}'. "
            "The container's memory cannot be greater than the task 'memory'."
        )


def _port_mapping(name: str, raw: Mapping[str, Any], mode: str) -> Body:
    if raw.get("containerPortRange") is not None:
        raise errors.client(
            f"Invalid 'containerPortRange' setting for container '{name}': "
            "port ranges are not supported by cais."
        )
    container_port = raw.get("containerPort")
    if container_port is None or not 1 <= container_port <= 65535:
        raise _setting("containerPort", name)
    host_port = raw.get("hostPort")
    if host_port is not None and not 0 <= host_port <= 65535:
        raise _setting("hostPort", name)
    if mode == "none":
        raise errors.client("Port mappings are not supported when networkMode=none.")
    if mode in ("host", "awsvpc"):
        if host_port not in (None, 0, container_port):
            raise errors.client(
                f"When networkMode={mode}, the host ports and container ports in port "
                "mappings must match."
            )
        host_port = container_port
    out: Body = {k: v for k, v in raw.items() if v is not None}
    out["containerPort"] = container_port
    out["protocol"] = raw.get("protocol") or "tcp"
    if host_port is not None:
        out["hostPort"] = host_port
    return out


def _check_ports(defs: Sequence[Mapping[str, Any]], mode: str) -> None:
    """A host port (per protocol) can be taken once in a task; awsvpc and host modes
    share one network namespace, so their container ports cannot repeat either."""
    seen: set[tuple[int, str]] = set()
    for definition in defs:
        for mapping in definition["portMappings"]:
            port = mapping.get("hostPort") or 0
            if mode in ("host", "awsvpc"):
                port = mapping["containerPort"]
            if not port:
                continue
            key = (port, mapping["protocol"])
            if key in seen:
                raise errors.client(
                    f"Host port {port}/{mapping['protocol']} is mapped more than once in the "
                    "task definition."
                )
            seen.add(key)


def _check_links(defs: Sequence[Mapping[str, Any]], mode: str) -> None:
    names = {d["name"] for d in defs}
    for definition in defs:
        links = definition.get("links") or ()
        if links and mode != "bridge":
            raise errors.client(f"Links are not supported when networkMode={mode}.")
        for link in links:
            target = str(link).split(":", 1)[0]
            if target not in names or target == definition["name"]:
                raise _setting("links", definition["name"])


def _check_dependencies(defs: Sequence[Mapping[str, Any]]) -> None:
    by_name = {d["name"]: d for d in defs}
    graph: dict[str, list[str]] = {}
    for definition in defs:
        name = definition["name"]
        graph[name] = []
        for dependency in definition.get("dependsOn") or ():
            target = dependency.get("containerName")
            condition = dependency.get("condition")
            if target not in by_name:
                raise errors.client(
                    f"Cannot depend on container + '{target}' because it does not exist"
                )
            if target == name:
                raise errors.client(f"Container '{name}' cannot depend on itself.")
            if condition not in CONDITIONS:
                raise _setting("dependsOn", name)
            if condition in ("SUCCESS", "COMPLETE") and by_name[target]["essential"]:
                raise errors.client(
                    "A dependency container with SUCCESS or COMPLETE condition cannot be an "
                    "essential container"
                )
            if condition == "HEALTHY" and "healthCheck" not in by_name[target]:
                raise errors.client(
                    f"Container '{name}' depends on container '{target}' being HEALTHY, but "
                    f"'{target}' has no health check."
                )
            graph[name].append(target)
    cycle = _cycle(graph)
    if cycle:
        raise errors.client(f"Container dependencies form a cycle: {' -> '.join(cycle)}.")


def _cycle(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """A dependency cycle as a path (first name repeated at the end), or []."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _health_check(name: str, raw: Mapping[str, Any]) -> Body:
    command = list(raw.get("command") or ())
    if not command or command[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise _setting("healthCheck.command", name)
    out: Body = {"command": command}
    for member, default in HEALTH_DEFAULTS.items():
        value = raw.get(member, default)
        low, high = HEALTH_RANGES[member]
        if not low <= value <= high:
            raise _setting(f"healthCheck.{member}", name)
        out[member] = value
    if raw.get("startPeriod") is not None:
        if not START_PERIOD_RANGE[0] <= raw["startPeriod"] <= START_PERIOD_RANGE[1]:
            raise _setting("healthCheck.startPeriod", name)
        out["startPeriod"] = raw["startPeriod"]
    return out


def _check_log_configuration(raw: Mapping[str, Any]) -> None:
    if raw.get("logDriver") != "awslogs":
        return
    options = raw.get("options") or {}
    missing = [o for o in ("awslogs-region", "awslogs-group") if not options.get(o)]
    if missing:
        raise errors.client(f"Log driver awslogs requires options: {', '.join(missing)}")
    create = options.get("awslogs-create-group")
    if create is not None and create not in ("true", "false"):
        raise errors.client("Invalid value for awslogs-create-group: use true or false.")


def _volumes(raw: Iterable[Mapping[str, Any]]) -> list[Body]:
    out: list[Body] = []
    seen: set[str] = set()
    for volume in raw:
        name = volume.get("name")
        if not name or not _NAME.match(name):
            raise errors.client("Invalid 'name' setting for volume.")
        if name in seen:
            raise errors.client(f"Volume names must be unique: {name!r} is given twice.")
        seen.add(name)
        entry: Body = {k: v for k, v in volume.items() if v is not None}
        host = volume.get("host")
        docker = volume.get("dockerVolumeConfiguration")
        unsupported = [
            k
            for k in (
                "efsVolumeConfiguration",
                "fsxWindowsFileServerVolumeConfiguration",
                "s3filesVolumeConfiguration",
            )
            if volume.get(k) is not None
        ]
        if unsupported:
            raise errors.client(f"Volume '{name}': {unsupported[0]} is not supported by cais.")
        if host is not None and docker is not None:
            raise errors.client(
                f"Volume '{name}' cannot have both host and dockerVolumeConfiguration."
            )
        if (
            host is not None
            and host.get("sourcePath") is not None
            and not str(host["sourcePath"]).startswith("/")
        ):
            raise errors.client(f"Invalid 'host.sourcePath' setting for volume '{name}'.")
        if docker is not None:
            scope = docker.get("scope") or "task"
            if docker.get("autoprovision") and scope != "shared":
                raise errors.client(
                    "Autoprovision can only be set to true when scope is set to shared."
                )
            driver = docker.get("driver")
            if driver not in (None, "local"):
                raise errors.client(
                    f"Volume '{name}': only the local volume driver is supported by cais."
                )
            entry["dockerVolumeConfiguration"] = {**docker, "scope": scope}
        if host is None and docker is None:
            entry["host"] = {}
        out.append(entry)
    return out


def _check_mounts(defs: Sequence[Mapping[str, Any]], volumes: set[str]) -> None:
    for definition in defs:
        for mount in definition["mountPoints"]:
            if mount["sourceVolume"] not in volumes:
                raise errors.client(
                    f"Invalid 'mountPoints' setting for container '{definition['name']}': "
                    f"volume '{mount['sourceVolume']}' is not defined in the task definition."
                )
        for source in definition["volumesFrom"]:
            if source.get("sourceContainer") not in {d["name"] for d in defs}:
                raise _setting("volumesFrom", definition["name"])


def _check_totals(
    defs: Sequence[Mapping[str, Any]], task_cpu: int | None, task_memory: int | None
) -> None:
    if task_cpu is not None and sum(d["cpu"] for d in defs) > task_cpu:
        raise errors.client(
            "The sum of all container 'cpu' values cannot be greater than the value of the "
            "task 'cpu'."
        )
    if task_memory is not None:
        total = sum(d.get("memoryReservation") or d.get("memory") or 0 for d in defs)
        if total > task_memory:
            raise errors.client(
                "The sum of all container 'memoryReservation' values cannot be greater than "
                "the value of the task 'memory'."
            )


def _placement_constraints(raw: Iterable[Mapping[str, Any]]) -> list[Body]:
    from cais.ecs.scheduler import SchedulingInputError, constraint_from_api

    out = []
    for constraint in raw:
        if constraint.get("type") != "memberOf":
            raise errors.client("Task definition placement constraints must be memberOf.")
        try:
            constraint_from_api(constraint)
        except SchedulingInputError as exc:
            raise errors.client(str(exc)) from None
        out.append({"type": "memberOf", "expression": constraint["expression"]})
    if len(out) > 10:
        raise errors.client("You can specify a maximum of 10 placement constraints.")
    return out


def reservation_of(
    body: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> tuple[int, int]:
    """CPU units and MiB one task of this definition reserves on its instance.

    Task-level values win; otherwise the containers' (memoryReservation, else memory),
    as ECS reserves them. Overrides (task and container) are applied first.
    """
    overrides = overrides or {}
    containers = apply_container_overrides(body, overrides)
    cpu_text = overrides.get("cpu") or body.get("cpu")
    memory_text = overrides.get("memory") or body.get("memory")
    cpu = (
        parse_task_cpu(str(cpu_text))
        if cpu_text is not None
        else sum(int(c.get("cpu") or 0) for c in containers)
    )
    memory = (
        parse_task_memory(str(memory_text))
        if memory_text is not None
        else sum(int(c.get("memoryReservation") or c.get("memory") or 0) for c in containers)
    )
    return cpu, memory


def apply_container_overrides(
    body: Mapping[str, Any], overrides: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The container definitions with RunTask's containerOverrides applied."""
    by_name = {o["name"]: o for o in overrides.get("containerOverrides") or () if "name" in o}
    out = []
    for definition in body.get("containerDefinitions") or ():
        merged = dict(definition)
        override = by_name.get(definition["name"])
        if override is not None:
            for member in ("command", "cpu", "memory", "memoryReservation"):
                if override.get(member) is not None:
                    merged[member] = override[member]
            if override.get("environment"):
                env = {e["name"]: e.get("value", "") for e in merged.get("environment") or ()}
                env.update({e["name"]: e.get("value", "") for e in override["environment"]})
                merged["environment"] = [{"name": k, "value": v} for k, v in env.items()]
            if override.get("environmentFiles") is not None:  # replaces the definition's
                merged["environmentFiles"] = override["environmentFiles"]
        out.append(merged)
    return out


def fixed_host_ports(body: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The host ports a task of this definition takes on its instance, per protocol.

    ``bridge`` takes the non-zero host ports (0: the agent picks one when it starts the
    container); ``host`` takes every container port; ``awsvpc`` and ``none`` give the task
    its own network namespace and take no host port.
    """
    mode = body.get("networkMode") or "bridge"
    if mode in ("awsvpc", "none"):
        return []
    ports = []
    for definition in body.get("containerDefinitions") or ():
        for mapping in definition.get("portMappings") or ():
            port = mapping.get("hostPort") or 0
            if mode == "host":
                port = mapping["containerPort"]
            if port:
                ports.append((int(port), mapping.get("protocol") or "tcp"))
    return ports
