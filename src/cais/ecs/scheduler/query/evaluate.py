"""Evaluating an expression against instances of a snapshot (ListContainerInstances --filter)."""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass

from cais.ecs.scheduler.query.nodes import Expression
from cais.ecs.scheduler.state import ClusterState, ContainerInstance


@dataclass(frozen=True)
class InstanceFacts:
    """A container instance and what runs on it in a snapshot: a QuerySubject."""

    instance: ContainerInstance
    running_tasks_count: int
    task_groups: Set[str]

    @classmethod
    def of(cls, instance: ContainerInstance, state: ClusterState) -> InstanceFacts:
        tasks = state.tasks_on(instance.arn)
        return cls(instance, tasks.running_count, tasks.groups)


def evaluate(expression: Expression, instance: ContainerInstance, state: ClusterState) -> bool:
    """Whether ``instance`` (with the tasks ``state`` has on it) satisfies ``expression``."""
    return expression.holds(InstanceFacts.of(instance, state))


def select_instances(
    expression: Expression,
    state: ClusterState,
    *,
    among: Iterable[ContainerInstance] | None = None,
) -> tuple[ContainerInstance, ...]:
    """The instances (``among`` or else all of the snapshot's) that satisfy ``expression``."""
    pool = state.instances if among is None else among
    return tuple(i for i in pool if evaluate(expression, i, state))
