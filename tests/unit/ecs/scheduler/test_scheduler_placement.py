"""Placement strategies: binpack, spread, random and their chains, exactly as ECS orders them."""

from __future__ import annotations

from collections import Counter
from random import Random

import pytest
from placement_helpers import (
    BINPACK_CPU,
    BINPACK_MEMORY,
    SPREAD_INSTANCE,
    SPREAD_ZONE,
    harness,
    names,
    request,
)

from cais.ecs.scheduler import (
    AVAILABILITY_ZONE,
    BinpackField,
    BinpackStrategy,
    ClusterState,
    RandomStrategy,
    SpreadStrategy,
    make_instance,
    plan_placements,
    plan_run_task,
)

# -- binpack ----------------------------------------------------------------------------


def test_binpack_memory_picks_the_fullest_instance_that_fits() -> None:
    h = harness(
        make_instance("roomy", memory=1000),
        make_instance("snug", memory=600),
        make_instance("full", memory=300),
    )
    plan = h.run_task(request(memory=400, count=3, placement_strategy=(BINPACK_MEMORY,)))
    # snug (600) is the fullest that fits 400; then only roomy fits, twice.
    assert names(plan) == ["snug", "roomy", "roomy"]
    assert plan.failures == ()


def test_binpack_cpu_looks_at_cpu_not_memory() -> None:
    h = harness(
        make_instance("a", cpu=512, memory=100_000),
        make_instance("b", cpu=2048, memory=1000),
    )
    plan = h.run_task(request(cpu=256, memory=100, count=3, placement_strategy=(BINPACK_CPU,)))
    assert names(plan) == ["a", "a", "b"]


def test_binpack_ties_go_to_the_snapshot_order() -> None:
    h = harness(make_instance("first"), make_instance("second"))
    plan = h.run_task(request(placement_strategy=(BINPACK_MEMORY,)))
    assert names(plan) == ["first"]


# -- spread -----------------------------------------------------------------------------


def test_spread_on_availability_zone_alternates_zones() -> None:
    h = harness(
        make_instance("a1", zone="us-east-1a"),
        make_instance("a2", zone="us-east-1a"),
        make_instance("a3", zone="us-east-1a"),
        make_instance("b1", zone="us-east-1b"),
    )
    plan = h.run_task(request(count=6, placement_strategy=(SPREAD_ZONE,)))
    zones = [h.state.instance(arn).attribute(AVAILABILITY_ZONE) for arn in plan.instances()]  # type: ignore[union-attr]
    assert zones == ["us-east-1a", "us-east-1b"] * 3


def test_spread_counts_the_tasks_already_running_in_the_group() -> None:
    h = harness(make_instance("a", zone="us-east-1a"), make_instance("b", zone="us-east-1b"))
    h.run_task(request(count=2, placement_strategy=(BinpackStrategy(BinpackField.CPU),)))
    assert Counter(t.container_instance_arn[-1] for t in h.state.tasks) == {"a": 2}
    plan = h.run_task(request(count=3, placement_strategy=(SPREAD_ZONE,)))
    assert names(plan) == ["b", "b", "a"]


def test_spread_counts_only_the_same_group() -> None:
    h = harness(make_instance("a", zone="us-east-1a"), make_instance("b", zone="us-east-1b"))
    h.run_task(request(count=2, group="batch", placement_strategy=(BINPACK_CPU,)))
    plan = h.run_task(request(count=2, placement_strategy=(SPREAD_ZONE,)))
    assert plan.request.group == "family:web"
    assert names(plan) == ["a", "b"]


def test_spread_on_instance_id_fills_every_instance_once_before_any_twice() -> None:
    h = harness(*(make_instance(f"i{n}") for n in range(4)))
    plan = h.run_task(request(count=8, placement_strategy=(SpreadStrategy("host"),)))
    assert names(plan) == ["i0", "i1", "i2", "i3"] * 2


