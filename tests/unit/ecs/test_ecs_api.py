"""The ECS API through boto3 against the in-process control plane: shapes, pagination and
AWS's error types, and that a refused call leaves nothing behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_harness import WEB, ControlPlane, control_plane

from cais.settings import Settings


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    with control_plane(settings) as running:
        yield running


@pytest.fixture
def ecs(plane: ControlPlane) -> Any:
    return plane.client()


def error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    info = caught.value.response["Error"]
    return info["Code"], info["Message"]


def rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Every ECS record: compare two to see that nothing changed."""
    with sqlite3.connect(settings.root / "cais.db") as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ecs_%'"
                " AND name != 'ecs_meta'"
            )
        ]
        return sorted(
            ((t, *r) for t in tables for r in conn.execute(f"SELECT * FROM {t}")), key=repr
        )


# -- clusters ---------------------------------------------------------------------------------


def test_clusters_create_describe_list_delete(ecs: Any) -> None:
    created = ecs.create_cluster(
        clusterName="web",
        tags=[{"key": "team", "value": "a"}],
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )["cluster"]
    assert created["clusterArn"] == "arn:aws:ecs:us-east-1:000000000000:cluster/web"
    assert created["status"] == "ACTIVE"
    assert created["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert created["tags"] == [{"key": "team", "value": "a"}]
    assert ecs.create_cluster(clusterName="web")["cluster"]["clusterArn"] == created["clusterArn"]
    ecs.create_cluster()  # "default"
    described = ecs.describe_clusters(clusters=["web", "nope"], include=["TAGS", "STATISTICS"])
    assert [c["clusterName"] for c in described["clusters"]] == ["web"]
    assert described["clusters"][0]["tags"] == [{"key": "team", "value": "a"}]
    stats = {s["name"]: s["value"] for s in described["clusters"][0]["statistics"]}
    assert stats["runningEC2TasksCount"] == "0"
    assert described["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:cluster/nope", "reason": "MISSING"}
    ]
    listed = ecs.list_clusters(maxResults=1)
    assert len(listed["clusterArns"]) == 1 and "nextToken" in listed
    rest = ecs.list_clusters(nextToken=listed["nextToken"])
    assert len(rest["clusterArns"]) == 1 and "nextToken" not in rest
    deleted = ecs.delete_cluster(cluster="web")["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert ecs.describe_clusters(clusters=["web"])["clusters"][0]["status"] == "INACTIVE"
    assert error(ecs.delete_cluster, cluster="web")[0] == "ClusterNotFoundException"
    assert len(ecs.list_clusters()["clusterArns"]) == 1


def test_update_cluster_settings(ecs: Any) -> None:
    ecs.create_cluster(clusterName="web")
    updated = ecs.update_cluster(
        cluster="web", settings=[{"name": "containerInsights", "value": "enabled"}]
    )["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    code, _ = error(
        ecs.update_cluster, cluster="web", settings=[{"name": "containerInsights", "value": "x"}]
    )
    assert code == "InvalidParameterException"


def test_unknown_cluster(ecs: Any) -> None:
    assert error(ecs.list_tasks, cluster="nope") == (
        "ClusterNotFoundException",
        "Cluster not found.",
    )
    assert error(ecs.run_task, cluster="nope", taskDefinition="web")[0] == (
        "ClusterNotFoundException"
    )
    code, _ = error(ecs.create_cluster, clusterName="bad name")
    assert code == "InvalidParameterException"


# -- task definitions ----------------------------------------------------------------------


def test_task_definition_revisions_and_statuses(ecs: Any) -> None:
    first = ecs.register_task_definition(**WEB, tags=[{"key": "app", "value": "web"}])
    assert first["taskDefinition"]["revision"] == 1 and first["tags"] == [
        {"key": "app", "value": "web"}
    ]
    assert first["taskDefinition"]["registeredBy"] == ("arn:aws:iam::000000000000:user/default")
    ecs.register_task_definition(**WEB)
    ecs.register_task_definition(**{**WEB, "family": "api"})
    described = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
    assert described["taskDefinition"]["revision"] == 2 and described["tags"] == []
    first_tags = ecs.describe_task_definition(taskDefinition="web:1", include=["TAGS"])["tags"]
    assert first_tags == [{"key": "app", "value": "web"}]
    assert "tags" not in ecs.describe_task_definition(taskDefinition="web:1")
    by_arn = ecs.describe_task_definition(
        taskDefinition=first["taskDefinition"]["taskDefinitionArn"]
    )
    assert by_arn["taskDefinition"]["revision"] == 1
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == [
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2",
    ]
    descending = ecs.list_task_definitions(sort="DESC", maxResults=2)
    assert [a.rsplit("/", 1)[1] for a in descending["taskDefinitionArns"]] == ["web:2", "web:1"]
    page = ecs.list_task_definitions(sort="DESC", maxResults=2, nextToken=descending["nextToken"])
    assert [a.rsplit("/", 1)[1] for a in page["taskDefinitionArns"]] == ["api:1"]

    gone = ecs.deregister_task_definition(taskDefinition="web:2")["taskDefinition"]
    assert gone["status"] == "INACTIVE" and "deregisteredAt" in gone
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 1
    assert ecs.describe_task_definition(taskDefinition="web:2")["taskDefinition"]["status"] == (
        "INACTIVE"
    )
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [
        gone["taskDefinitionArn"]
    ]
    ecs.deregister_task_definition(taskDefinition="web:1")
    assert ecs.list_task_definition_families(status="ACTIVE")["families"] == ["api"]
    assert ecs.list_task_definition_families(status="INACTIVE")["families"] == ["web"]
    assert ecs.list_task_definition_families(familyPrefix="w")["families"] == ["web"]

    deleted = ecs.delete_task_definitions(taskDefinitions=["web:2", "api:1", "web:9"])
    assert [d["status"] for d in deleted["taskDefinitions"]] == ["DELETE_IN_PROGRESS"]
    assert [f["arn"] for f in deleted["failures"]] == ["api:1", "web:9"]
    assert error(ecs.describe_task_definition, taskDefinition="web:2") == (
        "ClientException",
        "Unable to describe task definition.",
    )
    again = ecs.register_task_definition(**WEB)["taskDefinition"]
    assert again["revision"] == 3  # revisions are never reused


def test_invalid_task_definitions_are_client_exceptions_and_store_nothing(
    ecs: Any, settings: Settings
) -> None:
    ecs.register_task_definition(**WEB)
    before = rows(settings)
    duplicate = {
        "family": "web",
        "containerDefinitions": [
            {"name": "a", "image": "x", "memory": 64},
            {"name": "a", "image": "x", "memory": 64},
        ],
    }
    assert error(ecs.register_task_definition, **duplicate) == (
        "ClientException",
        "Container names must be unique within a Task Definition.",
    )
    bad_cpu = {**WEB, "cpu": "lots"}
    assert error(ecs.register_task_definition, **bad_cpu) == (
        "ClientException",
        "Invalid 'cpu' setting for task.",
    )
    no_memory = {"family": "web", "containerDefinitions": [{"name": "a", "image": "x"}]}
    assert error(ecs.register_task_definition, **no_memory)[0] == "ClientException"
    assert rows(settings) == before
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 1


def test_unknown_task_definitions(ecs: Any) -> None:
    assert error(ecs.describe_task_definition, taskDefinition="nope") == (
        "ClientException",
        "Unable to describe task definition.",
    )
    assert error(ecs.deregister_task_definition, taskDefinition="nope:1") == (
        "ClientException",
        "The specified task definition does not exist.",
    )
    ecs.create_cluster()
    assert error(ecs.run_task, taskDefinition="nope") == (
        "ClientException",
        "TaskDefinition not found.",
    )


# -- tags ---------------------------------------------------------------------------------


def test_tags_on_clusters_and_task_definitions(ecs: Any) -> None:
    cluster = ecs.create_cluster(clusterName="web")["cluster"]["clusterArn"]
    ecs.tag_resource(
        resourceArn=cluster, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    )
    ecs.untag_resource(resourceArn=cluster, tagKeys=["a"])
    assert ecs.list_tags_for_resource(resourceArn=cluster)["tags"] == [{"key": "b", "value": "2"}]
    definition = ecs.register_task_definition(**WEB)["taskDefinition"]["taskDefinitionArn"]
    ecs.tag_resource(resourceArn=definition, tags=[{"key": "c", "value": "3"}])
    assert ecs.list_tags_for_resource(resourceArn=definition)["tags"] == [
        {"key": "c", "value": "3"}
    ]
    missing = "arn:aws:ecs:us-east-1:000000000000:cluster/nope"
    assert error(ecs.list_tags_for_resource, resourceArn=missing)[0] == "ClusterNotFoundException"
    code, _ = error(ecs.tag_resource, resourceArn=cluster, tags=[{"key": "aws:x", "value": "1"}])
    assert code == "InvalidParameterException"


# -- running tasks ------------------------------------------------------------------------


def test_run_task_without_instances_and_bad_counts(ecs: Any, settings: Settings) -> None:
    ecs.create_cluster()
    ecs.register_task_definition(**WEB)
    before = rows(settings)
    assert error(ecs.run_task, taskDefinition="web") == (
        "InvalidParameterException",
        "No Container Instances were found in your cluster.",
    )
    assert error(ecs.run_task, taskDefinition="web", count=11)[0] == "InvalidParameterException"
    assert error(ecs.run_task, taskDefinition="web", count=0)[0] == "InvalidParameterException"
    assert error(ecs.run_task, taskDefinition="web", launchType="FARGATE")[0] == (
        "InvalidParameterException"
    )
    code, message = error(
        ecs.run_task,
        taskDefinition="web",
        overrides={"containerOverrides": [{"name": "nope", "command": ["x"]}]},
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Override for container named nope is not a container in the TaskDefinition.",
    )
    assert error(ecs.run_task, taskDefinition="web", startedBy="x" * 37)[0] == (
        "InvalidParameterException"
    )
    assert rows(settings) == before


def test_placement_failures_and_resources(plane: ControlPlane, settings: Settings) -> None:
    ecs = plane.client()
    ecs.create_cluster()
    agent = plane.agent("a", cpu=1024, memory=1024, ports_tcp=(22, 8080))
    agent.register()
    big = {"family": "big", "containerDefinitions": [{"name": "b", "image": "x", "memory": 2048}]}
    ecs.register_task_definition(**big)
    result = ecs.run_task(taskDefinition="big")
    assert result["tasks"] == []
    assert result["failures"] == [{"arn": agent.arn, "reason": "RESOURCE:MEMORY"}]
    port = {
        "family": "port",
        "containerDefinitions": [
            {
                "name": "p",
                "image": "x",
                "memory": 64,
                "portMappings": [{"containerPort": 80, "hostPort": 8080}],
            }
        ],
    }
    ecs.register_task_definition(**port)
    assert ecs.run_task(taskDefinition="port")["failures"] == [
        {"arn": agent.arn, "reason": "RESOURCE:PORTS"}
    ]
    ecs.register_task_definition(**WEB)  # 256 CPU units, 128 MiB
    placed = ecs.run_task(taskDefinition="web", count=5)
    assert len(placed["tasks"]) == 4  # 1024 units: four fit
    assert placed["failures"] == [{"arn": agent.arn, "reason": "RESOURCE:CPU"}]
    described = ecs.describe_container_instances(containerInstances=[agent.arn])
    instance = described["containerInstances"][0]
    remaining = {r["name"]: r for r in instance["remainingResources"]}
    assert remaining["CPU"]["integerValue"] == 0
    assert remaining["MEMORY"]["integerValue"] == 1024 - 4 * 128
    assert remaining["PORTS"]["stringSetValue"] == ["22", "8080"]
    assert instance["pendingTasksCount"] == 4 and instance["runningTasksCount"] == 4
    cluster = ecs.describe_clusters()["clusters"][0]
    assert cluster["pendingTasksCount"] == 4 and cluster["registeredContainerInstancesCount"] == 1


def test_start_stop_describe_and_list_tasks(plane: ControlPlane) -> None:
    ecs = plane.client()
    ecs.create_cluster()
    agent = plane.agent("a")
    agent.register()
    ecs.register_task_definition(**WEB)
    started = ecs.start_task(
        taskDefinition="web",
        containerInstances=[agent.arn.rsplit("/", 1)[1], "nope"],
        startedBy="me",
        group="batch",
        overrides={"containerOverrides": [{"name": "web", "command": ["echo", "hi"]}]},
    )
    assert [f["reason"] for f in started["failures"]] == ["MISSING"]
    task = started["tasks"][0]
    assert task["lastStatus"] == "PROVISIONING" and task["desiredStatus"] == "RUNNING"
    assert task["group"] == "batch" and task["startedBy"] == "me"
    assert task["overrides"]["containerOverrides"] == [{"name": "web", "command": ["echo", "hi"]}]
    assert task["containers"][0]["lastStatus"] == "PENDING"
    assert task["taskArn"].startswith("arn:aws:ecs:us-east-1:000000000000:task/default/")
    ident = task["taskArn"].rsplit("/", 1)[1]
    described = ecs.describe_tasks(
        tasks=[ident, "arn:aws:ecs:us-east-1:000000000000:task/default/0"]
    )
    assert [t["taskArn"] for t in described["tasks"]] == [task["taskArn"]]
    assert described["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:task/default/0", "reason": "MISSING"}
    ]
    assert ecs.list_tasks(startedBy="me")["taskArns"] == [task["taskArn"]]
    assert ecs.list_tasks(family="web", containerInstance=agent.arn)["taskArns"] == [
        task["taskArn"]
    ]
    assert ecs.list_tasks(family="other")["taskArns"] == []
    assert ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] == []
    stopped = ecs.stop_task(task=task["taskArn"], reason="enough")["task"]
    assert stopped["desiredStatus"] == "STOPPED" and stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "enough" and "stoppingAt" in stopped
    assert stopped["lastStatus"] == "PROVISIONING"  # only the agent says it stopped
    assert ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] == [task["taskArn"]]
    assert error(ecs.stop_task, task="nope") == (
        "InvalidParameterException",
        "The referenced task was not found.",
    )
    assert error(ecs.describe_tasks, tasks=[])[0] == "InvalidParameterException"
    assert error(ecs.list_tasks, serviceName="svc")[0] == "ServiceNotFoundException"


