"""Ranking feasible candidates by the placement strategies, chained in order.

Each strategy gives a candidate one component of a sort key, and the chain compares keys
lexicographically: the first strategy decides, the next breaks its ties, and the
candidate's position in the snapshot breaks whatever ties remain. Smaller is better:

- ``binpack`` on cpu or memory: the remaining amount (least left first);
- ``spread`` on ``instanceId``/``host``: the tasks of the group on the instance;
- ``spread`` on an attribute: the tasks of the group on all instances sharing the
  candidate's value of that attribute (instances without it share the value "none");
- ``random``: a key drawn from the caller's seeded generator.

Only attribute spreads make a candidate's key depend on other instances, so candidates are
kept in *cells*, one per combination of the spread attributes' values, each a heap on the
candidate-only components. Inside a cell the attribute components are equal, so the
cell's heap top is its best candidate; the best overall is the best of the cell tops.
Placing a task changes the key of one candidate and the count of its cell's values, so a
placement costs O(log n) for the heap plus O(cells) to compare the tops.
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
    SpreadStrategy,
)
from cais.ecs.scheduler.state import ClusterState

LocalKey = Callable[[Candidate], float]

_NO_VALUE = "\x00none"


def _local_key(strategy: PlacementStrategy) -> LocalKey | None:
    """The candidate-only key component of a strategy, or None for an attribute spread."""
    if isinstance(strategy, BinpackStrategy):
        if strategy.field is BinpackField.CPU:
            return lambda c: c.cpu
        return lambda c: c.memory
    if isinstance(strategy, RandomStrategy):
        return lambda c: c.random_key
    if strategy.attribute is None:
        return lambda c: c.group_count
    return None


class _Cell:
    __slots__ = ("heap", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.heap: list[tuple[float, ...]] = []


class Ranking:
    """The feasible candidates of one plan, ordered by the strategy chain."""

    def __init__(
        self,
        strategies: Sequence[PlacementStrategy],
        *,
        state: ClusterState,
        group: str,
        rng: Random | None,
    ) -> None:
        self._locals: list[LocalKey] = []
        self._spread_attributes: list[str] = []
        # For each strategy, in order: ("local", i) or ("bucket", level).
        self._layout: list[tuple[bool, int]] = []
        for strategy in strategies:
            local = _local_key(strategy)
            if local is not None:
                self._layout.append((True, len(self._locals)))
                self._locals.append(local)
            else:
                assert isinstance(strategy, SpreadStrategy) and strategy.attribute is not None
                self._layout.append((False, len(self._spread_attributes)))
                self._spread_attributes.append(strategy.attribute)
        self._random = rng if any(isinstance(s, RandomStrategy) for s in strategies) else None
        if self._random is None and any(isinstance(s, RandomStrategy) for s in strategies):
            raise ValueError("a random placement strategy needs a seeded rng")
        self._counts = [self._group_counts(state, a, group) for a in self._spread_attributes]
        self._cells: dict[tuple[str, ...], _Cell] = {}
        self._by_order: dict[int, Candidate] = {}

    @staticmethod
    def _group_counts(state: ClusterState, attribute: str, group: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for instance in state.instances:
            value = instance.attributes.get(attribute) or _NO_VALUE
            tasks = state.tasks_on(instance.arn)
            counts[value] = counts.get(value, 0) + tasks.group_counts.get(group, 0)
        return counts

    def _values(self, candidate: Candidate) -> tuple[str, ...]:
        attributes = candidate.instance.attributes
        return tuple(attributes.get(a) or _NO_VALUE for a in self._spread_attributes)

    def _key(self, candidate: Candidate) -> tuple[float, ...]:
        return (*(local(candidate) for local in self._locals), candidate.order)

    def add(self, candidate: Candidate) -> None:
        """Make a feasible candidate available (again, after a placement changed it)."""
        if self._random is not None and candidate.placed == 0:
            candidate.random_key = self._random.random()
        key = self._key(candidate)
        candidate.key = key
        self._by_order[candidate.order] = candidate
        values = self._values(candidate)
        cell = self._cells.get(values)
        if cell is None:
            cell = self._cells[values] = _Cell(values)
        heapq.heappush(cell.heap, key)

    def _top(self, cell: _Cell) -> Candidate | None:
        heap = cell.heap
        while heap:
            key = heap[0]
            candidate = self._by_order[int(key[-1])]
            if candidate.key == key:
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
        """Withdraw a candidate a task is being placed on; ``add`` it back if still feasible."""
        candidate.key = None
        values = self._values(candidate)
        for level, counts in enumerate(self._counts):
            counts[values[level]] = counts.get(values[level], 0) + 1
        if self._random is not None:
            # Redraw above the key just used: the candidate's key stays distributed like
            # the keys of the candidates not yet chosen, so every pick is uniform.
            low = candidate.random_key
            candidate.random_key = low + (1.0 - low) * self._random.random()
