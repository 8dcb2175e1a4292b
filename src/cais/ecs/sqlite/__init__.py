"""The SQLite backend of :class:`cais.ecs.store.EcsStore` (the embedded default)."""

from __future__ import annotations

from cais.ecs.sqlite.agents import AgentTable
from cais.ecs.sqlite.clusters import ClusterTable, TagTable
from cais.ecs.sqlite.instances import InstanceTable
from cais.ecs.sqlite.schema import SCHEMA
from cais.ecs.sqlite.taskdefs import TaskDefinitionTable
from cais.ecs.sqlite.tasks import TaskTable
from cais.state.sqlite import Database


class SqliteEcsStore(
    ClusterTable, TagTable, TaskDefinitionTable, InstanceTable, TaskTable, AgentTable
):
    """Every account's and region's ECS records in one cais root's database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema("ecs", SCHEMA)


__all__ = ["SqliteEcsStore"]
