"""The control plane's side of the agent protocol (:mod:`cais.agent.protocol`).

Plain, blocking calls over the domain; the HTTP layer and the long poll's waiting live in
the server component (``cais.server.ecs``), which runs these on worker threads.

- ``register``: a join token in, a container instance and a session token out. The same
  machine (the agent's ``instance_id``) registering again to the same cluster gets the same
  container instance back, with a new session; its tasks stay where they are.
- ``authenticate``: a session token → its container instance (a token of an older session
  of that instance, or a forged one, is refused).
- ``work``: what an agent must be told, given what it knows: tasks it must run that it does
  not know yet, and tasks it must stop that it has not reported STOPPED.
- ``report`` / ``logs`` / ``deregister``.

Errors are :class:`AgentError`: the protocol's ``{"error", "message"}`` and an HTTP status.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from typing import Protocol

from cais.agent import protocol
from cais.aws.errors import AwsError
from cais.ecs import tokens
from cais.ecs.lifecycle import ReportError
from cais.ecs.model import (
    DEFAULT_CLUSTER,
    Attribute,
    ContainerInstance,
    JoinToken,
    Resources,
    Scope,
    TaskDefinition,
)
from cais.ecs.service import Ecs, new_id
from cais.ecs.specs import SpecBuilder
from cais.logs.model import InputEvent
from cais.logs.model import Scope as LogScope

log = logging.getLogger(__name__)

LOCAL_TOKEN = "local_join_token"
SESSION_SECRET = "session_secret"


class AgentError(Exception):
    """An agent call's error: ``type`` names it, ``status`` is the HTTP status."""

    def __init__(self, type: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.type, "message": self.message}


def bad_request(message: str) -> AgentError:
    return AgentError("BadRequest", message)


class LogSink(Protocol):
    """Where container output goes (CloudWatch Logs' store)."""

    def append(
        self,
        group: str,
        stream: str,
        lines: Iterable[InputEvent],
        *,
        scope: LogScope = ...,
        create_group: bool = False,
        create_stream: bool = True,
    ) -> int: ...

    def get_group(self, scope: LogScope, name: str) -> object: ...


