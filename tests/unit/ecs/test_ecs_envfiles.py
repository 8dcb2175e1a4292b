"""environmentFiles: S3 objects read from ``<root>/s3/<bucket>/<key>`` into the container
environment of the spec an agent is handed, with ECS's precedence and failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cais.agent.machine import attributes
from cais.aws.errors import AwsError
from cais.ecs import Ecs, Scope, SpecBuilder, SqliteEcsStore, taskdef
from cais.ecs.envfiles import parse_s3_arn
from cais.ecs.model import Attribute, Resources
from cais.state.sqlite import Database

SCOPE = Scope("000000000000", "us-east-1")
FAILED = "ResourceInitializationError: failed to download env files: "


@pytest.fixture
def ecs(tmp_path: Path) -> Ecs:
    return Ecs(SqliteEcsStore(Database(tmp_path / "cais.db")))


@pytest.fixture
def s3(tmp_path: Path) -> Path:
    return tmp_path / "s3"


def put(s3: Path, bucket: str, key: str, text: str) -> str:
    path = s3 / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"arn:aws:s3:::{bucket}/{key}"


def files(*arns: str) -> list[dict[str, str]]:
    return [{"type": "s3", "value": arn} for arn in arns]


def spec_for(ecs: Ecs, s3: Path, *containers: dict[str, Any], **overrides: Any) -> Any:
    cluster = ecs.create_cluster(SCOPE, "default")
    ecs.register_instance(
        cluster,
        machine="m",
        hostname="h",
        resources=Resources(cpu=4096, memory=8192),
        attributes=[Attribute(a.name, a.value) for a in attributes(availability_zone="a")],
        has_agent=True,
        session="s",
    )
    definition = {"family": "app", "containerDefinitions": list(containers)}
    registered = ecs.register_task_definition(SCOPE, definition, registered_by="me")
    launch = ecs.launch(
        registered,
        overrides=overrides or None,
        group=None,
        started_by=None,
        launch_type=None,
        access_key_id="AKIAKEY",
    )
    (task,) = ecs.run_task(cluster, launch, count=1).tasks
    return SpecBuilder(ecs.store, s3_root=s3).spec(task, registered)


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "busybox", "memory": 64, **fields}


def test_variables_of_a_file_reach_the_container(ecs: Ecs, s3: Path) -> None:
    arn = put(
        s3,
        "config",
        "prod/app.env",
        '# database\nDB_HOST=db.internal\n\nURL=http://x/?a=b\nQUOTED="kept"\nEMPTY=\n',
    )
    spec = spec_for(ecs, s3, app(environmentFiles=files(arn)))
    assert spec.initialization_error == ""
    assert spec.containers[0].environment == {
        "DB_HOST": "db.internal",
        "URL": "http://x/?a=b",  # split at the first "="
        "QUOTED": '"kept"',  # no quote processing
        "EMPTY": "",
    }


def test_environment_wins_over_files_and_earlier_files_over_later(ecs: Ecs, s3: Path) -> None:
    first = put(s3, "config", "first.env", "A=first\nB=first\n")
    second = put(s3, "config", "second.env", "A=second\nB=second\nC=second\n")
    spec = spec_for(
        ecs,
        s3,
        app(environment=[{"name": "A", "value": "env"}], environmentFiles=files(first, second)),
        app(name="other"),  # a container without files gets none of their variables
    )
    web, other = spec.containers
    assert web.environment == {"A": "env", "B": "first", "C": "second"}
    assert other.environment == {}


def test_a_run_task_override_replaces_the_files_and_its_environment_wins(
    ecs: Ecs, s3: Path
) -> None:
    defined = put(s3, "config", "defined.env", "A=defined\nB=defined\n")
    override = put(s3, "config", "override.env", "A=override\n")
    spec = spec_for(
        ecs,
        s3,
        app(environmentFiles=files(defined)),
        containerOverrides=[
            {
                "name": "app",
                "environment": [{"name": "X", "value": "1"}],
                "environmentFiles": files(override),
            }
        ],
    )
    assert spec.containers[0].environment == {"X": "1", "A": "override"}


def test_a_missing_file_fails_the_task_to_start(ecs: Ecs, s3: Path) -> None:
    present = put(s3, "config", "ok.env", "A=1\n")
    spec = spec_for(
        ecs, s3, app(environmentFiles=files(present, "arn:aws:s3:::config/missing.env"))
    )
    assert spec.initialization_error.startswith(FAILED)
    assert "key missing.env from bucket config" in spec.initialization_error


def test_a_malformed_line_fails_the_task_naming_file_and_line(ecs: Ecs, s3: Path) -> None:
    arn = put(s3, "config", "bad.env", "# fine\nA=1\nexport B\n")
    spec = spec_for(ecs, s3, app(environmentFiles=files(arn)))
    assert spec.initialization_error == (
        f"{FAILED}env file arn:aws:s3:::config/bad.env: line 3 is not NAME=VALUE: 'export B'"
    )


def test_a_key_cannot_leave_its_bucket(ecs: Ecs, tmp_path: Path, s3: Path) -> None:
    (tmp_path / "secret.env").write_text("A=1\n")
    s3.mkdir()
    override = [{"name": "app", "environmentFiles": files("arn:aws:s3:::config/../../secret.env")}]
    spec = spec_for(
        ecs,
        s3,
        app(environmentFiles=files("arn:aws:s3:::config/x.env")),
        containerOverrides=override,
    )
    assert spec.initialization_error == (
        f"{FAILED}unable to parse bucket and key from s3 ARN arn:aws:s3:::config/../../secret.env"
    )
    assert spec.containers[0].environment == {}


def test_s3_object_arns() -> None:
    assert parse_s3_arn("arn:aws:s3:::bucket/a/b.env") == ("bucket", "a/b.env")
    assert parse_s3_arn("arn:aws-cn:s3:::my.bucket-1/x") == ("my.bucket-1", "x")
    for bad in (
        "arn:aws:s3:::bucket",
        "arn:aws:s3:::bucket/",
        "arn:aws:s3:::Bucket/x",
        "arn:aws:s3:::bucket/a//b",
        "arn:aws:s3:::bucket/../x",
        "arn:aws:s3:us-east-1:000000000000:bucket/x",
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:x",
        "s3://bucket/x",
    ):
        assert parse_s3_arn(bad) is None, bad


def test_register_task_definition_refuses_other_types_and_non_s3_values() -> None:
    def refused(source: dict[str, str]) -> str:
        params = {"family": "app", "containerDefinitions": [app(environmentFiles=[source])]}
        with pytest.raises(AwsError) as caught:
            taskdef.normalise(params)
        assert caught.value.type == "ClientException"
        return caught.value.message

    assert "environmentFiles type 'http' is not supported" in refused(
        {"type": "http", "value": "arn:aws:s3:::bucket/x.env"}
    )
    assert "is not an S3 object ARN" in refused({"type": "s3", "value": "https://x/a.env"})
    good = files("arn:aws:s3:::bucket/x")
    body = taskdef.normalise({"family": "a", "containerDefinitions": [app(environmentFiles=good)]})
    assert body["containerDefinitions"][0]["environmentFiles"] == good
