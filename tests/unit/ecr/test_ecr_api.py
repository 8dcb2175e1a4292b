"""The ECR API as boto3 sees it (through the dispatcher): AWS's shapes, pagination and
error types, and nothing stored changes when a call fails."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cais.oci import mediatypes as mt
from ecr.ecr_harness import (
    ACCOUNT,
    NOW,
    OTHER_ACCOUNT,
    World,
    digest_of,
    make_manifest,
    policy,
    rule,
)

ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    w.ok("CreateRepository", {"repositoryName": "app"})
    yield w
    w.close()


def test_create_repository_shape(world: World) -> None:
    out = world.ok(
        "CreateRepository",
        {
            "repositoryName": "team/web",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "alias/mine"},
            "tags": [{"Key": "team", "Value": "web"}],
        },
    )
    assert out["repository"] == {
        "repositoryArn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/web",
        "registryId": ACCOUNT,
        "repositoryName": "team/web",
        "repositoryUri": "localhost:2247/team/web",
        "createdAt": NOW,
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "alias/mine"},
    }
    tags = world.ok("ListTagsForResource", {"resourceArn": out["repository"]["repositoryArn"]})
    assert tags == {"tags": [{"Key": "team", "Value": "web"}]}


@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        ({"repositoryName": "app"}, "RepositoryAlreadyExistsException", "already exists"),
        ({"repositoryName": "Bad_Name"}, "InvalidParameterException", "regular expression"),
        ({"repositoryName": "a"}, "InvalidParameterException", "length greater than or equal to 2"),
        ({"repositoryName": "x/"}, "InvalidParameterException", "regular expression"),
        (
            {"repositoryName": "ok", "imageTagMutability": "SOMETIMES"},
            "InvalidParameterException",
            "enum",
        ),
        (
            {"repositoryName": "ok", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"},
            "InvalidParameterException",
            "Exclusion filters are required",
        ),
        (
            {
                "repositoryName": "ok",
                "encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": "k"},
            },
            "InvalidParameterException",
            "KMS key can only be given",
        ),
        (
            {"repositoryName": "ok", "registryId": OTHER_ACCOUNT},
            "InvalidParameterException",
            "own registry",
        ),
        (
            {"repositoryName": "ok", "tags": [{"Key": "aws:x", "Value": "1"}]},
            "InvalidTagParameterException",
            "reserved prefix",
        ),
        (
            {"repositoryName": "ok", "tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
            "TooManyTagsException",
            "50 tags",
        ),
    ],
)
def test_create_repository_refusals(
    world: World, body: dict[str, object], kind: str, words: str
) -> None:
    error_type, message = world.error("CreateRepository", body)
    assert error_type == kind
    assert words in message


def test_describe_repositories_pages_and_names(world: World) -> None:
    for name in ("b", "c", "d", "e"):
        world.ok("CreateRepository", {"repositoryName": f"r-{name}"})
    world.ok("CreateRepository", {"repositoryName": "theirs"}, account=OTHER_ACCOUNT)
    seen, token = [], None
    while True:
        body: dict[str, object] = {"maxResults": 2}
        if token:
            body["nextToken"] = token
        page = world.ok("DescribeRepositories", body)
        seen.append([r["repositoryName"] for r in page["repositories"]])
        token = page.get("nextToken")
        if not token:
            break
    assert seen == [["app", "r-b"], ["r-c", "r-d"], ["r-e"]]
    named = world.ok("DescribeRepositories", {"repositoryNames": ["r-c", "app"]})
    assert [r["repositoryName"] for r in named["repositories"]] == ["r-c", "app"]
    kind, message = world.error("DescribeRepositories", {"repositoryNames": ["app", "ghost"]})
    assert (kind, message) == (
        "RepositoryNotFoundException",
        f"The repository with name 'ghost' does not exist in the registry with id '{ACCOUNT}'",
    )
    kind, _ = world.error("DescribeRepositories", {"repositoryNames": ["theirs"]})
    assert kind == "RepositoryNotFoundException"
    kind, _ = world.error("DescribeRepositories", {"nextToken": "garbage!"})
    assert kind == "InvalidParameterException"


def test_images_through_the_api(world: World) -> None:
    a = world.push("app", "v1")
    world.clock.now = NOW + 10
    b = world.push("app", None)
    listed = world.ok("ListImages", {"repositoryName": "app"})["imageIds"]
    assert sorted(listed, key=lambda i: i["imageDigest"]) == sorted(
        [{"imageDigest": a.digest, "imageTag": "v1"}, {"imageDigest": b.digest}],
        key=lambda i: i["imageDigest"],
    )
    untagged = world.ok(
        "ListImages", {"repositoryName": "app", "filter": {"tagStatus": "UNTAGGED"}}
    )
    assert untagged["imageIds"] == [{"imageDigest": b.digest}]
    [detail] = world.ok(
        "DescribeImages", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]}
    )["imageDetails"]
    assert detail == {
        "registryId": ACCOUNT,
        "repositoryName": "app",
        "imageDigest": a.digest,
        "imageTags": ["v1"],
        "imageSizeInBytes": len(a.config) + len(a.layers[0]),
        "imagePushedAt": NOW,
        "imageManifestMediaType": mt.OCI_MANIFEST,
        "artifactMediaType": mt.OCI_CONFIG,
    }
    kind, message = world.error(
        "DescribeImages", {"repositoryName": "app", "imageIds": [{"imageTag": "nope"}]}
    )
    assert (kind, message) == (
        "ImageNotFoundException",
        "The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within "
        f"the repository with name 'app' in the registry with id '{ACCOUNT}'",
    )
    got = world.ok(
        "BatchGetImage",
        {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}, {"imageDigest": "sha256:00"}]},
    )
    assert got["images"] == [
        {
            "registryId": ACCOUNT,
            "repositoryName": "app",
            "imageId": {"imageDigest": a.digest, "imageTag": "v1"},
            "imageManifest": a.manifest.decode(),
            "imageManifestMediaType": mt.OCI_MANIFEST,
        }
    ]
    assert got["failures"] == [
        {
            "imageId": {"imageDigest": "sha256:00"},
            "failureCode": "InvalidImageDigest",
            "failureReason": "Invalid image digest",
        }
    ]


def test_describe_images_pages_over_many(world: World) -> None:
    pushed = {world.push("app", f"t{i}").digest for i in range(7)}
    seen: list[str] = []
    token = None
    while True:
        body: dict[str, object] = {"repositoryName": "app", "maxResults": 3}
        if token:
            body["nextToken"] = token
        page = world.ok("DescribeImages", body)
        assert len(page["imageDetails"]) <= 3
        seen += [d["imageDigest"] for d in page["imageDetails"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(pushed) and len(seen) == 7


def test_put_image_errors_store_nothing(world: World) -> None:
    blobs = make_manifest()
    kind, message = world.error(
        "PutImage",
        {"repositoryName": "app", "imageManifest": blobs.manifest.decode(), "imageTag": "v1"},
    )
    assert kind == "LayersNotFoundException"
    assert "required for pushing image into repository with name 'app'" in message
    kind, _ = world.error(
        "PutImage", {"repositoryName": "app", "imageManifest": "{not json", "imageTag": "v1"}
    )
    assert kind == "InvalidParameterException"
    kind, _ = world.error(
        "PutImage", {"repositoryName": "ghost", "imageManifest": blobs.manifest.decode()}
    )
    assert kind == "RepositoryNotFoundException"
    world.push("app", "v1", blobs)
    kind, _ = world.error(
        "PutImage",
        {
            "repositoryName": "app",
            "imageManifest": blobs.manifest.decode(),
            "imageTag": "v2",
            "imageDigest": "sha256:" + "1" * 64,
        },
    )
    assert kind == "ImageDigestDoesNotMatchException"
    kind, message = world.error(
        "PutImage",
        {"repositoryName": "app", "imageManifest": blobs.manifest.decode(), "imageTag": "no way!"},
    )
    assert (kind, message) == (
        "InvalidParameterException",
        "Invalid parameter at 'imageTag' failed to satisfy constraint: "
        "'Invalid image tag 'no way!': expected ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$'",
    )
    out = world.ok(
        "PutImage",
        {"repositoryName": "app", "imageManifest": blobs.manifest.decode(), "imageTag": "v2"},
    )
    assert out["image"]["imageId"] == {"imageDigest": blobs.digest, "imageTag": "v2"}


def test_batch_check_layer_availability(world: World) -> None:
    blobs = world.push("app", "v1", layers=[b"layer-bytes"])
    layer = digest_of(b"layer-bytes")
    out = world.ok(
        "BatchCheckLayerAvailability",
        {"repositoryName": "app", "layerDigests": [layer, "sha256:" + "2" * 64, "nope"]},
    )
    assert out["layers"] == [
        {
            "layerDigest": layer,
            "layerAvailability": "AVAILABLE",
            "layerSize": 11,
            "mediaType": "application/vnd.docker.container.image.rootfs.diff+x-gtar",
        },
        {"layerDigest": "sha256:" + "2" * 64, "layerAvailability": "UNAVAILABLE"},
    ]
    assert out["failures"] == [
        {
            "layerDigest": "nope",
            "failureCode": "InvalidLayerDigest",
            "failureReason": "Invalid layer digest",
        }
    ]
    assert blobs.digest


def test_batch_delete_image_reports_ids_and_failures(world: World) -> None:
    a = world.push("app", "v1")
    out = world.ok(
        "BatchDeleteImage", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}, {}]}
    )
    assert out["imageIds"] == [{"imageDigest": a.digest, "imageTag": "v1"}]
    assert out["failures"] == [
        {
            "imageId": {},
            "failureCode": "MissingDigestAndTag",
            "failureReason": "Invalid request parameters: both tag and digest cannot be null",
        }
    ]


def test_delete_repository(world: World) -> None:
    world.push("app", "v1")
    kind, message = world.error("DeleteRepository", {"repositoryName": "app"})
    assert kind == "RepositoryNotEmptyException"
    assert message == (
        f"The repository with name 'app' in registry with id '{ACCOUNT}' cannot be deleted "
        "because it still contains images"
    )
    out = world.ok("DeleteRepository", {"repositoryName": "app", "force": True})
    assert out["repository"]["repositoryArn"] == ARN
    kind, _ = world.error("DeleteRepository", {"repositoryName": "app"})
    assert kind == "RepositoryNotFoundException"


LIFECYCLE = policy(rule(1, "untagged", count=1), rule(2, "any", count=2))


def test_lifecycle_policy_and_preview(world: World) -> None:
    kind, message = world.error("GetLifecyclePolicy", {"repositoryName": "app"})
    assert (kind, message) == (
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name 'app' in the registry "
        f"with id '{ACCOUNT}'",
    )
    kind, _ = world.error("StartLifecyclePolicyPreview", {"repositoryName": "app"})
    assert kind == "LifecyclePolicyNotFoundException"
    kind, _ = world.error("GetLifecyclePolicyPreview", {"repositoryName": "app"})
    assert kind == "LifecyclePolicyPreviewNotFoundException"
    bad = LIFECYCLE.replace('"any"', '"every"')
    kind, message = world.error(
        "PutLifecyclePolicy", {"repositoryName": "app", "lifecyclePolicyText": bad}
    )
    assert kind == "InvalidParameterException"
    assert 'instance value ("every") not found in enum' in message
    put = world.ok(
        "PutLifecyclePolicy", {"repositoryName": "app", "lifecyclePolicyText": LIFECYCLE}
    )
    assert put == {"registryId": ACCOUNT, "repositoryName": "app", "lifecyclePolicyText": LIFECYCLE}
    digests = []
    for i in range(5):
        world.clock.now = NOW + i
        digests.append(world.push("app", f"v{i}" if i % 2 else None).digest)
    started = world.ok("StartLifecyclePolicyPreview", {"repositoryName": "app"})
    assert started["status"] == "COMPLETE"
    preview = world.ok("GetLifecyclePolicyPreview", {"repositoryName": "app"})
    # untagged 0, 2, 4: rule 1 keeps the newest (4); "any" keeps 3 and 4, can take 1
    assert [(r["imageDigest"], r["appliedRulePriority"]) for r in preview["previewResults"]] == [
        (digests[0], 1),
        (digests[1], 2),
        (digests[2], 1),
    ]
    assert preview["previewResults"][1]["imageTags"] == ["v1"]
    assert preview["previewResults"][1]["action"] == {"type": "EXPIRE"}
    assert preview["summary"] == {"expiringImageTotalCount": 3}
    tagged = world.ok(
        "GetLifecyclePolicyPreview", {"repositoryName": "app", "filter": {"tagStatus": "TAGGED"}}
    )
    assert [r["imageDigest"] for r in tagged["previewResults"]] == [digests[1]]
    paged = world.ok("GetLifecyclePolicyPreview", {"repositoryName": "app", "maxResults": 2})
    assert len(paged["previewResults"]) == 2 and paged["nextToken"]
    rest = world.ok(
        "GetLifecyclePolicyPreview",
        {"repositoryName": "app", "maxResults": 2, "nextToken": paged["nextToken"]},
    )
    assert [r["imageDigest"] for r in rest["previewResults"]] == [digests[2]]
    got = world.ok("GetLifecyclePolicy", {"repositoryName": "app"})
    assert got["lifecyclePolicyText"] == LIFECYCLE and "lastEvaluatedAt" not in got
    deleted = world.ok("DeleteLifecyclePolicy", {"repositoryName": "app"})
    assert deleted["lifecyclePolicyText"] == LIFECYCLE
    kind, _ = world.error("DeleteLifecyclePolicy", {"repositoryName": "app"})
    assert kind == "LifecyclePolicyNotFoundException"


REPO_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "pull",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)


def test_repository_policy(world: World) -> None:
    kind, message = world.error("GetRepositoryPolicy", {"repositoryName": "app"})
    assert kind == "RepositoryPolicyNotFoundException"
    assert message.startswith("Repository policy does not exist for the repository with name 'app'")
    bad = REPO_POLICY.replace("Allow", "Maybe")
    kind, message = world.error("SetRepositoryPolicy", {"repositoryName": "app", "policyText": bad})
    assert kind == "InvalidParameterException"
    assert message == (
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository "
        'policy provided: Statement[0].Effect must be Allow or Deny, got "Maybe"\''
    )
    bad_action = REPO_POLICY.replace("ecr:BatchGetImage", "ecr:StealImage")
    kind, message = world.error(
        "SetRepositoryPolicy", {"repositoryName": "app", "policyText": bad_action}
    )
    assert "'ecr:StealImage' is not an ECR action" in message
    world.ok("SetRepositoryPolicy", {"repositoryName": "app", "policyText": REPO_POLICY})
    got = world.ok("GetRepositoryPolicy", {"repositoryName": "app"})
    assert got == {"registryId": ACCOUNT, "repositoryName": "app", "policyText": REPO_POLICY}
    world.ok("DeleteRepositoryPolicy", {"repositoryName": "app"})
    kind, _ = world.error("DeleteRepositoryPolicy", {"repositoryName": "app"})
    assert kind == "RepositoryPolicyNotFoundException"


def test_settings_and_tags(world: World) -> None:
    out = world.ok(
        "PutImageTagMutability",
        {
            "repositoryName": "app",
            "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}],
        },
    )
    assert out["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"}
    ]
    scan = world.ok(
        "PutImageScanningConfiguration",
        {"repositoryName": "app", "imageScanningConfiguration": {"scanOnPush": True}},
    )
    assert scan["imageScanningConfiguration"] == {"scanOnPush": True}
    [repo] = world.ok("DescribeRepositories", {})["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    world.ok(
        "TagResource",
        {"resourceArn": ARN, "tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]},
    )
    world.ok("UntagResource", {"resourceArn": ARN, "tagKeys": ["a"]})
    assert world.ok("ListTagsForResource", {"resourceArn": ARN})["tags"] == [
        {"Key": "b", "Value": "2"}
    ]
    kind, message = world.error("TagResource", {"resourceArn": "arn:aws:s3:::bucket", "tags": []})
    assert kind == "InvalidParameterException" and "Invalid ARN" in message
    kind, _ = world.error("ListTagsForResource", {"resourceArn": ARN.replace("/app", "/ghost")})
    assert kind == "RepositoryNotFoundException"


def test_get_authorization_token(world: World) -> None:
    [data] = world.ok("GetAuthorizationToken", {})["authorizationData"]
    assert data["expiresAt"] == NOW + 12 * 3600
    assert data["proxyEndpoint"] == "http://localhost:2247"
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    grant = world.ecr.tokens.verify(password)
    assert grant is not None and grant.account == ACCOUNT


def test_operations_cais_does_not_serve_say_so(world: World) -> None:
    kind, message = world.error("InitiateLayerUpload", {"repositoryName": "app"})
    assert kind == "UnknownOperationException"
    assert "not supported by cais" in message
    kind, _ = world.error("FlyToTheMoon", {})
    assert kind == "UnknownOperationException"
    kind, _ = world.error("CreateRepository", b"[1, 2]")
    assert kind == "SerializationException"
