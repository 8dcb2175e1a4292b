"""What an agent is handed for a task: its definition fully resolved.

Overrides are applied, host ports of ``bridge`` mode stay 0 where the agent picks them, and
registry credentials are filled in:

- ``repositoryCredentials.credentialsParameter`` names a secret of the control plane's small
  secret store (``cais ecs create-secret``), by name or by a Secrets Manager style ARN
  ``arn:aws:secretsmanager:<region>:<account>:secret:<name>``; its value is the JSON
  ``{"username": …, "password": …}`` that ECS expects of such a secret. A secret that does
  not exist (or is not that JSON) fails the task before anything is pulled, as on ECS:
  the spec's ``initialization_error`` is ECS's ``ResourceInitializationError: unable to
  pull secrets or registry auth: …`` and the agent stops the task with TaskFailedToStart.
- An image in this ``cais up``'s own registry gets an ECR login (``AWS`` and a 12-hour
  password) for the account and access key that ran the task.

``environmentFiles`` are read here too (``envfiles``: S3 objects are files under
``<cais root>/s3``) and merged into each container's environment, its ``environment``
winning; a file that cannot be read or parsed is the spec's ``initialization_error``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

from cais.agent import protocol
from cais.ecs import envfiles, taskdef
from cais.ecs.model import Scope, Task, TaskDefinition

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 30
SECRETS_FAILED = "ResourceInitializationError: unable to pull secrets or registry auth: "


class SecretError(Exception):
    """A registry secret that cannot be used; the message is the task's stopped reason."""


class RegistryLogins(Protocol):
    """Logins for this platform's own registry (the ECR room issues them)."""

    @property
    def hosts(self) -> Collection[str]:
        """The ``host:port`` names image references use for the registry."""
        ...

    def password(self, *, account: str, access_key_id: str) -> str | None: ...


class SecretLookup(Protocol):
    def secret(self, scope: Scope, name: str) -> str | None: ...


def image_host(image: str) -> str | None:
    """The registry host of an image reference, or None for Docker Hub short names."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def secret_name(parameter: str, scope: Scope) -> str | None:
    """A secret's name from its name or ARN (an ARN of another scope names nothing)."""
    if not parameter.startswith("arn:"):
        return parameter
    parts = parameter.split(":", 6)
    if len(parts) != 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
        return None
    if parts[3] != scope.region or parts[4] != scope.account:
        return None
    return parts[6]


