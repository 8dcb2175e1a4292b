"""The state store's contract, run against every backend (SQLite today, PostgreSQL next)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cais.aws.errors import AwsError
from cais.ecs.model import (
    Attribute,
    Cluster,
    ClusterStatus,
    Container,
    ContainerInstance,
    Resources,
    Scope,
    Task,
    TaskDefinitionStatus,
)
from cais.ecs.sqlite import SqliteEcsStore
from cais.ecs.store import ClientToken, EcsStore, TaskFilter
from cais.state.sqlite import Database

SCOPE = Scope("000000000000", "us-east-1")
CLUSTER = SCOPE.arn("cluster/default")


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EcsStore]:
    db = Database(tmp_path / "cais.db")
    yield SqliteEcsStore(db)
    db.close()


def cluster(name: str = "default") -> Cluster:
    return Cluster(
        arn=SCOPE.arn(f"cluster/{name}"),
        name=name,
        scope=SCOPE,
        status=ClusterStatus.ACTIVE,
        created_at=1.0,
    )


def instance(ident: str = "i1", *, cpu: int = 1024, memory: int = 2048) -> ContainerInstance:
    return ContainerInstance(
        arn=SCOPE.arn(f"container-instance/default/{ident}"),
        id=ident,
        cluster_arn=CLUSTER,
        scope=SCOPE,
        ec2_instance_id=f"m-{ident}",
        hostname=ident,
        status="ACTIVE",
        registered_at=float(len(ident)),
        last_seen=1.0,
        registered=Resources(cpu=cpu, memory=memory, tcp_ports=frozenset({22})),
        attributes=(Attribute("ecs.availability-zone", "a"),),
        has_agent=True,
        session="s",
    )


def task(ident: str, on: ContainerInstance, *, cpu: int = 256, memory: int = 512) -> Task:
    return Task(
        arn=SCOPE.arn(f"task/default/{ident}"),
        id=ident,
        cluster_arn=CLUSTER,
        scope=SCOPE,
        task_definition_arn=SCOPE.arn("task-definition/web:1"),
        family="web",
        revision=1,
        container_instance_arn=on.arn,
        group="family:web",
        launch_type="EC2",
        created_at=2.0,
        containers=(Container(name="web", arn=f"c-{ident}", image="busybox"),),
        reserved=Resources(cpu=cpu, memory=memory, tcp_ports=frozenset({80})),
    )


def test_revisions_count_up_per_family_and_are_never_reused(store: EcsStore) -> None:
    body = {"family": "web", "containerDefinitions": []}
    first = store.add_task_definition(SCOPE, body, registered_at=1, registered_by="me", tags={})
    second = store.add_task_definition(SCOPE, body, registered_at=2, registered_by="me", tags={})
    assert (first.revision, second.revision) == (1, 2)
    assert second.arn == SCOPE.arn("task-definition/web:2")
    store.set_task_definition_status(second.arn, TaskDefinitionStatus.DELETE_IN_PROGRESS, at=3)
    assert store.remove_unused_task_definitions() == 1
    third = store.add_task_definition(SCOPE, body, registered_at=4, registered_by="me", tags={})
    assert third.revision == 3
    latest = store.task_definition(SCOPE, "web", None)
    assert latest is not None and latest.revision == 3
    store.set_task_definition_status(third.arn, TaskDefinitionStatus.INACTIVE, at=5)
    latest = store.task_definition(SCOPE, "web", None)
    assert latest is not None and latest.revision == 1  # the latest ACTIVE one
    assert store.families(SCOPE, prefix="w", status="ACTIVE", after=None, limit=10) == ["web"]


def test_a_cluster_comes_back_active_with_the_same_arn(store: EcsStore) -> None:
    created, changed = store.put_cluster(cluster("web"), {"team": "a"})
    assert changed
    again, changed = store.put_cluster(replace(cluster("web"), created_at=9.0), {})
    assert not changed and again.created_at == 1.0
    store.deactivate_cluster(created.arn)
    assert [c.name for c in store.clusters(SCOPE, after=None, limit=10)] == []
    back, changed = store.put_cluster(cluster("web"), {})
    assert changed and back.arn == created.arn and store.tags(back.arn) == {}


def test_a_cluster_with_instances_or_tasks_is_not_deactivated(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    with pytest.raises(AwsError) as caught:
        store.deactivate_cluster(CLUSTER)
    assert caught.value.type == "ClusterContainsContainerInstancesException"
    store.place_tasks([task("t1", machine)], cluster_arn=CLUSTER, check=lambda i, t: True)
    store.set_instance_status(machine.arn, "INACTIVE")
    with pytest.raises(AwsError) as caught:
        store.deactivate_cluster(CLUSTER)
    assert caught.value.type == "ClusterContainsTasksException"
    found = store.cluster(SCOPE, "default")
    assert found is not None and found.status is ClusterStatus.ACTIVE


def test_tasks_reserve_resources_until_they_stop(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    placed = store.place_tasks(
        [task("t1", machine), task("t2", machine)], cluster_arn=CLUSTER, check=lambda i, t: True
    )
    assert placed
    now = store.instance_by_arn(machine.arn)
    assert now is not None
    assert now.remaining == Resources(cpu=512, memory=1024, tcp_ports=frozenset({22, 80}))
    assert now.running_tasks_count == 2 and now.pending_tasks_count == 2
    counts = store.cluster_counts(CLUSTER)
    assert (counts.pending_tasks, counts.running_tasks, counts.registered_instances) == (2, 0, 1)
    store.update_task(task("t1", machine).arn, lambda t: replace(t, last_status="RUNNING"))
    store.update_task(task("t2", machine).arn, lambda t: replace(t, last_status="STOPPED"))
    after = store.instance_by_arn(machine.arn)
    assert after is not None and after.remaining.cpu == 768 and after.remaining.memory == 1536
    counts = store.cluster_counts(CLUSTER)
    assert (counts.pending_tasks, counts.running_tasks) == (0, 1)


def test_a_placement_whose_check_fails_writes_nothing(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    seen: list[int] = []

    def refuse(instances: object, live: object) -> bool:
        seen.append(1)
        return False

    token = ClientToken(scope=SCOPE, token="tok", created_at=1.0)
    assert not store.place_tasks(
        [task("t1", machine)], cluster_arn=CLUSTER, check=refuse, client_token=token
    )
    assert seen == [1]
    assert store.client_token(SCOPE, "tok") is None  # a refused placement keeps no token
    assert store.live_tasks(CLUSTER) == []
    assert store.task_arns(CLUSTER, TaskFilter(), after=None, limit=10) == []


def test_update_task_that_changes_nothing_keeps_the_row(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    store.place_tasks([task("t1", machine)], cluster_arn=CLUSTER, check=lambda i, t: True)
    before = store.task(CLUSTER, "t1")
    assert before is not None
    assert store.update_task(before.arn, lambda t: t) == before
    assert store.update_task(SCOPE.arn("task/default/nope"), lambda t: t) is None


def test_custom_attributes_are_limited_and_survive_a_re_registration(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    store.put_attributes([(machine.arn, Attribute("stack", "prod"))], limit=2)
    with pytest.raises(AwsError) as caught:
        store.put_attributes(
            [(machine.arn, Attribute("a", "1")), (machine.arn, Attribute("b", "2"))], limit=2
        )
    assert caught.value.type == "AttributeLimitExceededException"
    again = store.register_instance(
        replace(instance(), attributes=(Attribute("ecs.os-type", "linux"),))
    )
    names = {a.name for a in again.attributes}
    assert names == {"stack", "ecs.os-type"}  # the agent's set was replaced, custom kept
    listed = store.attributes(CLUSTER, name="stack", value=None, after=None, limit=10)
    assert listed == [(machine.arn, Attribute("stack", "prod"))]


def test_stopped_tasks_are_pruned_after_retention(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    store.place_tasks([task("t1", machine)], cluster_arn=CLUSTER, check=lambda i, t: True)
    store.update_task(
        SCOPE.arn("task/default/t1"), lambda t: replace(t, last_status="STOPPED", stopped_at=10.0)
    )
    assert store.prune_tasks(stopped_before=5.0) == 0
    assert store.prune_tasks(stopped_before=11.0) == 1
    assert store.task(CLUSTER, "t1") is None


def test_meta_values_are_kept_once(store: EcsStore) -> None:
    assert store.meta("x", "first") == "first"
    assert store.meta("x", "second") == "first"


def test_a_client_token_is_used_once(store: EcsStore) -> None:
    store.put_cluster(cluster(), {})
    machine = store.register_instance(instance())
    token = ClientToken(
        scope=SCOPE, token="tok", created_at=5.0, failures=({"arn": "x", "reason": "AGENT"},)
    )
    ok = lambda i, t: True  # noqa: E731
    assert store.place_tasks(
        [task("t1", machine)], cluster_arn=CLUSTER, check=ok, client_token=token
    )
    assert not store.place_tasks(
        [task("t2", machine)], cluster_arn=CLUSTER, check=ok, client_token=token
    )
    assert store.task(CLUSTER, "t2") is None
    recorded = store.client_token(SCOPE, "tok")
    assert recorded is not None and recorded.task_arns == (SCOPE.arn("task/default/t1"),)
    assert recorded.failures == ({"arn": "x", "reason": "AGENT"},)
    assert store.client_token(Scope("000000000000", "eu-west-1"), "tok") is None
    assert store.forget_client_tokens(before=6.0) == 1
    assert store.client_token(SCOPE, "tok") is None
