"""boto3 against ``cais up``: the API end to end, bad input that changes nothing, and a
restart that keeps every repository, image, policy and login."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from ecr_up import CONFIG, REGION, Up, manifest_for, start, tiny_tar

from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY

LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 2,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)
REPO_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowPull",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start(tmp_path / "up", "--lifecycle-interval", "0")
    try:
        yield server
    finally:
        server.stop()


def error_of(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**params)
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def put_images(up: Up, ecr: Any, name: str, count: int) -> list[str]:
    """``count`` images by PutImage, their layer pushed over /v2 first (as ECR needs)."""
    password = up.password()
    layer = tiny_tar(name)
    up.push_blob(name, CONFIG, password)
    up.push_blob(name, layer, password)
    digests = []
    for i in range(count):
        manifest = manifest_for(CONFIG, layer, note=str(i))
        out = ecr.put_image(repositoryName=name, imageManifest=manifest.decode(), imageTag=f"t{i}")
        digests.append(out["image"]["imageId"]["imageDigest"])
    return digests


def test_the_api_end_to_end(up: Up) -> None:
    ecr = up.client()
    repo = ecr.create_repository(
        repositoryName="web",
        tags=[{"Key": "team", "Value": "platform"}],
        imageScanningConfiguration={"scanOnPush": True},
    )["repository"]
    assert repo["repositoryUri"] == f"{up.registry}/web"
    for i in range(5):
        ecr.create_repository(repositoryName=f"svc-{i}")
    pages = ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2})
    names = [r["repositoryName"] for page in pages for r in page["repositories"]]
    assert names == ["svc-0", "svc-1", "svc-2", "svc-3", "svc-4", "web"]

    digests = put_images(up, ecr, "web", 4)
    described = ecr.get_paginator("describe_images").paginate(
        repositoryName="web", PaginationConfig={"PageSize": 3}
    )
    details = [d for page in described for d in page["imageDetails"]]
    assert sorted(d["imageDigest"] for d in details) == sorted(digests)
    assert all(d["imagePushedAt"].year >= 2024 for d in details)
    got = ecr.batch_get_image(
        repositoryName="web",
        imageIds=[{"imageTag": "t0"}, {"imageTag": "missing"}],
        acceptedMediaTypes=["application/vnd.oci.image.manifest.v1+json"],
    )
    assert [i["imageId"]["imageDigest"] for i in got["images"]] == [digests[0]]
    assert [f["failureCode"] for f in got["failures"]] == ["ImageNotFound"]

    ecr.put_lifecycle_policy(repositoryName="web", lifecyclePolicyText=LIFECYCLE)
    ecr.start_lifecycle_policy_preview(repositoryName="web")
    ecr.get_waiter("lifecycle_policy_preview_complete").wait(repositoryName="web")
    preview = ecr.get_lifecycle_policy_preview(repositoryName="web")
    assert [r["imageDigest"] for r in preview["previewResults"]] == digests[:2]

    ecr.set_repository_policy(repositoryName="web", policyText=REPO_POLICY)
    assert json.loads(ecr.get_repository_policy(repositoryName="web")["policyText"]) == json.loads(
        REPO_POLICY
    )
    ecr.tag_resource(resourceArn=repo["repositoryArn"], tags=[{"Key": "tier", "Value": "1"}])
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "platform"}, {"Key": "tier", "Value": "1"}]

    deleted = ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageTag": "t3"}])
    assert deleted["imageIds"] == [{"imageDigest": digests[3], "imageTag": "t3"}]
    code, _, status = error_of(ecr.delete_repository, repositoryName="web")
    assert (code, status) == ("RepositoryNotEmptyException", 400)
    ecr.delete_repository(repositoryName="svc-0")
    # botocore turns ECR's error types into its exception classes
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=["svc-0"])


def test_bad_input_gets_the_aws_error_and_changes_nothing(up: Up) -> None:
    ecr = up.client()
    ecr.create_repository(repositoryName="web")
    put_images(up, ecr, "web", 1)
    loose = up.client(validate=False)  # let malformed requests reach the server
    before = up.rows()
    cases = [
        (loose.create_repository, {"repositoryName": "Not Valid"}, "InvalidParameterException"),
        (loose.create_repository, {"repositoryName": "web"}, "RepositoryAlreadyExistsException"),
        (
            loose.put_lifecycle_policy,
            {"repositoryName": "web", "lifecyclePolicyText": LIFECYCLE.replace("any", "all")},
            "InvalidParameterException",
        ),
        (
            loose.set_repository_policy,
            {"repositoryName": "web", "policyText": REPO_POLICY.replace("Allow", "Permit")},
            "InvalidParameterException",
        ),
        (
            loose.put_image,
            {"repositoryName": "web", "imageManifest": "{}", "imageTag": "x"},
            "InvalidParameterException",
        ),
        (
            loose.put_image,
            {
                "repositoryName": "web",
                "imageManifest": manifest_for(CONFIG, b"never pushed").decode(),
                "imageTag": "x",
            },
            "LayersNotFoundException",
        ),
        (loose.describe_images, {"repositoryName": "nope"}, "RepositoryNotFoundException"),
        (
            up.client(secret="wrong-secret").create_repository,
            {"repositoryName": "sneaky"},
            "InvalidSignatureException",
        ),
        (
            up.client(key="AKIAUNKNOWNKEY000000").create_repository,
            {"repositoryName": "sneaky"},
            "UnrecognizedClientException",
        ),
        (
            loose.put_lifecycle_policy,
            {"repositoryName": "web", "lifecyclePolicyText": "x" * (9 << 20)},
            "RequestEntityTooLargeException",
        ),
    ]
    for call, params, expected in cases:
        code, message, _ = error_of(call, **params)
        assert code == expected, (expected, message)
        assert up.rows() == before, f"{expected} changed storage"
    # an operation the endpoint does not know, signed as boto3 would sign it
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.Teleport",
        "Content-Type": "application/x-amz-json-1.1",
    }
    signed = AWSRequest(method="POST", url=up.url + "/", data=b"{}", headers=headers)
    creds = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY)
    SigV4Auth(creds, "ecr", REGION).add_auth(signed)
    request = urllib.request.Request(
        up.url + "/",
        data=b"{}",
        method="POST",
        headers={k: str(v) for k, v in signed.headers.items()},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"] == "UnknownOperationException"
    assert up.rows() == before


def test_a_restart_keeps_everything(up: Up, tmp_path: Path) -> None:
    ecr = up.client()
    ecr.create_repository(repositoryName="keep", imageTagMutability="IMMUTABLE")
    digests = put_images(up, ecr, "keep", 3)
    ecr.put_lifecycle_policy(repositoryName="keep", lifecyclePolicyText=LIFECYCLE)
    ecr.set_repository_policy(repositoryName="keep", policyText=REPO_POLICY)
    password = up.password()
    state = snapshot(ecr)

    assert up.stop(signal.SIGTERM) == 0  # a clean shutdown
    assert "shutting down" in up.log.read_text()
    up.restart()
    ecr = up.client()
    assert snapshot(ecr) == state
    # a login from before the restart still works on /v2
    auth = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()
    request = urllib.request.Request(
        f"{up.url}/v2/keep/manifests/t0",
        headers={"Authorization": auth, "Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.headers["Docker-Content-Digest"] == digests[0]

    # lifecycle on demand, from the CLI, on the same root while the server runs
    result = subprocess.run(
        [sys.executable, "-m", "cais.cli.launch", "ecr", "run-lifecycle", "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "CAIS_ROOT": str(up.root), "CAIS_RUNROOT": str(up.base / "run")},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [run] = json.loads(result.stdout)
    assert [x["Digest"] for x in run["Expired"]] == digests[:1]
    left = ecr.describe_images(repositoryName="keep")["imageDetails"]
    assert sorted(d["imageDigest"] for d in left) == sorted(digests[1:])

    # one cais up per root; SIGINT stops it as cleanly as SIGTERM
    second = subprocess.run(
        [sys.executable, "-m", "cais.cli.launch", "up", "--port", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "CAIS_ROOT": str(up.root), "CAIS_RUNROOT": str(up.base / "run")},
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert f"another cais up (pid {up.process.pid})" in second.stderr
    assert up.stop(signal.SIGINT) == 0


def snapshot(ecr: Any) -> dict[str, Any]:
    repos = ecr.describe_repositories()["repositories"]
    out: dict[str, Any] = {"repositories": repos}
    for repo in repos:
        name = repo["repositoryName"]
        images = ecr.describe_images(repositoryName=name)["imageDetails"]
        out[name] = {
            "images": sorted(images, key=lambda d: d["imageDigest"]),
            "lifecycle": ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"],
            "policy": ecr.get_repository_policy(repositoryName=name)["policyText"],
        }
    return out
