"""A fake ECS node agent: speaks the agent protocol over HTTP, simulates containers.

It stands in for ``cais agent`` so the control plane can be tested without the engine:
it registers with a join token, long-polls for tasks, and for each task walks its
containers through PENDING → RUNNING → STOPPED on a script (how long each runs, its exit
code, its health, whether its image can be pulled), honouring ``dependsOn`` (START,
HEALTHY, COMPLETE, SUCCESS), essential containers and StopTask, and reports every change
in order. It writes ``awslogs`` output through the ``logs`` call. It registers the real
agent's capability attributes (``capabilities=()`` registers none) and ``attributes``.

    agent = FakeAgent(url, token, hostname="a", attributes={"ecs.availability-zone": "a"})
    agent.start()              # register + poll + simulate, in two threads
    agent.silence()            # stop heartbeating (the control plane should notice)
    agent.stop()               # stop the threads (simulated containers are forgotten)

After an error (``cais up`` restarting, a session that ended) it registers again with the
same machine id and reports every task it knows, as the real agent must.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cais.agent import protocol
from cais.agent.machine import CAPABILITIES

DYNAMIC_PORTS = 32768


@dataclass(frozen=True)
class Behaviour:
    """How one simulated container behaves.

    ``runs_for`` seconds after it starts it exits with ``exit_code`` (None: runs until
    stopped); with a health check it turns ``health`` after ``healthy_after`` seconds;
    ``pull_fails`` makes the task fail to start naming its image; ``output`` lines go to
    its log.
    """

    runs_for: float | None = None
    exit_code: int = 0
    health: str = "HEALTHY"
    healthy_after: float = 0.2
    pull_fails: bool = False
    output: tuple[str, ...] = ()
    start_delay: float = 0.05


Script = Callable[[protocol.TaskSpec, protocol.ContainerSpec], Behaviour]


def default_script(task: protocol.TaskSpec, container: protocol.ContainerSpec) -> Behaviour:
    """Containers run until stopped; an image whose name contains ``missing`` cannot be
    pulled; a command ``["exit", "N"]`` exits with N after 0.3 s."""
    if "missing" in container.image:
        return Behaviour(pull_fails=True)
    command = container.command or ()
    if len(command) == 2 and command[0] == "exit":
        return Behaviour(runs_for=0.3, exit_code=int(command[1]))
    return Behaviour(output=(f"hello from {container.name}",))


@dataclass
class SimContainer:
    spec: protocol.ContainerSpec
    behaviour: Behaviour
    status: str = "PENDING"
    started: float | None = None
    exit_code: int | None = None
    reason: str = ""
    health: str = "UNKNOWN"
    bindings: tuple[protocol.NetworkBinding, ...] = ()
    logged: bool = False


@dataclass
class SimTask:
    spec: protocol.TaskSpec
    containers: dict[str, SimContainer]
    status: str = "PENDING"
    stop_requested: bool = False
    stop_code: str = ""
    stopped_reason: str = ""
    pull_started: float | None = None
    pull_stopped: float | None = None
    started: float | None = None
    stopped: float | None = None
    dirty: bool = True
    events: list[str] = field(default_factory=list)


class AgentHttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


class FakeAgent:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        cluster: str = "",
        hostname: str = "fake",
        cpu: int = 2048,
        memory: int = 4096,
        ports_tcp: tuple[int, ...] = (22,),
        attributes: Mapping[str, str | None] | None = None,
        capabilities: Sequence[str] = CAPABILITIES,
        instance_id: str = "",
        script: Script = default_script,
        poll_wait: float = 2.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.cluster = cluster
        self.hostname = hostname
        self.resources = protocol.Resources(cpu=cpu, memory=memory, ports_tcp=ports_tcp)
        found: dict[str, str | None] = {**dict.fromkeys(capabilities), **(attributes or {})}
        self.attributes = tuple(protocol.Attribute(k, v) for k, v in found.items())
        self.instance_id = instance_id
        self.script = script
        self.poll_wait = poll_wait
        self.session = ""
        self.arn = ""
        self.heartbeat = 0.0
        self.tasks: dict[str, SimTask] = {}
        self.errors: list[str] = []
        self.registrations = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._silent = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_port = DYNAMIC_PORTS

    # -- protocol calls ---------------------------------------------------------------------

    def call(self, name: str, body: Any, *, timeout: float = 30.0) -> dict[str, Any]:
        data = json.dumps(protocol.to_wire(body)).encode()
        headers = {"Content-Type": "application/json"}
        if name != protocol.REGISTER:
            headers["Authorization"] = f"Bearer {self.session}"
        request = urllib.request.Request(
            f"{self.url}{protocol.PREFIX}/{name}", data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                out: dict[str, Any] = json.loads(response.read() or b"{}")
                return out
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = {"error": "?", "message": raw.decode(errors="replace")}
            raise AgentHttpError(exc.code, parsed) from None

    def register(self) -> protocol.RegisterResponse:
        request = protocol.RegisterRequest(
            cluster=self.cluster,
            token=self.token,
            hostname=self.hostname,
            resources=self.resources,
            attributes=self.attributes,
            agent_version="fake-1.0",
            instance_id=self.instance_id,
        )
        answer = protocol.from_wire(
            protocol.RegisterResponse, self.call(protocol.REGISTER, request)
        )
        with self._lock:
            self.session = answer.session_token
            self.arn = answer.container_instance_arn
            self.instance_id = answer.instance_id
            self.heartbeat = answer.heartbeat_seconds
            self.registrations += 1
            for task in self.tasks.values():
                task.dirty = True  # report everything again to the (maybe new) control plane
        return answer

    def known(self) -> dict[str, str]:
        with self._lock:
            return {arn: t.status for arn, t in self.tasks.items()}

    def poll_once(self, wait: float | None = None) -> tuple[protocol.TaskSpec, ...]:
        request = protocol.PollRequest(
            known=self.known(), wait_seconds=self.poll_wait if wait is None else wait
        )
        answer = protocol.from_wire(
            protocol.PollResponse,
            self.call(protocol.POLL, request, timeout=request.wait_seconds + 30),
        )
        for spec in answer.tasks:
            self._receive(spec)
        return tuple(answer.tasks)

    def deregister(self) -> None:
        self.call(protocol.DEREGISTER, {})

    # -- threads ----------------------------------------------------------------------------

    def start(self) -> FakeAgent:
        if not self.session:
            self.register()
        for name, target in (("poll", self._poll_loop), ("sim", self._sim_loop)):
            thread = threading.Thread(
                target=target, name=f"fake-agent-{self.hostname}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._threads.clear()

    def silence(self) -> None:
        """Stop polling (no more heartbeats) while the containers keep "running"."""
        self._silent.set()

    def resume(self) -> None:
        self._silent.clear()

    def _retry(self, exc: Exception) -> None:
        self.errors.append(repr(exc))
        if isinstance(exc, AgentHttpError) and exc.status == 410:
            self._stop.set()
            return
        time.sleep(0.2)
        try:
            self.register()
        except Exception as again:  # the control plane may still be down
            self.errors.append(repr(again))
            time.sleep(0.3)

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            if self._silent.is_set():
                time.sleep(0.05)
                continue
            try:
                self.poll_once()
            except Exception as exc:
                if self._stop.is_set():
                    return
                self._retry(exc)

    def _sim_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step(time.time())
                self._flush()
            except Exception as exc:
                if self._stop.is_set():
                    return
                self._retry(exc)
            time.sleep(0.03)

    # -- simulation -------------------------------------------------------------------------

    def _receive(self, spec: protocol.TaskSpec) -> None:
        with self._lock:
            task = self.tasks.get(spec.task_arn)
            if task is None:
                containers = {
                    c.name: SimContainer(c, self.script(spec, c)) for c in spec.containers
                }
                task = self.tasks[spec.task_arn] = SimTask(spec, containers)
                task.events.append("received")
                if spec.desired_status == "STOPPED":
                    self._finish(task, "", spec.stop_reason or "stopped before it started")
                    return
                if spec.initialization_error:  # as the real agent: nothing provisioned
                    self._finish(task, "TaskFailedToStart", spec.initialization_error)
                    return
                task.pull_started = time.time()
            if spec.desired_status == "STOPPED" and not task.stop_requested:
                task.stop_requested = True
                task.stopped_reason = spec.stop_reason
                task.dirty = True

    def _ready(self, task: SimTask, container: SimContainer) -> bool | None:
        """Whether the container may start: True, False (wait) or None (never)."""
        for dependency in container.spec.depends_on:
            other = task.containers[dependency.container_name]
            condition = dependency.condition
            if condition == "START" and other.status == "PENDING":
                return False
            if condition == "HEALTHY":
                if other.health == "UNHEALTHY" or (
                    other.status == "STOPPED" and other.health != "HEALTHY"
                ):
                    return None
                if other.health != "HEALTHY":
                    return False
            if condition in ("COMPLETE", "SUCCESS") and other.status != "STOPPED":
                return False
            if condition == "SUCCESS" and other.exit_code != 0:
                return None
        return True

    def _step(self, now: float) -> None:
        with self._lock:
            for task in self.tasks.values():
                if task.status == "STOPPED":
                    continue
                self._step_task(task, now)

    def _step_task(self, task: SimTask, now: float) -> None:
        if task.pull_stopped is None:
            failing = [c for c in task.containers.values() if c.behaviour.pull_fails]
            if failing:
                image = failing[0].spec.image
                for c in task.containers.values():
                    c.reason = f"CannotPullContainerError: pull image {image}: not found"
                self._finish(
                    task,
                    "TaskFailedToStart",
                    f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                    f"{image}: not found",
                )
                return
            task.pull_stopped = now
            task.dirty = True
        if task.stop_requested:
            self._stop_all(task, now, exit_code=143)
            return
        for container in task.containers.values():
            behaviour = container.behaviour
            if container.status == "PENDING":
                ready = self._ready(task, container)
                if ready is None:
                    container.status = "STOPPED"
                    container.reason = "dependency condition will never be met"
                    task.dirty = True
                elif ready and now - task.pull_stopped >= behaviour.start_delay:
                    container.status = "RUNNING"
                    container.started = now
                    container.bindings = self._bindings(task.spec, container.spec)
                    task.dirty = True
            elif container.status == "RUNNING":
                if (
                    container.spec.health_check
                    and container.health != behaviour.health
                    and (now - (container.started or now) >= behaviour.healthy_after)
                ):
                    container.health = behaviour.health
                    task.dirty = True
                if not container.logged and behaviour.output:
                    self._write_logs(task, container, now)
                if (
                    behaviour.runs_for is not None
                    and now - (container.started or now) >= behaviour.runs_for
                ):
                    container.status = "STOPPED"
                    container.exit_code = behaviour.exit_code
                    task.dirty = True
                    if container.spec.essential:
                        task.stop_code = "EssentialContainerExited"
                        task.stopped_reason = "Essential container in task exited"
                        self._stop_all(task, now, exit_code=143)
                        return
        statuses = {c.status for c in task.containers.values()}
        if task.status == "PENDING" and "PENDING" not in statuses:
            task.status = "RUNNING"
            task.started = now
            task.dirty = True
        if statuses == {"STOPPED"}:
            self._finish(task, task.stop_code or "EssentialContainerExited", task.stopped_reason)

    def _stop_all(self, task: SimTask, now: float, *, exit_code: int) -> None:
        for container in reversed(list(task.containers.values())):
            if container.status == "RUNNING":
                container.status = "STOPPED"
                container.exit_code = exit_code
            elif container.status == "PENDING":
                container.status = "STOPPED"
        if task.status not in ("STOPPED",):
            task.status = "STOPPING"
            task.dirty = True
            self._flush_locked()
        self._finish(task, task.stop_code, task.stopped_reason)

    def _finish(self, task: SimTask, code: str, reason: str) -> None:
        for container in task.containers.values():
            if container.status != "STOPPED":
                container.status = "STOPPED"
        task.status = "STOPPED"
        task.stop_code = task.stop_code or code
        task.stopped_reason = task.stopped_reason or reason
        task.stopped = time.time()
        task.dirty = True

    def _bindings(
        self, task: protocol.TaskSpec, container: protocol.ContainerSpec
    ) -> tuple[protocol.NetworkBinding, ...]:
        if task.network_mode in ("awsvpc", "none"):
            return ()
        out = []
        for mapping in container.port_mappings:
            port = mapping.host_port
            if not port:
                port = self._next_port
                self._next_port += 1
            out.append(protocol.NetworkBinding(mapping.container_port, port, mapping.protocol))
        return tuple(out)

    def _write_logs(self, task: SimTask, container: SimContainer, now: float) -> None:
        container.logged = True
        config = container.spec.log_configuration
        if config is None or config.driver != "awslogs":
            return
        options = config.options
        task_id = task.spec.task_arn.rsplit("/", 1)[-1]
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{container.spec.name}/{task_id}" if prefix else task_id
        request = protocol.LogsRequest(
            group=options["awslogs-group"],
            stream=stream,
            events=tuple(
                protocol.LogEvent(int(now * 1000), line) for line in container.behaviour.output
            ),
            region=options.get("awslogs-region", ""),
            create_group=options.get("awslogs-create-group") == "true",
        )
        try:
            self.call(protocol.LOGS, request)
        except AgentHttpError as exc:
            self.errors.append(repr(exc))

    # -- reports ----------------------------------------------------------------------------

    def state_of(self, task: SimTask) -> protocol.TaskState:
        return protocol.TaskState(
            task_arn=task.spec.task_arn,
            last_status=task.status,
            containers=tuple(
                protocol.ContainerState(
                    name=c.spec.name,
                    last_status=c.status,
                    runtime_id=f"fake-{c.spec.name}",
                    exit_code=c.exit_code,
                    reason=c.reason,
                    health_status=c.health,
                    network_bindings=c.bindings,
                    image_digest="sha256:" + "0" * 64,
                )
                for c in task.containers.values()
            ),
            stop_code=task.stop_code if task.status == "STOPPED" else "",
            stopped_reason=task.stopped_reason if task.status in ("STOPPING", "STOPPED") else "",
            pull_started_at=task.pull_started,
            pull_stopped_at=task.pull_stopped,
            started_at=task.started,
            execution_stopped_at=task.stopped,
            private_ipv4="10.99.0.2" if task.spec.network_mode == "awsvpc" else "",
        )

    def _flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        dirty = [t for t in self.tasks.values() if t.dirty]
        if not dirty:
            return
        states = tuple(self.state_of(t) for t in dirty)
        self.call(protocol.REPORT, protocol.ReportRequest(tasks=states))
        for task in dirty:
            task.dirty = False

    # -- waiting (for tests) ----------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting; agent errors: {self.errors[-5:]}")

    def task_count(self) -> int:
        with self._lock:
            return len(self.tasks)
