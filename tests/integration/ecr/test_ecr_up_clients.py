"""The whole ECR flow with the real clients against ``cais up``: the aws CLI creates a
repository and hands out a login, podman logs in and pushes, skopeo reads, a lifecycle
policy (previewed first) expires the old images on its schedule, and a pull of an expired
tag fails."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ecr_up import Up, aws, aws_run, oci_layout, podman_image, start

from anchors import Podman, skopeo
from cais.ecr.auth import LoginTokens
from cais.ecr.store import EcrStore
from cais.state.sqlite import Database

pytestmark = pytest.mark.interop

POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest v* image",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["v*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install -y {tool})")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start(tmp_path / "up", "--lifecycle-interval", "1s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    need("podman")
    pm = Podman.create(tmp_path / "podman")
    try:
        yield pm
    finally:
        pm.reset()
        shutil.rmtree(pm.runroot, ignore_errors=True)


def login(podman: Podman, up: Up, tmp: Path, authfile: Path) -> subprocess.CompletedProcess[str]:
    password = aws_run(up, tmp, "ecr", "get-login-password")
    assert password.returncode == 0, password.stderr
    return podman(
        "login",
        "--authfile",
        str(authfile),
        "--tls-verify=false",
        "-u",
        "AWS",
        "--password-stdin",
        up.registry,
        input=password.stdout.encode(),
        check=False,
    )


def push(
    podman: Podman, ref: str, authfile: Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return podman("push", "--authfile", str(authfile), "--tls-verify=false", ref, check=check)


def test_create_login_push_describe_expire_pull(up: Up, podman: Podman, tmp_path: Path) -> None:
    created = aws(up, tmp_path, "ecr", "create-repository", "--repository-name", "demo/app")
    uri = created["repository"]["repositoryUri"]
    assert uri == f"{up.registry}/demo/app"
    assert created["repository"]["repositoryArn"] == (
        "arn:aws:ecr:us-east-1:000000000000:repository/demo/app"
    )

    # without a login, a push is refused (401)
    anonymous = tmp_path / "anonymous.json"
    anonymous.write_text("{}")
    podman_image(podman, tmp_path, f"{uri}:v1", "one")
    refused = push(podman, f"{uri}:v1", anonymous, check=False)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower() or "401" in refused.stderr

    authfile = tmp_path / "auth.json"
    logged = login(podman, up, tmp_path, authfile)
    assert logged.returncode == 0, logged.stderr
    assert "Login Succeeded" in logged.stdout
    for i, tag in enumerate(("v1", "v2", "v3"), start=1):
        podman_image(podman, tmp_path, f"{uri}:{tag}", f"content {i}")
        push(podman, f"{uri}:{tag}", authfile)
        time.sleep(0.05)  # distinct push times

    # skopeo reads with the same login
    password = json.loads(authfile.read_text())["auths"][up.registry]["auth"]
    creds = base64.b64decode(password).decode()
    inspected = json.loads(
        skopeo("inspect", "--tls-verify=false", "--creds", creds, f"docker://{uri}:v3")
    )
    assert inspected["Name"] == uri

    details = aws(up, tmp_path, "ecr", "describe-images", "--repository-name", "demo/app")
    images = {d["imageTags"][0]: d for d in details["imageDetails"]}
    assert sorted(images) == ["v1", "v2", "v3"]
    for detail in images.values():
        assert detail["imageSizeInBytes"] > 0
        assert detail["imagePushedAt"]
        assert detail["imageManifestMediaType"].startswith("application/vnd.")
    assert images["v1"]["imagePushedAt"] < images["v3"]["imagePushedAt"]

    # the preview says what the policy will do, before it is applied
    aws(
        up,
        tmp_path,
        "ecr",
        "start-lifecycle-policy-preview",
        "--repository-name",
        "demo/app",
        "--lifecycle-policy-text",
        POLICY,
    )
    preview = aws(
        up, tmp_path, "ecr", "get-lifecycle-policy-preview", "--repository-name", "demo/app"
    )
    assert preview["status"] == "COMPLETE"
    to_expire = {r["imageDigest"] for r in preview["previewResults"]}
    assert to_expire == {images["v1"]["imageDigest"], images["v2"]["imageDigest"]}
    assert preview["summary"]["expiringImageTotalCount"] == 2

    aws(
        up,
        tmp_path,
        "ecr",
        "put-lifecycle-policy",
        "--repository-name",
        "demo/app",
        "--lifecycle-policy-text",
        POLICY,
    )
    deadline = time.monotonic() + 30
    while True:
        left = aws(up, tmp_path, "ecr", "describe-images", "--repository-name", "demo/app")
        digests = {d["imageDigest"] for d in left["imageDetails"]}
        if len(digests) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert digests == {images["v3"]["imageDigest"]}  # exactly what the preview showed went
    policy = aws(up, tmp_path, "ecr", "get-lifecycle-policy", "--repository-name", "demo/app")
    assert policy["lastEvaluatedAt"]

    podman("rmi", "-a", "-f", check=False)
    gone = podman(
        "pull", "--authfile", str(authfile), "--tls-verify=false", f"{uri}:v1", check=False
    )
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr.lower()
    kept = podman("pull", "--authfile", str(authfile), "--tls-verify=false", f"{uri}:v3")
    assert kept.returncode == 0
    pulled = aws(
        up,
        tmp_path,
        "ecr",
        "describe-images",
        "--repository-name",
        "demo/app",
        "--image-ids",
        "imageTag=v3",
    )
    assert pulled["imageDetails"][0]["lastRecordedPullTime"]


def test_registry_refusals_the_clients_show(up: Up, podman: Podman, tmp_path: Path) -> None:
    aws(
        up,
        tmp_path,
        "ecr",
        "create-repository",
        "--repository-name",
        "locked",
        "--image-tag-mutability",
        "IMMUTABLE",
    )
    authfile = tmp_path / "auth.json"
    assert login(podman, up, tmp_path, authfile).returncode == 0

    # a repository that was never created: NAME_UNKNOWN, as ECR answers
    podman_image(podman, tmp_path, f"{up.registry}/never/made:v1", "x")
    unknown = push(podman, f"{up.registry}/never/made:v1", authfile, check=False)
    assert unknown.returncode != 0
    assert "name unknown" in unknown.stderr.lower()

    # an immutable tag does not move
    podman_image(podman, tmp_path, f"{up.registry}/locked:v1", "first")
    push(podman, f"{up.registry}/locked:v1", authfile)
    before = up.rows()
    podman_image(podman, tmp_path, f"{up.registry}/locked:v1", "second")
    moved = push(podman, f"{up.registry}/locked:v1", authfile, check=False)
    assert moved.returncode != 0
    assert "cannot be overwritten because the tag is immutable" in moved.stderr
    after = [r for r in up.rows() if r[0] != "file"]
    assert after == [r for r in before if r[0] != "file"]

    # an expired login (issued 13 hours ago with the server's own secret) is refused
    old = LoginTokens(
        EcrStore(Database(up.root / "cais.db")), clock=lambda: time.time() - 13 * 3600
    )
    expired = old.issue(account="000000000000", access_key_id="AKIACAISLOCALDEFAULT").password
    stale = podman(
        "login",
        "--authfile",
        str(tmp_path / "stale.json"),
        "--tls-verify=false",
        "-u",
        "AWS",
        "--password-stdin",
        up.registry,
        input=expired.encode(),
        check=False,
    )
    assert stale.returncode != 0
    assert "invalid username/password" in stale.stderr  # podman's words for a 401
    assert '"GET /v2/" 401' in up.log.read_text()


def test_skopeo_copies_into_a_repository_and_aws_cli_v2_logs_in(up: Up, tmp_path: Path) -> None:
    need("skopeo")
    aws(up, tmp_path, "ecr", "create-repository", "--repository-name", "copied")
    layout = tmp_path / "layout"
    oci_layout(layout, tag="v1")
    binary = "/usr/bin/aws"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    if not version.stdout.startswith("aws-cli/2"):
        binary = ""
    password = aws_run(up, tmp_path, "ecr", "get-login-password", binary=binary or None)
    assert password.returncode == 0, password.stderr
    creds = f"AWS:{password.stdout.strip()}"
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        f"oci:{layout}:v1",
        f"docker://{up.registry}/copied:v1",
    )
    found = aws(
        up,
        tmp_path,
        "ecr",
        "list-images",
        "--repository-name",
        "copied",
        binary=binary or None,
    )
    assert [i["imageTag"] for i in found["imageIds"]] == ["v1"]
