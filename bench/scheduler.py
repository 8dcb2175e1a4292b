"""Scheduler throughput: placements per second, 10,000 tasks over 1,000 instances.

Two ways of asking:

- *one plan*: a single request for 10,000 tasks (how a service controller would place a
  large desired count), which measures the placement loop itself;
- *RunTask stream*: 1,000 RunTask requests of 10 tasks, each planned on the snapshot the
  previous one left, re-checked and applied by the test harness, which adds the per-request
  cost of looking at every instance once.

Run: ``.venv/bin/python bench/scheduler.py [--runs 5]``. Prints medians over the runs.
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from random import Random

from cais.ecs.scheduler import (
    AVAILABILITY_ZONE_SPREAD,
    BinpackField,
    BinpackStrategy,
    ClusterState,
    ContainerInstance,
    Harness,
    PlacementStrategy,
    RandomStrategy,
    SpreadStrategy,
    TaskRequest,
    make_instance,
    plan_placements,
)

INSTANCES = 1_000
TASKS = 10_000
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

SCENARIOS: dict[str, tuple[PlacementStrategy, ...]] = {
    "binpack(memory)": (BinpackStrategy(BinpackField.MEMORY),),
    "spread(zone)": (AVAILABILITY_ZONE_SPREAD,),
    "spread(instanceId)": (SpreadStrategy("instanceId"),),
    "spread(zone)+binpack(memory)": (
        AVAILABILITY_ZONE_SPREAD,
        BinpackStrategy(BinpackField.MEMORY),
    ),
    "random": (RandomStrategy(),),
}


def cluster() -> ClusterState:
    """1,000 instances of three sizes in three zones, nothing running yet."""
    sizes = ((4096, 8192), (8192, 16384), (16384, 32768))
    instances: list[ContainerInstance] = []
    for n in range(INSTANCES):
        cpu, memory = sizes[n % len(sizes)]
        instances.append(
            make_instance(f"{n:05d}", cpu=cpu, memory=memory, zone=ZONES[(n // 7) % len(ZONES)])
        )
    return ClusterState.of(instances)


def request(strategies: tuple[PlacementStrategy, ...], count: int) -> TaskRequest:
    return TaskRequest(
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/bench:1",
        family="bench",
        cpu=256,
        memory=512,
        count=count,
        placement_strategy=strategies,
    )


def one_plan(state: ClusterState, strategies: tuple[PlacementStrategy, ...]) -> int:
    plan = plan_placements(state, request(strategies, TASKS), rng=Random(1))
    return len(plan.placements)


def run_task_stream(state: ClusterState, strategies: tuple[PlacementStrategy, ...]) -> int:
    harness = Harness(state, seed=1)
    placed = 0
    for _ in range(TASKS // 10):
        placed += len(harness.run_task(request(strategies, 10)).placements)
    return placed


def measure(
    work: Callable[[ClusterState, tuple[PlacementStrategy, ...]], int],
    strategies: tuple[PlacementStrategy, ...],
    runs: int,
) -> tuple[float, float, float]:
    """Median, min and max seconds over ``runs`` runs, each on a fresh snapshot."""
    times = []
    for _ in range(runs):
        state = cluster()
        start = time.perf_counter()
        placed = work(state, strategies)
        times.append(time.perf_counter() - start)
        if placed != TASKS:
            raise SystemExit(f"placed {placed} of {TASKS}")
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{TASKS:,} tasks over {INSTANCES:,} instances, median of {args.runs} runs")
    header = (
        f"{'mode':<15} {'strategy':<30} {'median s':>9} {'min s':>7} {'max s':>7} {'tasks/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for mode, work in (("one plan", one_plan), ("RunTask x10", run_task_stream)):
        for name, strategies in SCENARIOS.items():
            median, low, high = measure(work, strategies, args.runs)
            print(
                f"{mode:<15} {name:<30} {median:>9.3f} {low:>7.3f} {high:>7.3f} "
                f"{TASKS / median:>9,.0f}"
            )


if __name__ == "__main__":
    main()
