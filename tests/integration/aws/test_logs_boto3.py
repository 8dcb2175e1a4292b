"""Every supported CloudWatch Logs operation through boto3, over real HTTP and SigV4.

``client.exceptions.<Type>`` being raised is the proof that the wire shape of errors is right.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

GROUP_ARN = "arn:aws:logs:us-east-1:000000000000:log-group:{}"


def now_ms() -> int:
    return int(time.time() * 1000)


def test_log_groups(logs: Any) -> None:
    logs.create_log_group(logGroupName="/ecs/web", tags={"team": "a"})
    logs.create_log_group(logGroupName="/ecs/worker", logGroupClass="INFREQUENT_ACCESS")
    logs.create_log_group(logGroupName="/other/Batch")
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/ecs/web")

    groups = logs.describe_log_groups(logGroupNamePrefix="/ecs/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/ecs/web", "/ecs/worker"]
    web = groups[0]
    assert web["arn"] == GROUP_ARN.format("/ecs/web") + ":*"
    assert web["logGroupArn"] == GROUP_ARN.format("/ecs/web")
    assert abs(web["creationTime"] - now_ms()) < 60_000
    assert groups[1]["logGroupClass"] == "INFREQUENT_ACCESS"
    by_pattern = logs.describe_log_groups(logGroupNamePattern="batch")["logGroups"]
    assert [g["logGroupName"] for g in by_pattern] == ["/other/Batch"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(logGroupNamePrefix="/ecs", logGroupNamePattern="web")

    logs.delete_log_group(logGroupName="/ecs/web")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName="/ecs/web")
    assert len(logs.describe_log_groups()["logGroups"]) == 2


def test_describe_log_groups_pages(logs: Any) -> None:
    names = [f"group-{i:02d}" for i in range(7)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    first = logs.describe_log_groups(limit=3)
    assert len(first["logGroups"]) == 3 and "nextToken" in first
    paginator = logs.get_paginator("describe_log_groups")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 3}))
    assert len(pages) == 3
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == names
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(nextToken="garbage")


def test_log_streams(logs: Any) -> None:
    logs.create_log_group(logGroupName="app")
    t = now_ms()
    for name, ts in [("web/1", t - 3000), ("web/2", t - 1000), ("db/1", t - 2000), ("idle", None)]:
        logs.create_log_stream(logGroupName="app", logStreamName=name)
        if ts is not None:
            logs.put_log_events(
                logGroupName="app",
                logStreamName=name,
                logEvents=[{"timestamp": ts, "message": f"hello from {name}"}],
            )
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName="app", logStreamName="idle")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_stream(logGroupName="nope", logStreamName="x")

    streams = logs.describe_log_streams(logGroupName="app")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["db/1", "idle", "web/1", "web/2"]
    web2 = streams[3]
    assert web2["lastEventTimestamp"] == web2["firstEventTimestamp"] == t - 1000
    assert web2["arn"] == GROUP_ARN.format("app") + ":log-stream:web/2"
    assert "lastEventTimestamp" not in streams[1]

    prefixed = logs.describe_log_streams(logGroupName="app", logStreamNamePrefix="web/")
    assert [s["logStreamName"] for s in prefixed["logStreams"]] == ["web/1", "web/2"]
    latest = logs.describe_log_streams(
        logGroupIdentifier=GROUP_ARN.format("app"), orderBy="LastEventTime", descending=True
    )
    assert [s["logStreamName"] for s in latest["logStreams"]] == ["web/2", "db/1", "web/1", "idle"]
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName="app", orderBy="LastEventTime", PaginationConfig={"PageSize": 1}
    )
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == [
        "idle",
        "web/1",
        "db/1",
        "web/2",
    ]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(
            logGroupName="app", orderBy="LastEventTime", logStreamNamePrefix="web"
        )
    logs.delete_log_stream(logGroupName="app", logStreamName="idle")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_stream(logGroupName="app", logStreamName="idle")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName="nope")


def test_put_and_get_log_events(logs: Any) -> None:
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    t = now_ms() - 60_000
    put = logs.put_log_events(
        logGroupName="app",
        logStreamName="s",
        sequenceToken="ignored-as-aws-does-now",
        logEvents=[{"timestamp": t + i, "message": f"line {i}"} for i in range(25)],
    )
    assert "rejectedLogEventsInfo" not in put
    assert put["nextSequenceToken"]

    tail = logs.get_log_events(logGroupName="app", logStreamName="s", limit=10)
    assert [e["message"] for e in tail["events"]] == [f"line {i}" for i in range(15, 25)]
    assert tail["nextForwardToken"].startswith("f/") and tail["nextForwardToken"].endswith("/s")
    assert tail["nextBackwardToken"].startswith("b/")
    event = tail["events"][0]
    assert event["timestamp"] == t + 15 and event["ingestionTime"] >= event["timestamp"]

    seen: list[str] = []
    token = tail["nextBackwardToken"]
    while True:
        page = logs.get_log_events(logGroupName="app", logStreamName="s", nextToken=token, limit=10)
        if not page["events"]:
            break
        seen = [e["message"] for e in page["events"]] + seen
        token = page["nextBackwardToken"]
    assert seen == [f"line {i}" for i in range(15)]

    head = logs.get_log_events(logGroupName="app", logStreamName="s", startFromHead=True, limit=20)
    assert len(head["events"]) == 20
    rest = logs.get_log_events(
        logGroupName="app", logStreamName="s", nextToken=head["nextForwardToken"]
    )
    assert [e["message"] for e in rest["events"]] == [f"line {i}" for i in range(20, 25)]
    end = logs.get_log_events(
        logGroupName="app", logStreamName="s", nextToken=rest["nextForwardToken"]
    )
    assert end["events"] == []
    assert end["nextForwardToken"] == rest["nextForwardToken"]

    window = logs.get_log_events(
        logGroupIdentifier=GROUP_ARN.format("app"),
        logStreamName="s",
        startTime=t + 3,
        endTime=t + 6,
        startFromHead=True,
    )
    assert [e["message"] for e in window["events"]] == ["line 3", "line 4", "line 5"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName="app", logStreamName="s", nextToken="f/bad/s")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName="app", logStreamName="missing")


def test_put_log_events_rejections_and_errors(edge: Any, logs: Any) -> None:
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    t = now_ms()
    too_old = t - 15 * 24 * 3600 * 1000
    put = logs.put_log_events(
        logGroupName="app",
        logStreamName="s",
        logEvents=[
            {"timestamp": too_old, "message": "old"},
            {"timestamp": too_old + 1, "message": "old too"},
        ],
    )
    assert put["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    put = logs.put_log_events(
        logGroupName="app",
        logStreamName="s",
        logEvents=[
            {"timestamp": t, "message": "now"},
            {"timestamp": t + 3 * 3600 * 1000, "message": "future"},
        ],
    )
    assert put["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert edge.count("logs_events") == 1

    unsorted = [{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}]
    with pytest.raises(logs.exceptions.InvalidParameterException, match="chronological"):
        logs.put_log_events(logGroupName="app", logStreamName="s", logEvents=unsorted)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_log_events(
            logGroupName="app", logStreamName="nope", logEvents=[{"timestamp": t, "message": "x"}]
        )
    raw = edge.client(validate=False)  # let the server, not botocore, see bad input
    with pytest.raises(raw.exceptions.InvalidParameterException, match="logEvents"):
        raw.put_log_events(logGroupName="app", logStreamName="s", logEvents=[])
    with pytest.raises(raw.exceptions.InvalidParameterException, match="logGroupName"):
        raw.put_log_events(
            logGroupName="bad name!",
            logStreamName="s",
            logEvents=[{"timestamp": t, "message": "x"}],
        )
    big = [{"timestamp": t, "message": "x" * 200_000}] * 6
    with pytest.raises(raw.exceptions.InvalidParameterException, match="Upload too large"):
        raw.put_log_events(logGroupName="app", logStreamName="s", logEvents=big)
    assert edge.count("logs_events") == 1, "refused batches must store nothing"


def test_filter_log_events(logs: Any) -> None:
    logs.create_log_group(logGroupName="app")
    t = now_ms() - 60_000
    lines = {
        "web": ["GET / 200", "ERROR timeout talking to db", "GET /health 200"],
        "worker": ["job 1 done", "ERROR out of memory", "WARN slow job"],
    }
    for stream, messages in lines.items():
        logs.create_log_stream(logGroupName="app", logStreamName=stream)
        offset = 0 if stream == "web" else 1
        logs.put_log_events(
            logGroupName="app",
            logStreamName=stream,
            logEvents=[
                {"timestamp": t + 2 * i + offset, "message": m} for i, m in enumerate(messages)
            ],
        )
    everything = logs.filter_log_events(logGroupName="app")["events"]
    assert [e["message"] for e in everything] == [
        "GET / 200",
        "job 1 done",
        "ERROR timeout talking to db",
        "ERROR out of memory",
        "GET /health 200",
        "WARN slow job",
    ]
    assert {e["logStreamName"] for e in everything} == {"web", "worker"}
    assert all(e["eventId"] for e in everything)

    def messages(**kwargs: Any) -> list[str]:
        return [
            e["message"] for e in logs.filter_log_events(logGroupName="app", **kwargs)["events"]
        ]

    assert messages(filterPattern="ERROR") == ["ERROR timeout talking to db", "ERROR out of memory"]
    assert messages(filterPattern='"out of memory"') == ["ERROR out of memory"]
    assert messages(filterPattern="?WARN ?timeout") == [
        "ERROR timeout talking to db",
        "WARN slow job",
    ]
    assert messages(filterPattern="GET -health") == ["GET / 200"]
    assert messages(logStreamNames=["worker"], filterPattern="job") == [
        "job 1 done",
        "WARN slow job",
    ]
    assert messages(logStreamNamePrefix="we", startTime=t + 1, endTime=t + 4) == [
        "ERROR timeout talking to db",
        "GET /health 200",
    ]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName="app", filterPattern="{ $.level = 1 }")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="missing")

    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName="app", PaginationConfig={"PageSize": 4}
        )
    )
    assert [len(p["events"]) for p in pages] == [4, 2]


def test_tags_and_retention(logs: Any) -> None:
    logs.create_log_group(logGroupName="app", tags={"team": "a"})
    arn = GROUP_ARN.format("app")
    logs.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "b"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev", "team": "b"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev"}
    with pytest.raises(logs.exceptions.InvalidParameterException):  # the model refuses ':*'
        logs.list_tags_for_resource(resourceArn=arn + ":*")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(resourceArn=GROUP_ARN.format("missing"))
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(resourceArn=arn.replace("us-east-1", "eu-west-1"))

    logs.put_retention_policy(logGroupName="app", retentionInDays=14)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 14
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_retention_policy(logGroupName="app", retentionInDays=2)
    logs.delete_retention_policy(logGroupName="app")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName="missing", retentionInDays=1)


def test_signature_errors(edge: Any) -> None:
    wrong = edge.client(secret="not-the-default-secret")
    with pytest.raises(wrong.exceptions.ClientError) as info:
        wrong.describe_log_groups()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = edge.client(access_key="AKIANOSUCHKEY0000000")
    with pytest.raises(unknown.exceptions.ClientError) as info:
        unknown.describe_log_groups()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_accounts_and_regions_are_separate(edge: Any, logs: Any) -> None:
    key = edge.keys.create(user_name="other", account_id="111122223333")
    other = edge.client(access_key=key.access_key_id, secret=key.secret_access_key)
    other.create_log_group(logGroupName="mine")
    group = other.describe_log_groups()["logGroups"][0]
    assert group["logGroupArn"] == "arn:aws:logs:us-east-1:111122223333:log-group:mine"
    assert logs.describe_log_groups()["logGroups"] == []
    assert edge.client(region="eu-west-1").describe_log_groups()["logGroups"] == []


def test_engine_appends_are_visible_through_the_api(edge: Any, logs: Any) -> None:
    from cais.logs import InputEvent

    t = now_ms()
    edge.logs.append(
        "/ecs/demo", "ecs/web/abc123", [InputEvent(t, "booting"), InputEvent(t + 1, "ready")],
        create_group=True,
    )  # fmt: skip
    events = logs.get_log_events(
        logGroupName="/ecs/demo", logStreamName="ecs/web/abc123", startFromHead=True
    )["events"]
    assert [e["message"] for e in events] == ["booting", "ready"]
