"""Scheduler throughput: placements per second, 10,000 tasks over 1,000 instances.

Two ways of asking:

- *one plan*: a single request for 10,000 tasks (how a service controller would place a
  large desired count), which measures the placement loop itself;
- *RunTask stream*: 1,000 RunTask requests of 10 tasks, each planned on the snapshot the
  previous one left, re-checked and applied by the test harness, which adds the per-request
  cost of looking at every instance once.

Run: ``.venv/bin/python -m bench scheduler`` or ``.venv/bin/python -m bench.scheduler [--runs 5]
[--instances N] [--tasks N]``. Prints medians over the runs and saves them to
``bench/results/scheduler.json``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from random import Random

from bench.common import save_results
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


def cluster(count: int = INSTANCES) -> ClusterState:
    """``count`` instances of three sizes in three zones, nothing running yet."""
    sizes = ((4096, 8192), (8192, 16384), (16384, 32768))
    instances: list[ContainerInstance] = []
    for n in range(count):
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


def one_plan(state: ClusterState, strategies: tuple[PlacementStrategy, ...], tasks: int) -> int:
    plan = plan_placements(state, request(strategies, tasks), rng=Random(1))
    return len(plan.placements)


def run_task_stream(
    state: ClusterState, strategies: tuple[PlacementStrategy, ...], tasks: int
) -> int:
    harness = Harness(state, seed=1)
    placed = 0
    for _ in range(tasks // 10):
        placed += len(harness.run_task(request(strategies, 10)).placements)
    return placed


def measure(
    work: Callable[[ClusterState, tuple[PlacementStrategy, ...], int], int],
    strategies: tuple[PlacementStrategy, ...],
    runs: int,
    instances: int = INSTANCES,
    tasks: int = TASKS,
) -> tuple[float, float, float]:
    """Median, min and max seconds over ``runs`` runs, each on a fresh snapshot."""
    times = []
    for _ in range(runs):
        state = cluster(instances)
        start = time.perf_counter()
        placed = work(state, strategies, tasks)
        times.append(time.perf_counter() - start)
        if placed != tasks:
            raise SystemExit(f"placed {placed} of {tasks}")
    return statistics.median(times), min(times), max(times)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Parse ``argv`` (not ``sys.argv``: ``python -m bench`` passes suite names there)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instances", type=int, default=INSTANCES)
    parser.add_argument("--tasks", type=int, default=TASKS, help="a multiple of 10")
    args = parser.parse_args([] if argv is None else argv)
    if args.tasks % 10:
        parser.error("--tasks must be a multiple of 10")
    print(f"{args.tasks:,} tasks over {args.instances:,} instances, median of {args.runs} runs")
    header = (
        f"{'mode':<15} {'strategy':<30} {'median s':>9} {'min s':>7} {'max s':>7} {'tasks/s':>9}"
    )
    print(header)
    print("-" * len(header))
    rows: list[dict[str, object]] = []
    for mode, work in (("one plan", one_plan), ("RunTask x10", run_task_stream)):
        for name, strategies in SCENARIOS.items():
            median, low, high = measure(work, strategies, args.runs, args.instances, args.tasks)
            rate = args.tasks / median if median else float("inf")
            print(f"{mode:<15} {name:<30} {median:>9.3f} {low:>7.3f} {high:>7.3f} {rate:>9,.0f}")
            rows.append(
                {
                    "mode": mode,
                    "strategy": name,
                    "median_s": median,
                    "min_s": low,
                    "max_s": high,
                    "tasks_per_s": rate,
                }
            )
    result: dict[str, object] = {
        "title": f"{args.tasks} tasks over {args.instances} instances",
        "runs": args.runs,
        "instances": args.instances,
        "tasks": args.tasks,
        "rows": rows,
    }
    save_results("scheduler", result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
