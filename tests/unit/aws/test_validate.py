"""Input checks against botocore's real models: one test per kind of constraint."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cais.aws.errors import AwsError
from cais.aws.models import ServiceModels
from cais.aws.validate import Validator


@pytest.fixture(scope="module")
def models() -> ServiceModels:
    return ServiceModels()


def check(
    models: ServiceModels, service: str, op: str, params: dict[str, Any], error: str = "X"
) -> dict[str, Any]:
    shape = models.get(service).operation_model(op).input_shape
    return Validator(models.regex).validate(shape, params, error_type=error)


def refused(models: ServiceModels, service: str, op: str, params: dict[str, Any]) -> str:
    with pytest.raises(AwsError) as info:
        check(models, service, op, params, error="InvalidParameterException")
    assert info.value.type == "InvalidParameterException"
    assert info.value.status == 400
    return info.value.message


def test_ecr_repository_name_pattern(models: ServiceModels) -> None:
    assert check(models, "ecr", "CreateRepository", {"repositoryName": "team/app-1"})
    message = refused(models, "ecr", "CreateRepository", {"repositoryName": "Team/App"})
    assert message.startswith("1 validation error detected: Value 'Team/App' at 'repositoryName'")
    assert "Member must satisfy regular expression pattern" in message


def test_ecr_repository_name_length(models: ServiceModels) -> None:
    assert "greater than or equal to 2" in refused(
        models, "ecr", "CreateRepository", {"repositoryName": "a"}
    )
    assert "less than or equal to 256" in refused(
        models, "ecr", "CreateRepository", {"repositoryName": "a" * 257}
    )


def test_required_member(models: ServiceModels) -> None:
    message = refused(models, "logs", "CreateLogStream", {"logGroupName": "g"})
    assert message == (
        "1 validation error detected: Value null at 'logStreamName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_integer_range(models: ServiceModels) -> None:
    assert check(models, "ecr", "DescribeRepositories", {"maxResults": 1000})
    assert "less than or equal to 1000" in refused(
        models, "ecr", "DescribeRepositories", {"maxResults": 1001}
    )
    assert "greater than or equal to 1" in refused(
        models, "logs", "DescribeLogGroups", {"limit": 0}
    )


def test_types(models: ServiceModels) -> None:
    assert "Member must be of type integer" in refused(
        models, "logs", "DescribeLogGroups", {"limit": "5"}
    )
    assert "Member must be of type integer" in refused(
        models, "logs", "DescribeLogGroups", {"limit": True}
    )
    assert "Member must be of type boolean" in refused(
        models, "logs", "DescribeLogStreams", {"logGroupName": "g", "descending": "yes"}
    )
    assert "Member must be of type list" in refused(
        models, "logs", "PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": {}}
    )
    assert "Member must be of type map" in refused(
        models, "logs", "CreateLogGroup", {"logGroupName": "g", "tags": ["a"]}
    )
    assert "Member must be of type string" in refused(
        models, "logs", "CreateLogGroup", {"logGroupName": 5}
    )


def test_enum(models: ServiceModels) -> None:
    message = refused(
        models, "logs", "DescribeLogStreams", {"logGroupName": "g", "orderBy": "Name"}
    )
    assert "Member must satisfy enum value set: [LogStreamName, LastEventTime]" in message


def test_list_limits_of_put_log_events(models: ServiceModels) -> None:
    base = {"logGroupName": "g", "logStreamName": "s"}
    assert "greater than or equal to 1" in refused(
        models, "logs", "PutLogEvents", {**base, "logEvents": []}
    )
    events = [{"timestamp": 1, "message": "x"}] * 10_001
    assert "less than or equal to 10000" in refused(
        models, "logs", "PutLogEvents", {**base, "logEvents": events}
    )


def test_nested_paths_are_named(models: ServiceModels) -> None:
    params = {
        "logGroupName": "g",
        "logStreamName": "s",
        "logEvents": [{"timestamp": 1, "message": "ok"}, {"message": ""}],
    }
    message = refused(models, "logs", "PutLogEvents", params)
    assert message.startswith("2 validation errors detected")
    assert "Value null at 'logEvents.2.member.timestamp'" in message
    assert "Value '' at 'logEvents.2.member.message'" in message


def test_unicode_property_pattern_of_tags(models: ServiceModels) -> None:
    ok = check(models, "logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"équipe": "café"}})
    assert ok["tags"] == {"équipe": "café"}
    assert "regular expression" in refused(
        models, "logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"bad*key": "v"}}
    )


def test_surrogate_pair_pattern_of_autoscaling(models: ServiceModels) -> None:
    base = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
    assert check(
        models, "application-autoscaling", "RegisterScalableTarget", {**base, "ResourceId": "x😀"}
    )
    with pytest.raises(AwsError):
        check(
            models,
            "application-autoscaling",
            "RegisterScalableTarget",
            {**base, "ResourceId": "bad\x01"},
        )


def test_unknown_members_are_dropped(models: ServiceModels) -> None:
    out = check(models, "logs", "DescribeLogGroups", {"limit": 5, "somethingNew": {"x": 1}})
    assert out == {"limit": 5}


def test_timestamps_become_datetimes(models: ServiceModels) -> None:
    out = check(
        models,
        "ecr",
        "ListImages",
        {"repositoryName": "app", "filter": {"tagStatus": "TAGGED"}},
    )
    assert out["filter"] == {"tagStatus": "TAGGED"}
    shape = models.get("ecs").operation_model("SubmitTaskStateChange").input_shape
    v = Validator(models.regex)
    out = v.validate(shape, {"pullStartedAt": 1700000000.5}, error_type="ClientException")
    assert out["pullStartedAt"] == dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=dt.UTC)
    with pytest.raises(AwsError) as info:
        v.validate(shape, {"pullStartedAt": "yesterday"}, error_type="ClientException")
    assert info.value.type == "ClientException"


def test_blobs_become_bytes(models: ServiceModels) -> None:
    shape = models.get("ecr").operation_model("UploadLayerPart").input_shape
    params = {
        "repositoryName": "app",
        "uploadId": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        "partFirstByte": 0,
        "partLastByte": 2,
        "layerPartBlob": "YWJj",
    }
    out = Validator(models.regex).validate(shape, params, error_type="InvalidParameterException")
    assert out["layerPartBlob"] == b"abc"
    with pytest.raises(AwsError):
        Validator(models.regex).validate(
            shape, {**params, "layerPartBlob": "!!"}, error_type="InvalidParameterException"
        )