class SpecBuilder:
    """Resolves tasks into the agent protocol's TaskSpec."""

    def __init__(
        self,
        secrets: SecretLookup,
        logins: RegistryLogins | None = None,
        *,
        s3_root: Path | None = None,
    ) -> None:
        """``s3_root`` holds the buckets of ``environmentFiles`` (None: every file is missing)."""
        self._secrets = secrets
        self._logins = logins
        self._s3 = envfiles.S3Directory(s3_root) if s3_root is not None else None

    def spec(self, task: Task, definition: TaskDefinition) -> protocol.TaskSpec:
        body = definition.body
        containers = taskdef.apply_container_overrides(body, task.overrides)
        cpu_text = task.overrides.get("cpu") or body.get("cpu")
        memory_text = task.overrides.get("memory") or body.get("memory")
        problems: list[str] = []
        return protocol.TaskSpec(
            task_arn=task.arn,
            cluster_arn=task.cluster_arn,
            family=task.family,
            revision=task.revision,
            desired_status=task.desired_status,
            network_mode=definition.network_mode,
            containers=tuple(self._container(c, task, problems) for c in containers),
            volumes=tuple(_volume(v) for v in body.get("volumes") or ()),
            cpu=taskdef.parse_task_cpu(str(cpu_text)) if cpu_text is not None else None,
            memory=taskdef.parse_task_memory(str(memory_text)) if memory_text is not None else None,
            stop_reason=task.stopped_reason if task.desired_status == "STOPPED" else "",
            initialization_error=problems[0] if problems else "",
        )

    def _container(
        self, c: Mapping[str, Any], task: Task, problems: list[str]
    ) -> protocol.ContainerSpec:
        """One container's spec; a registry secret or env file it cannot use goes to
        ``problems``."""
        try:
            auth = self._auth(c, task)
        except SecretError as exc:
            auth = None
            problems.append(str(exc))
        environment = {e["name"]: e.get("value", "") for e in c.get("environment") or ()}
        try:
            environment = envfiles.merge(environment, self._env_files(c))
        except envfiles.EnvFileError as exc:
            log.warning("environmentFiles of %s: %s", task.arn, exc)
            problems.append(f"{envfiles.DOWNLOAD_FAILED}{exc}")
        linux = c.get("linuxParameters") or {}
        capabilities = linux.get("capabilities") or {}
        log_config = c.get("logConfiguration")
        health = c.get("healthCheck")
        return protocol.ContainerSpec(
            name=c["name"],
            image=c["image"],
            essential=bool(c.get("essential", True)),
            command=tuple(c["command"]) if c.get("command") is not None else None,
            entry_point=tuple(c["entryPoint"]) if c.get("entryPoint") is not None else None,
            environment=environment,
            working_directory=c.get("workingDirectory") or "",
            user=c.get("user") or "",
            cpu=int(c.get("cpu") or 0),
            memory=c.get("memory"),
            memory_reservation=c.get("memoryReservation"),
            port_mappings=tuple(
                protocol.PortMapping(
                    container_port=p["containerPort"],
                    host_port=p.get("hostPort") or 0,
                    protocol=p.get("protocol") or "tcp",
                )
                for p in c.get("portMappings") or ()
            ),
            depends_on=tuple(
                protocol.Dependency(d["containerName"], d["condition"])
                for d in c.get("dependsOn") or ()
            ),
            health_check=protocol.HealthCheck(
                command=tuple(health["command"]),
                interval=health.get("interval", 30),
                timeout=health.get("timeout", 5),
                retries=health.get("retries", 3),
                start_period=health.get("startPeriod", 0),
            )
            if health
            else None,
            stop_timeout=c.get("stopTimeout") or DEFAULT_STOP_TIMEOUT,
            links=tuple(c.get("links") or ()),
            mount_points=tuple(
                protocol.MountPoint(m["sourceVolume"], m["containerPath"], bool(m.get("readOnly")))
                for m in c.get("mountPoints") or ()
            ),
            ulimits=tuple(
                (u["name"], u["softLimit"], u["hardLimit"]) for u in c.get("ulimits") or ()
            ),
            cap_add=tuple(capabilities.get("add") or ()),
            cap_drop=tuple(capabilities.get("drop") or ()),
            init_process_enabled=bool(linux.get("initProcessEnabled")),
            readonly_root_filesystem=bool(c.get("readonlyRootFilesystem")),
            docker_labels=dict(c.get("dockerLabels") or {}),
            log_configuration=protocol.LogConfiguration(
                log_config["logDriver"], dict(log_config.get("options") or {})
            )
            if log_config
            else None,
            registry_auth=auth,
        )

    def _env_files(self, c: Mapping[str, Any]) -> list[dict[str, str]]:
        """The variables of each of the container's env files, in the definition's order."""
        files = []
        for source in c.get("environmentFiles") or ():
            arn = str(source.get("value", ""))
            if self._s3 is None:
                raise envfiles.EnvFileError(f"no S3 directory to read {arn} from")
            files.append(self._s3.read(arn))
        return files

    def _auth(self, c: Mapping[str, Any], task: Task) -> protocol.RegistryAuth | None:
        credentials = c.get("repositoryCredentials")
        if credentials and credentials.get("credentialsParameter"):
            return self._secret_auth(str(credentials["credentialsParameter"]), task.scope)
        host = image_host(str(c["image"]))
        if self._logins is not None and host is not None and host in self._logins.hosts:
            password = self._logins.password(
                account=task.scope.account, access_key_id=task.access_key_id
            )
            if password is not None:
                return protocol.RegistryAuth("AWS", password)
        return None

    def _secret_auth(self, parameter: str, scope: Scope) -> protocol.RegistryAuth:
        """The credentials a secret holds; SecretError (with ECS's words) when it cannot."""
        retrieval = "execution resource retrieval failed: unable to retrieve secret from asm: "
        name = secret_name(parameter, scope)
        value = self._secrets.secret(scope, name) if name else None
        if value is None:
            log.warning("repositoryCredentials: no secret %r in %s", parameter, scope)
            raise SecretError(
                f"{SECRETS_FAILED}{retrieval}failed to fetch secret {parameter} from secrets "
                "manager: ResourceNotFoundException: Secrets Manager can't find the specified "
                "secret."
            )
        try:
            doc = json.loads(value)
            return protocol.RegistryAuth(str(doc["username"]), str(doc["password"]))
        except (ValueError, KeyError, TypeError):
            log.warning("repositoryCredentials: secret %r is not {username, password}", parameter)
            raise SecretError(
                f"{SECRETS_FAILED}{retrieval}secret {parameter} is not the JSON object "
                '{"username": ..., "password": ...} that registry credentials need'
            ) from None


def _volume(v: Mapping[str, Any]) -> protocol.Volume:
    docker = v.get("dockerVolumeConfiguration")
    if docker is not None:
        return protocol.Volume(
            name=v["name"],
            scope=docker.get("scope") or "task",
            autoprovision=bool(docker.get("autoprovision", False)),  # ECS's default
        )
    host = v.get("host") or {}
    return protocol.Volume(name=v["name"], host_path=host.get("sourcePath") or "")
