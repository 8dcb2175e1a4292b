"""A task definition's ``requiresAttributes``: the agent capabilities it needs, as ECS names them.

ECS derives this list when a definition is registered and places its tasks only on
container instances whose attributes include every name (otherwise RunTask's failure
reason is ``ATTRIBUTE``). The subset derived here covers the features an agent may lack:
the awslogs driver, container health checks, awsvpc (task ENIs), Secrets Manager / SSM
secrets, private registry authentication, task roles, container ordering, privileged
containers and S3 environment files, with the Docker Remote API versions ECS adds beside
some of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DOCKER_API = "com.amazonaws.ecs.capability.docker-remote-api."
AWSLOGS = "com.amazonaws.ecs.capability.logging-driver.awslogs"
EXECUTION_ROLE_AWSLOGS = "ecs.capability.execution-role-awslogs"
HEALTH_CHECK = "ecs.capability.container-health-check"
TASK_ENI = "ecs.capability.task-eni"
SECRETS_ASM = "ecs.capability.secrets.asm.environment-variables"
SECRETS_SSM = "ecs.capability.secrets.ssm.environment-variables"
PRIVATE_REGISTRY = "ecs.capability.private-registry-authentication.secretsmanager"
TASK_IAM_ROLE = "com.amazonaws.ecs.capability.task-iam-role"
CONTAINER_ORDERING = "ecs.capability.container-ordering"
PRIVILEGED = "com.amazonaws.ecs.capability.privileged-container"
ENV_FILES = "ecs.capability.env-files.s3"


def required_attributes(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """``requiresAttributes`` of a normalised body: ``[{"name": …}]``, each name once."""
    names: list[str] = []

    def need(*found: str) -> None:
        names.extend(n for n in found if n not in names)

    if body.get("networkMode") == "awsvpc":
        need(TASK_ENI, DOCKER_API + "1.18")
    if body.get("taskRoleArn"):
        need(TASK_IAM_ROLE)
    containers: Sequence[Mapping[str, Any]] = body.get("containerDefinitions") or ()
    for container in containers:
        log = container.get("logConfiguration") or {}
        if log.get("logDriver") == "awslogs":
            need(AWSLOGS, DOCKER_API + "1.19")
            if body.get("executionRoleArn"):
                need(EXECUTION_ROLE_AWSLOGS)
        if container.get("healthCheck") is not None:
            need(HEALTH_CHECK, DOCKER_API + "1.24")
        for secret in container.get("secrets") or ():
            need(SECRETS_ASM if ":secretsmanager:" in str(secret.get("valueFrom")) else SECRETS_SSM)
        if container.get("repositoryCredentials"):
            need(PRIVATE_REGISTRY)
        if container.get("dependsOn"):
            need(CONTAINER_ORDERING)
        if container.get("privileged"):
            need(PRIVILEGED)
        if container.get("environmentFiles"):
            need(ENV_FILES)
    return [{"name": name} for name in names]
