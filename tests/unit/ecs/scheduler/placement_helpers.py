"""Shared builders for the placement tests: requests, harnesses, readable plans."""

from __future__ import annotations

from cais.ecs.scheduler import (
    BinpackField,
    BinpackStrategy,
    ContainerInstance,
    Harness,
    Plan,
    SpreadStrategy,
    TaskRequest,
)

BINPACK_MEMORY = BinpackStrategy(BinpackField.MEMORY)
BINPACK_CPU = BinpackStrategy(BinpackField.CPU)
SPREAD_ZONE = SpreadStrategy("attribute:ecs.availability-zone")
SPREAD_INSTANCE = SpreadStrategy("instanceId")


def request(**overrides: object) -> TaskRequest:
    fields: dict[str, object] = {
        "task_definition_arn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        "family": "web",
        "cpu": 128,
        "memory": 256,
    }
    fields.update(overrides)
    return TaskRequest(**fields)  # type: ignore[arg-type]


def names(plan: Plan) -> list[str]:
    return [p.instance_arn.rsplit("/", 1)[-1] for p in plan.placements]


def reasons(plan: Plan) -> dict[str, str]:
    return {f.arn.rsplit("/", 1)[-1]: f.reason.value for f in plan.failures}


def harness(*instances: ContainerInstance, seed: int = 0) -> Harness:
    h = Harness(seed=seed)
    h.add_instances(*instances)
    return h
