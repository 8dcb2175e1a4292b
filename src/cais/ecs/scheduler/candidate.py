"""A container instance as the plan being built leaves it.

The snapshot never changes, so every reservation a plan makes (CPU, memory, ports, one
more task of the group) is kept here, one object per instance, and every checker and
ranker reads the instance through it. A candidate is also a QuerySubject, so ``memberOf``
expressions about ``task:group`` and ``runningTasksCount`` see the plan's own tasks.
"""

from __future__ import annotations

from collections.abc import Set

from cais.ecs.scheduler.request import TaskRequest
from cais.ecs.scheduler.state import ContainerInstance, InstanceTasks


class Candidate:
    """Remaining resources and group facts of one instance, updated as tasks are placed.

    ``order`` is the instance's position among the plan's eligible instances, which keep
    the snapshot's order (the last tie-breaker);
    ``static_failure`` caches the outcome of the checks that cannot change during a plan.
    """

    __slots__ = (
        "_group",
        "_groups",
        "cpu",
        "group_count",
        "instance",
        "key",
        "memory",
        "order",
        "placed",
        "random_key",
        "running_tasks_count",
        "static_failure",
        "tcp_ports",
        "udp_ports",
    )

    def __init__(
        self, instance: ContainerInstance, order: int, tasks: InstanceTasks, *, group: str
    ) -> None:
        remaining = instance.remaining
        self.instance = instance
        self.order = order
        self.cpu = remaining.cpu
        self.memory = remaining.memory
        self.tcp_ports = remaining.tcp_ports
        self.udp_ports = remaining.udp_ports
        self.group_count = tasks.group_counts.get(group, 0) if tasks.tasks else 0
        self.running_tasks_count = tasks.running_count
        self.placed = 0
        self._group = group
        self._groups = tasks.groups if tasks.tasks else frozenset()
        self.static_failure: int | None = None
        self.random_key = 0.0
        self.key: tuple[float, ...] | None = None

    @property
    def task_groups(self) -> Set[str]:
        return self._groups

    def reserve(self, request: TaskRequest) -> None:
        """Take one task's resources; the caller has checked that they are there."""
        self.cpu -= request.cpu
        self.memory -= request.memory
        if request.tcp_ports:
            self.tcp_ports = self.tcp_ports | request.tcp_ports
        if request.udp_ports:
            self.udp_ports = self.udp_ports | request.udp_ports
        self.group_count += 1
        self.running_tasks_count += 1
        self.placed += 1
        if self._group not in self._groups:
            self._groups = self._groups | {self._group}