def test_container_instances_and_attributes(plane: ControlPlane) -> None:
    ecs = plane.client()
    ecs.create_cluster()
    a = plane.agent("a", attributes={"ecs.availability-zone": "us-east-1a"})
    b = plane.agent("b", attributes={"ecs.availability-zone": "us-east-1b"})
    a.register()
    b.register()
    listed = ecs.list_container_instances()["containerInstanceArns"]
    assert listed == [a.arn, b.arn]
    zone_b = ecs.list_container_instances(filter="attribute:ecs.availability-zone == us-east-1b")
    assert zone_b["containerInstanceArns"] == [b.arn]
    code, _ = error(ecs.list_container_instances, filter="attribute:ecs.availability-zone ==")
    assert code == "InvalidParameterException"
    described = ecs.describe_container_instances(containerInstances=[a.arn, "nope"])
    instance = described["containerInstances"][0]
    assert instance["agentConnected"] is True and instance["status"] == "ACTIVE"
    assert instance["versionInfo"]["agentVersion"] == "fake-1.0"
    assert {"name": "ecs.availability-zone", "value": "us-east-1a"} in instance["attributes"]
    registered = {r["name"]: r for r in instance["registeredResources"]}
    assert registered["CPU"]["integerValue"] == 2048 and registered["PORTS"]["stringSetValue"] == [
        "22"
    ]
    assert described["failures"][0]["reason"] == "MISSING"

    put = ecs.put_attributes(attributes=[{"name": "stack", "value": "prod", "targetId": a.arn}])
    assert put["attributes"][0]["targetId"] == a.arn
    assert ecs.list_attributes(targetType="container-instance", attributeName="stack")[
        "attributes"
    ] == [{"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": a.arn}]
    assert ecs.list_container_instances(filter="attribute:stack == prod")[
        "containerInstanceArns"
    ] == [a.arn]
    ecs.delete_attributes(attributes=[{"name": "stack", "targetId": a.arn}])
    assert (
        ecs.list_attributes(targetType="container-instance", attributeName="stack")["attributes"]
        == []
    )
    assert error(ecs.put_attributes, attributes=[{"name": "x", "value": "1", "targetId": "nope"}])[
        0
    ] == ("TargetNotFoundException")
    too_many = [{"name": f"k{i}", "value": "v", "targetId": a.arn} for i in range(10)]
    ecs.put_attributes(attributes=too_many)
    code, _ = error(
        ecs.put_attributes, attributes=[{"name": "k10", "value": "v", "targetId": a.arn}]
    )
    assert code == "AttributeLimitExceededException"

    drained = ecs.update_container_instances_state(
        containerInstances=[b.arn, "nope"], status="DRAINING"
    )
    assert drained["containerInstances"][0]["status"] == "DRAINING"
    assert drained["failures"][0]["reason"] == "MISSING"
    assert ecs.list_container_instances(status="DRAINING")["containerInstanceArns"] == [b.arn]
    ecs.register_task_definition(**WEB)
    placed = ecs.run_task(taskDefinition="web", count=3)["tasks"]
    assert {t["containerInstanceArn"] for t in placed} == {a.arn}  # draining gets none

    assert error(ecs.delete_cluster, cluster="default")[0] == (
        "ClusterContainsContainerInstancesException"
    )
    code, _ = error(ecs.deregister_container_instance, containerInstance=a.arn)
    assert code == "InvalidParameterException"  # it runs tasks: force is needed
    gone = ecs.deregister_container_instance(containerInstance=a.arn, force=True)
    assert gone["containerInstance"]["status"] == "INACTIVE"
    stopping = ecs.describe_tasks(tasks=[t["taskArn"] for t in placed])["tasks"]
    assert {t["desiredStatus"] for t in stopping} == {"STOPPED"}
    assert ecs.list_container_instances()["containerInstanceArns"] == [b.arn]