def test_spread_on_a_custom_attribute_groups_instances_without_it_together() -> None:
    h = harness(
        make_instance("rack1", attributes={"rack": "r1"}),
        make_instance("rack2", attributes={"rack": "r2"}),
        make_instance("bare1"),
        make_instance("bare2"),
    )
    plan = h.run_task(request(count=3, placement_strategy=(SpreadStrategy("attribute:rack"),)))
    assert names(plan) == ["rack1", "rack2", "bare1"]


# -- chains -----------------------------------------------------------------------------


def test_spread_zone_then_binpack_memory_packs_within_each_zone() -> None:
    h = harness(
        make_instance("a-big", zone="us-east-1a", memory=4000),
        make_instance("a-small", zone="us-east-1a", memory=1000),
        make_instance("b-big", zone="us-east-1b", memory=4000),
        make_instance("b-small", zone="us-east-1b", memory=900),
    )
    plan = h.run_task(
        request(memory=400, count=8, placement_strategy=(SPREAD_ZONE, BINPACK_MEMORY))
    )
    # Zones alternate; inside a zone the fullest instance that fits takes the task.
    assert names(plan) == [
        "b-small",  # zone tie; b-small (900) has the least memory of all
        "a-small",  # zone a is behind
        "b-small",  # tie again: b-small 500 < a-small 600
        "a-small",
        "a-big",  # a-small (200), b-small (100) are full; the bigs tie, a-big comes first
        "b-big",
        "a-big",
        "b-big",
    ]


def test_spread_zone_then_spread_instance_balances_inside_zones() -> None:
    h = harness(
        make_instance("a1", zone="us-east-1a"),
        make_instance("a2", zone="us-east-1a"),
        make_instance("b1", zone="us-east-1b"),
    )
    plan = h.run_task(request(count=6, placement_strategy=(SPREAD_ZONE, SPREAD_INSTANCE)))
    assert names(plan) == ["a1", "b1", "a2", "b1", "a1", "b1"]


def test_binpack_then_spread_zone_uses_spread_only_to_break_ties() -> None:
    h = harness(
        make_instance("a1", zone="us-east-1a", memory=1000),
        make_instance("a2", zone="us-east-1a", memory=1000),
        make_instance("b1", zone="us-east-1b", memory=1000),
    )
    plan = h.run_task(
        request(memory=500, count=3, placement_strategy=(BINPACK_MEMORY, SPREAD_ZONE))
    )
    # All three tie on memory: a1 first (order); then a1 is fullest (500 left).
    # Then a2 and b1 tie on memory: b1's zone has fewer tasks.
    assert names(plan) == ["a1", "a1", "b1"]


# -- random -----------------------------------------------------------------------------


def _random_run(seed: int) -> list[str]:
    state = ClusterState.of(make_instance(f"i{n}") for n in range(10))
    plan = plan_run_task(
        state, request(count=10, placement_strategy=(RandomStrategy(),)), rng=Random(seed)
    )
    return names(plan)


def test_random_is_reproducible_with_a_seed() -> None:
    assert _random_run(7) == _random_run(7)
    assert len({tuple(_random_run(seed)) for seed in range(5)}) > 1


def test_random_spreads_picks_evenly() -> None:
    state = ClusterState.of(make_instance(f"i{n}") for n in range(4))
    rng = Random(1)
    picks = Counter(
        name
        for _ in range(500)
        for name in names(
            plan_run_task(state, request(count=4, placement_strategy=(RandomStrategy(),)), rng=rng)
        )
    )
    assert set(picks) == {"i0", "i1", "i2", "i3"}
    assert all(400 <= n <= 600 for n in picks.values()), picks


def test_run_task_without_strategy_places_randomly() -> None:
    state = ClusterState.of(make_instance(f"i{n}") for n in range(10))
    firsts = {names(plan_run_task(state, request(), rng=Random(seed)))[0] for seed in range(20)}
    assert len(firsts) > 3


def test_a_random_strategy_needs_an_rng() -> None:
    state = ClusterState.of([make_instance("a")])
    with pytest.raises(ValueError, match="seeded rng"):
        plan_placements(state, request(placement_strategy=(RandomStrategy(),)))
