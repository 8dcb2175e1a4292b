"""Placement on a real ``cais up`` with three fake agents in two availability zones: spread,
binpack, memberOf and distinctInstance place tasks exactly as the strategies say."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ecs_fake_agent import FakeAgent
from ecs_up import EcsUp, ecs_up

SMALL = {
    "family": "small",
    "containerDefinitions": [{"name": "s", "image": "busybox", "memory": 256, "cpu": 128}],
}


class Cluster:
    def __init__(self, up: EcsUp) -> None:
        self.up = up
        self.ecs = up.client()
        token = up.cais("ecs", "create-join-token", "--cluster", "zones").strip()
        self.ecs.create_cluster(clusterName="zones")
        self.a = up.agent(
            "a", token=token, attributes={"ecs.availability-zone": "us-east-1a"}, memory=4096
        )
        self.b = up.agent(
            "b", token=token, attributes={"ecs.availability-zone": "us-east-1a"}, memory=4096
        )
        self.c = up.agent(
            "c",
            token=token,
            attributes={"ecs.availability-zone": "us-east-1b", "stack": "blue"},
            memory=4096,
        )
        self.ecs.register_task_definition(**SMALL)

    @property
    def agents(self) -> list[FakeAgent]:
        return [self.a, self.b, self.c]

    def name(self, arn: str) -> str:
        return {agent.arn: agent.hostname for agent in self.agents}[arn]

    def run(self, count: int, **params: Any) -> tuple[list[str], list[dict[str, str]]]:
        result = self.ecs.run_task(cluster="zones", taskDefinition="small", count=count, **params)
        return [self.name(t["containerInstanceArn"]) for t in result["tasks"]], result["failures"]


@pytest.fixture
def zones(tmp_path: Path) -> Iterator[Cluster]:
    # a longer heartbeat: a loaded machine must not make agents look disconnected here
    with ecs_up(tmp_path / "up", "--agent-heartbeat", "5s") as up:
        yield Cluster(up)


def test_spread_over_availability_zones_then_instances(zones: Cluster) -> None:
    placed, failures = zones.run(
        6,
        group="zonal",
        placementStrategy=[
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
            {"type": "spread", "field": "instanceId"},
        ],
    )
    assert failures == []
    by_zone = Counter("us-east-1b" if p == "c" else "us-east-1a" for p in placed)
    assert by_zone == {"us-east-1a": 3, "us-east-1b": 3}
    assert Counter(placed) == {"c": 3, "a": 2, "b": 1} or Counter(placed) == {
        "c": 3,
        "a": 1,
        "b": 2,
    }


def test_spread_over_instances_is_even(zones: Cluster) -> None:
    placed, _ = zones.run(6, group="even", placementStrategy=[{"type": "spread", "field": "host"}])
    assert Counter(placed) == {"a": 2, "b": 2, "c": 2}


def test_binpack_on_memory_fills_the_fullest_instance_first(zones: Cluster) -> None:
    started = zones.ecs.start_task(
        cluster="zones", taskDefinition="small", containerInstances=[zones.b.arn]
    )
    assert started["failures"] == []
    placed, _ = zones.run(
        5, placementStrategy=[{"type": "binpack", "field": "memory"}], group="packed"
    )
    assert placed == ["b"] * 5
    instance = zones.ecs.describe_container_instances(
        cluster="zones", containerInstances=[zones.b.arn]
    )["containerInstances"][0]
    memory = {r["name"]: r["integerValue"] for r in instance["remainingResources"][:2]}["MEMORY"]
    assert memory == 4096 - 6 * 256


def test_member_of_keeps_tasks_in_one_zone(zones: Cluster) -> None:
    placed, failures = zones.run(
        4,
        placementConstraints=[
            {"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1b"}
        ],
    )
    assert placed == ["c"] * 4 and failures == []
    blue, _ = zones.run(
        2, placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == blue"}]
    )
    assert blue == ["c", "c"]
    nowhere, failures = zones.run(
        1, placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == green"}]
    )
    assert nowhere == []
    assert {f["reason"] for f in failures} == {"MemberOf placement constraint unsatisfied."}
    assert {f["arn"] for f in failures} == {a.arn for a in zones.agents}


def test_distinct_instance_places_one_per_instance(zones: Cluster) -> None:
    placed, failures = zones.run(
        4, group="distinct", placementConstraints=[{"type": "distinctInstance"}]
    )
    assert sorted(placed) == ["a", "b", "c"]
    assert {f["reason"] for f in failures} == {"DistinctInstance placement constraint unsatisfied."}


def test_resources_are_never_over_committed(zones: Cluster) -> None:
    # 2048 CPU units and 4096 MiB per instance, 128 units and 256 MiB per task: 16 each.
    # Six RunTask calls of ten tasks at once ask for 60: exactly 48 are placed.
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: zones.run(10), range(6)))
    placed = [name for names, _ in results for name in names]
    assert Counter(placed) == {"a": 16, "b": 16, "c": 16}
    assert {f["reason"] for _, fs in results for f in fs} == {"RESOURCE:CPU"}
    _, failures = zones.run(1)
    assert {f["reason"] for f in failures} == {"RESOURCE:CPU"}  # CPU is asked first, as ECS does
    described = zones.ecs.describe_container_instances(
        cluster="zones", containerInstances=[a.arn for a in zones.agents]
    )["containerInstances"]
    for instance in described:
        remaining = {r["name"]: r["integerValue"] for r in instance["remainingResources"][:2]}
        assert remaining == {"CPU": 0, "MEMORY": 0}