def test_register_container_instance_through_the_api_has_no_agent(ecs: Any) -> None:
    ecs.create_cluster()
    registered = ecs.register_container_instance(
        instanceIdentityDocument='{"instanceId": "i-0123", "availabilityZone": "us-east-1c"}',
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
        ],
    )["containerInstance"]
    assert registered["ec2InstanceId"] == "i-0123"
    assert registered["agentConnected"] is False
    assert {"name": "ecs.availability-zone", "value": "us-east-1c"} in registered["attributes"]
    ecs.register_task_definition(**WEB)
    result = ecs.run_task(taskDefinition="web")
    assert result["failures"] == [{"arn": registered["containerInstanceArn"], "reason": "AGENT"}]


def test_run_task_with_the_same_client_token_places_once(plane: ControlPlane) -> None:
    ecs = plane.client()
    ecs.create_cluster()
    plane.agent("a").register()
    ecs.register_task_definition(**WEB)
    first = ecs.run_task(taskDefinition="web", count=2, clientToken="retry-me")["tasks"]
    again = ecs.run_task(taskDefinition="web", count=2, clientToken="retry-me")["tasks"]
    assert [t["taskArn"] for t in again] == [t["taskArn"] for t in first]
    assert len(ecs.list_tasks()["taskArns"]) == 2
    other = ecs.run_task(taskDefinition="web", clientToken="another")["tasks"]
    assert len(other) == 1 and len(ecs.list_tasks()["taskArns"]) == 3


def test_tasks_carry_the_tags_they_were_run_with(plane: ControlPlane) -> None:
    ecs = plane.client()
    ecs.create_cluster()
    plane.agent("a").register()
    ecs.register_task_definition(**WEB)
    run = ecs.run_task(taskDefinition="web", tags=[{"key": "job", "value": "nightly"}])
    arn = run["tasks"][0]["taskArn"]
    assert run["tasks"][0]["tags"] == [{"key": "job", "value": "nightly"}]
    described = ecs.describe_tasks(tasks=[arn], include=["TAGS"])["tasks"][0]
    assert described["tags"] == [{"key": "job", "value": "nightly"}]
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["tags"] == []
    ecs.untag_resource(resourceArn=arn, tagKeys=["job"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == []
