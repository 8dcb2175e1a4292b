"""Ranking candidates by the placement strategies, chained in order.

Each strategy gives an instance one component of a sort key, and the chain compares keys
lexicographically: the first strategy decides, the next breaks its ties, and the
instance's position in the snapshot breaks whatever ties remain. Smaller is better:

- ``binpack`` on cpu or memory: the remaining amount (least left first);
- ``spread`` on ``instanceId``/``host``: the tasks of the group on the instance;
- ``spread`` on an attribute: the tasks of the group on all instances sharing the
  instance's value of that attribute (instances without it share the value "none");
- ``random``: a key drawn from the caller's seeded generator.

Only attribute spreads make an instance's key depend on other instances, so instances are
kept in *cells*, one per combination of the spread attributes' values, each a heap on the
instance-only components. Inside a cell the attribute components are equal, so the cell's
heap top is its best instance; the best overall is the best of the cell tops. Placing a
task changes the key of one instance and the counts of its cell's values, so a placement
costs O(log n) for the heap plus O(cells) to compare the tops.

Feasibility is pulled, as in Nomad's iterator stack: the heaps start with the instances
whose snapshot resources fit one task, keyed from the snapshot, and an instance is
*admitted* (turned into a Candidate and asked every feasibility question) only when it
reaches the top of its cell. A request for ten tasks on a thousand instances thus asks
the full set of questions of a handful of instances, not of all of them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from random import Random

from cais.ecs.scheduler.candidate import Candidate
from cais.ecs.scheduler.placement import (
    BinpackField,
    BinpackStrategy,
    PlacementStrategy,
    RandomStrategy,
)
from cais.ecs.scheduler.state import ClusterState, ContainerInstance

Admit = Callable[[int], Candidate | None]
"""Turns the instance at a pool position into a Candidate, or None if it is infeasible."""

_NO_VALUE = "\x00none"


class _Component:
    """One candidate-only key component: its value from the snapshot and from a candidate."""

    __slots__ = ("current", "initial")

    def __init__(
        self,
        initial: Callable[[ContainerInstance], float],
        current: Callable[[Candidate], float],
    ) -> None:
        self.initial = initial
        self.current = current


class _Cell:
    __slots__ = ("heap", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.heap: list[tuple[float, ...]] = []


class Ranking:
    """The instances of one plan, ordered by the strategy chain.

    ``entries`` are ``(order, instance)`` pairs: the instances worth ranking (the planner
    leaves out those the snapshot already shows too small) with their snapshot positions.
    """

    def __init__(
        self,
        strategies: Sequence[PlacementStrategy],
        *,
        state: ClusterState,
        entries: Sequence[tuple[int, ContainerInstance]],
        group: str,
        rng: Random | None,
        admit: Admit,
    ) -> None:
        self._admit = admit
        self._components: list[_Component] = []
        self._spread_attributes: list[str] = []
        self._random_index: int | None = None
        # For each strategy, in order: (True, component index) or (False, spread level).
        self._layout: list[tuple[bool, int]] = []
        for strategy in strategies:
            if isinstance(strategy, BinpackStrategy | RandomStrategy) or (
                strategy.attribute is None
            ):
                if isinstance(strategy, RandomStrategy):
                    if rng is None:
                        raise ValueError("a random placement strategy needs a seeded rng")
                    self._random_index = len(self._components)
                self._layout.append((True, len(self._components)))
                self._components.append(self._component(strategy, state, group, rng))
            else:
                assert strategy.attribute is not None
                self._layout.append((False, len(self._spread_attributes)))
                self._spread_attributes.append(strategy.attribute)
        self._rng = rng if self._random_index is not None else None
        self._counts = [self._group_counts(state, a, group) for a in self._spread_attributes]
        self._admitted: dict[int, Candidate | None] = {}
        self._cells: dict[tuple[str, ...], _Cell] = {}
        self._fill(entries)

    def _fill(self, entries: Sequence[tuple[int, ContainerInstance]]) -> None:
        """Key every entry from the snapshot (column by column, which is cheaper) and heap them."""
        instances = [instance for _, instance in entries]
        columns = [[c.initial(i) for i in instances] for c in self._components]
        keys = list(zip(*columns, [order for order, _ in entries], strict=True))
        if not self._spread_attributes:
            only = self._cells[()] = _Cell(())
            only.heap = keys
        else:
            for key, instance in zip(keys, instances, strict=True):
                values = self._values(instance)
                cell = self._cells.get(values)
                if cell is None:
                    cell = self._cells[values] = _Cell(values)
                cell.heap.append(key)
        for cell in self._cells.values():
            heapq.heapify(cell.heap)

    @staticmethod
    def _component(
        strategy: PlacementStrategy, state: ClusterState, group: str, rng: Random | None
    ) -> _Component:
        if isinstance(strategy, BinpackStrategy):
            if strategy.field is BinpackField.CPU:
                return _Component(lambda i: i.remaining.cpu, lambda c: c.cpu)
            return _Component(lambda i: i.remaining.memory, lambda c: c.memory)
        if isinstance(strategy, RandomStrategy):
            assert rng is not None
            draw = rng.random
            return _Component(lambda _: draw(), lambda c: c.random_key)
        return _Component(
            lambda i: state.tasks_on(i.arn).group_counts.get(group, 0), lambda c: c.group_count
        )

    @staticmethod
    def _group_counts(state: ClusterState, attribute: str, group: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for instance in state.instances:
            value = instance.attributes.get(attribute) or _NO_VALUE
            tasks = state.tasks_on(instance.arn)
            counts[value] = counts.get(value, 0) + tasks.group_counts.get(group, 0)
        return counts

    def _values(self, instance: ContainerInstance) -> tuple[str, ...]:
        attributes = instance.attributes
        return tuple(attributes.get(a) or _NO_VALUE for a in self._spread_attributes)

    def _top(self, cell: _Cell) -> Candidate | None:
        """The best feasible candidate of a cell, admitting instances as they surface."""
        heap = cell.heap
        admitted = self._admitted
        while heap:
            key = heap[0]
            order = int(key[-1])
            if order in admitted:
                candidate = admitted[order]
                if candidate is not None and candidate.key == key:
                    return candidate
            else:
                candidate = admitted[order] = self._admit(order)
                if candidate is not None:
                    candidate.key = key
                    if self._random_index is not None:
                        candidate.random_key = key[self._random_index]
                    return candidate
            heapq.heappop(heap)
        return None

    def best(self) -> Candidate | None:
        """The candidate the chain prefers, or None when no candidate is feasible."""
        if not self._spread_attributes:
            cell = next(iter(self._cells.values()), None)
            return None if cell is None else self._top(cell)
        best: Candidate | None = None
        best_key: tuple[float, ...] = ()
        for cell in self._cells.values():
            top = self._top(cell)
            if top is None:
                continue
            key = self._full_key(cell, top)
            if best is None or key < best_key:
                best, best_key = top, key
        return best

    def _full_key(self, cell: _Cell, candidate: Candidate) -> tuple[float, ...]:
        local = candidate.key
        assert local is not None
        return (
            *(
                local[index] if is_local else self._counts[index].get(cell.values[index], 0)
                for is_local, index in self._layout
            ),
            candidate.order,
        )

    def take(self, candidate: Candidate) -> None:
        """Withdraw a candidate a task is being placed on; ``put_back`` it if still feasible."""
        candidate.key = None
        values = self._values(candidate.instance)
        for level, counts in enumerate(self._counts):
            counts[values[level]] = counts.get(values[level], 0) + 1
        if self._rng is not None:
            # Redraw above the key just used: the candidate's key stays distributed like
            # the keys of the candidates not yet chosen, so every pick is uniform.
            low = candidate.random_key
            candidate.random_key = low + (1.0 - low) * self._rng.random()

    def put_back(self, candidate: Candidate) -> None:
        """Rank a candidate again after a placement changed it (it can take another task)."""
        key = (*(c.current(candidate) for c in self._components), candidate.order)
        candidate.key = key
        heapq.heappush(self._cells[self._values(candidate.instance)].heap, key)