class AgentGateway:
    def __init__(self, ecs: Ecs, specs: SpecBuilder, *, logs: LogSink | None = None) -> None:
        self.ecs = ecs
        self.store = ecs.store
        self.specs = specs
        self.logs = logs
        secret = self.store.meta(SESSION_SECRET, secrets.token_hex(32))
        self.sessions = tokens.SessionTokens(bytes.fromhex(secret))

    # -- join tokens ------------------------------------------------------------------------

    def create_join_token(
        self,
        scope: Scope,
        *,
        cluster: str = "",
        description: str = "",
        ttl: float | None = None,
    ) -> tuple[str, JoinToken]:
        """A new join token (shown once: only its digest is kept)."""
        secret = tokens.new_join_token()
        now = self.ecs.clock()
        record = JoinToken(
            id=new_id()[:12],
            scope=scope,
            cluster=cluster,
            created_at=now,
            description=description,
            expires_at=now + ttl if ttl else None,
        )
        self.store.add_join_token(record, digest=tokens.digest(secret))
        return secret, record

    def local_token(self, scope: Scope, *, cluster: str = DEFAULT_CLUSTER) -> str:
        """The join token of ``cais up``'s own agent: made once, the same after restarts."""
        secret = self.store.meta(LOCAL_TOKEN, tokens.new_join_token())
        if self.store.join_token(tokens.digest(secret)) is None:
            record = JoinToken(
                id="local",
                scope=scope,
                cluster=cluster,
                created_at=self.ecs.clock(),
                description="the local agent of cais up",
            )
            try:
                self.store.add_join_token(record, digest=tokens.digest(secret))
            except Exception:
                if self.store.join_token(tokens.digest(secret)) is None:
                    raise
        return secret

    # -- calls ------------------------------------------------------------------------------

    def register(self, request: protocol.RegisterRequest) -> protocol.RegisterResponse:
        token = self.store.join_token(tokens.digest(request.token)) if request.token else None
        if token is None:
            raise AgentError("InvalidJoinToken", "The join token is not valid.", status=401)
        if token.expires_at is not None and self.ecs.clock() >= token.expires_at:
            raise AgentError("InvalidJoinToken", "The join token has expired.", status=401)
        cluster_name = request.cluster or token.cluster or DEFAULT_CLUSTER
        if token.cluster and cluster_name != token.cluster:
            raise AgentError(
                "AccessDenied",
                f"This join token only lets machines join cluster {token.cluster!r}.",
                status=403,
            )
        resources = request.resources
        if resources.cpu <= 0 or resources.memory <= 0:
            raise bad_request("resources must offer some CPU and memory")
        try:
            cluster = self.ecs.ensure_cluster(token.scope, cluster_name)
        except AwsError as exc:
            raise AgentError(exc.type, exc.message, status=404) from None
        session = tokens.new_session()
        instance = self.ecs.register_instance(
            cluster,
            machine=request.instance_id,
            hostname=request.hostname,
            resources=Resources(
                cpu=resources.cpu,
                memory=resources.memory,
                tcp_ports=frozenset(resources.ports_tcp),
                udp_ports=frozenset(resources.ports_udp),
            ),
            attributes=[Attribute(a.name, a.value) for a in request.attributes],
            agent_version=request.agent_version,
            has_agent=True,
            session=session,
        )
        self.ecs.notify(instance.arn)  # an older session's long poll ends now
        log.info("agent %s registered %s", request.hostname, instance.arn)
        return protocol.RegisterResponse(
            container_instance_arn=instance.arn,
            instance_id=instance.ec2_instance_id,
            session_token=self.sessions.issue(instance.arn, session),
            heartbeat_seconds=self.ecs.settings.heartbeat,
        )

    def authenticate(self, authorization: str | None) -> ContainerInstance:
        scheme, _, token = (authorization or "").partition(" ")
        session = self.sessions.verify(token.strip()) if scheme.lower() == "bearer" else None
        if session is None:
            raise AgentError("InvalidSession", "A valid session token is required.", status=401)
        instance = self.store.instance_by_arn(session.instance_arn)
        if instance is None or instance.session != session.session:
            raise AgentError(
                "InvalidSession",
                "The session has ended (the instance registered again); register again.",
                status=401,
            )
        return instance

    def heartbeat(self, instance: ContainerInstance) -> None:
        self.store.heartbeat(instance.arn, now=self.ecs.clock())

    def work(
        self, instance: ContainerInstance, known: Mapping[str, str]
    ) -> tuple[protocol.TaskSpec, ...]:
        """The tasks the agent must hear about now (empty: nothing new).

        Raises InstanceInactive once a deregistered instance has nothing left to stop.
        """
        tasks = self.store.instance_tasks(instance.arn)
        news = [
            t
            for t in tasks
            if (t.desired_status == "RUNNING" and t.arn not in known)
            or (t.desired_status == "STOPPED" and known.get(t.arn) != "STOPPED")
        ]
        current = self.store.instance_by_arn(instance.arn)
        if current is None or (current.status == "INACTIVE" and not news):
            raise AgentError(
                "InstanceInactive", "The container instance was deregistered.", status=410
            )
        definitions: dict[str, TaskDefinition] = {}
        out = []
        for task in news:
            definition = definitions.get(task.task_definition_arn)
            if definition is None:
                definition = self.ecs.find_task_definition(task.scope, task.task_definition_arn)
                if definition is None:
                    log.error("task %s: its task definition is gone", task.arn)
                    continue
                definitions[task.task_definition_arn] = definition
            out.append(self.specs.spec(task, definition))
        return tuple(out)

    def report(
        self, instance: ContainerInstance, request: protocol.ReportRequest
    ) -> protocol.ReportResponse:
        self.heartbeat(instance)
        try:
            accepted, unknown = self.ecs.report(instance, request.tasks)
        except ReportError as exc:
            raise bad_request(str(exc)) from None
        if unknown:
            log.info("agent of %s reported unknown tasks %s", instance.arn, unknown)
        return protocol.ReportResponse(accepted=tuple(accepted), unknown=tuple(unknown))

    def write_logs(self, instance: ContainerInstance, request: protocol.LogsRequest) -> int:
        if self.logs is None:
            raise AgentError("NotSupported", "This control plane keeps no logs.", status=501)
        if not request.group or not request.stream:
            raise bad_request("logs need a group and a stream")
        scope = LogScope(instance.scope.account, request.region or instance.scope.region)
        events = [InputEvent(e.timestamp_ms, e.message) for e in request.events]
        try:
            return self.logs.append(
                request.group,
                request.stream,
                events,
                scope=scope,
                create_group=request.create_group,
            )
        except AwsError as exc:
            status = 404 if exc.type == "ResourceNotFoundException" else 400
            raise AgentError(exc.type, exc.message, status=status) from None

    def log_group(
        self, instance: ContainerInstance, request: protocol.LogGroupRequest
    ) -> protocol.LogGroupResponse:
        """Whether an awslogs group exists (in the instance's account, the given region)."""
        if self.logs is None:
            raise AgentError("NotSupported", "This control plane keeps no logs.", status=501)
        if not request.group:
            raise bad_request("log_group needs a group")
        scope = LogScope(instance.scope.account, request.region or instance.scope.region)
        try:
            self.logs.get_group(scope, request.group)
        except AwsError as exc:
            if exc.type != "ResourceNotFoundException":
                raise AgentError(exc.type, exc.message) from None
            return protocol.LogGroupResponse(exists=False)
        return protocol.LogGroupResponse(exists=True)

    def deregister(self, instance: ContainerInstance) -> None:
        if instance.status != "INACTIVE":
            self.ecs.deregister_instance(
                instance, force=True, reason="The agent deregistered the container instance"
            )
