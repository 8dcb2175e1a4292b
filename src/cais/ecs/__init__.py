"""The orchestrator: the Amazon ECS API over a domain model of clusters, tasks and instances.

- :class:`Ecs` (``service``/``tasks``) — the domain: clusters, task definitions, container
  instances, placement through the pure scheduler (``scheduler/``), the task lifecycle;
- :class:`EcsProvider` — ``AmazonEC2ContainerServiceV20141113.*`` over it;
- :class:`AgentGateway` — the control plane's side of the agent protocol;
- :class:`EcsStore` — the state, behind a protocol (:class:`SqliteEcsStore` today).

Decisions (what differs from AWS, on purpose):

- **Instances join with a join token** (``cais ecs create-join-token``) through the agent
  protocol, not with EC2 identity documents; an instance's ``ec2InstanceId`` is the agent's
  machine id. RegisterContainerInstance works but gives an instance with no agent.
- **agentConnected** is derived from heartbeats (each agent poll): an agent silent for
  ``missed_heartbeats`` heartbeats is disconnected and gets no new tasks.
- **awsvpc** needs no ``networkConfiguration`` (the task gets its own namespace on its
  instance); **Fargate**, capacity providers and services come later: such calls answer
  InvalidParameterException.
- **Stopped tasks** stay visible for an hour (``stopped_task_retention``), as on ECS.
- **repositoryCredentials** name a secret of cais's own small secret store (see
  :mod:`cais.ecs.specs`); images of this platform's registry get an ECR login.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cais.ecs.agents import AgentError, AgentGateway
from cais.ecs.model import (
    Cluster,
    Container,
    ContainerInstance,
    JoinToken,
    Resources,
    Scope,
    Task,
    TaskDefinition,
)
from cais.ecs.provider import VALIDATION_ERROR, EcsProvider
from cais.ecs.service import Ecs, EcsSettings
from cais.ecs.specs import RegistryLogins, SpecBuilder
from cais.ecs.sqlite import SqliteEcsStore
from cais.ecs.store import EcsStore

if TYPE_CHECKING:
    from cais.aws.dispatch import Dispatcher

SERVICE_NAME = "ecs"


def register(dispatcher: Dispatcher, ecs: Ecs) -> EcsProvider:
    """Serve ``AmazonEC2ContainerServiceV20141113.*`` from ``ecs`` on ``dispatcher``."""
    provider = EcsProvider(ecs)
    dispatcher.register(SERVICE_NAME, provider, validation_error=VALIDATION_ERROR)
    return provider


__all__ = [
    "SERVICE_NAME",
    "AgentError",
    "AgentGateway",
    "Cluster",
    "Container",
    "ContainerInstance",
    "Ecs",
    "EcsProvider",
    "EcsSettings",
    "EcsStore",
    "JoinToken",
    "RegistryLogins",
    "Resources",
    "Scope",
    "SpecBuilder",
    "SqliteEcsStore",
    "Task",
    "TaskDefinition",
    "register",
]
