"""cais pull / push / login against real registries, and images made by real tools.

Debian's docker-registry (distribution 2.8) with and without htpasswd; ``cais registry
serve`` with token auth; podman pushes, cais pulls and runs; a pull killed mid-layer
resumes; a multi-arch index resolves to linux/amd64.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dist_servers import (
    Server,
    ThrottlingProxy,
    put_blob,
    put_manifest,
    start_cais_registry,
    start_docker_registry,
    write_htpasswd,
)

from anchors import Podman, skopeo
from cais.settings import Settings
from helpers import Cli

pytestmark = pytest.mark.interop

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def fresh_cli(tmp_path: Path, name: str) -> Cli:
    return Cli(Settings(root=tmp_path / name / "root", runroot=tmp_path / name / "run"))


def inspect(cli: Cli, ref: str) -> dict[str, object]:
    doc = json.loads(cli("image", "inspect", ref).out)[0]
    assert isinstance(doc, dict)
    return doc


def pushed_digest(out: str) -> str:
    tag, label, digest, _, size = out.splitlines()[-1].split(" ")
    assert tag.endswith(":")
    assert label == "digest:" and int(size) > 0
    return digest


@pytest.fixture
def docker_registry(tmp_path: Path) -> Iterator[Server]:
    need("docker-registry")
    server = start_docker_registry(tmp_path / "go")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("auth", ["none", "htpasswd"])
def test_round_trip_with_docker_registry(
    auth: str, ccli: Cli, busybox: str, tmp_path: Path
) -> None:
    need("docker-registry")
    htpasswd = (
        write_htpasswd(tmp_path / "htpasswd", {"ci": "secret"}) if auth == "htpasswd" else None
    )
    server = start_docker_registry(tmp_path / "go", htpasswd=htpasswd)
    authfile = ["--authfile", str(tmp_path / "auth.json")]
    ref = f"{server.host}/cais/busybox:v1"
    try:
        if htpasswd:
            denied = ccli("push", *authfile, "busybox", ref, check=False)
            assert denied.code == 1
            assert "unauthorized: authentication required" in denied.err
            wrong = ccli(
                "login",
                *authfile,
                "-u",
                "ci",
                "--password-stdin",
                server.host,
                input=b"nope\n",
                check=False,
            )
            assert wrong.code == 1 and "unauthorized" in wrong.err
            assert (
                ccli(
                    "login",
                    *authfile,
                    "-u",
                    "ci",
                    "--password-stdin",
                    server.host,
                    input=b"secret\n",
                ).out
                == "Login Succeeded\n"
            )
        pushed = ccli("push", *authfile, "busybox", ref)
        assert (
            pushed.out.splitlines()[0]
            == f"The push refers to repository [{server.host}/cais/busybox]"
        )
        digest = pushed_digest(pushed.out)
        creds = ["--creds", "ci:secret"] if htpasswd else []
        seen = json.loads(skopeo("inspect", "--tls-verify=false", *creds, f"docker://{ref}"))
        assert seen["Digest"] == digest  # the registry serves what cais said it pushed

        other = fresh_cli(tmp_path, "other")
        if htpasswd:
            refused = other("pull", ref, check=False)  # its own root: no credentials there
            assert refused.code == 1 and "unauthorized" in refused.err
            assert other("images", "-q").out == ""
        pulled = other("pull", *authfile, ref)
        assert pulled.out.splitlines()[-3:] == [
            f"Digest: {digest}",
            f"Status: Downloaded newer image for {ref}",
            ref,
        ]
        doc = inspect(other, ref)
        assert doc["Id"] == busybox
        assert doc["RepoDigests"] == [f"{server.host}/cais/busybox@{digest}"]
        if htpasswd:
            out = ccli("logout", *authfile, server.host).out
            assert out == f"Removed login credentials for {server.host}\n"
            again = ccli("push", *authfile, "busybox", ref, check=False)
            assert again.code == 1 and "unauthorized" in again.err
    finally:
        server.stop()


def test_round_trip_with_cais_registry_and_token_auth(
    ccli: Cli, busybox: str, tmp_path: Path
) -> None:
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"ci": "secret"})
    server = start_cais_registry(tmp_path / "creg", "--auth", f"token:{htpasswd}")
    authfile = ["--authfile", str(tmp_path / "auth.json")]
    try:
        ccli("login", *authfile, "-u", "ci", "--password-stdin", server.host, input=b"secret\n")
        first = ccli("push", *authfile, "busybox", f"{server.host}/cais/busybox:v1")
        assert any(line.endswith(": Pushed") for line in first.out.splitlines())
        digest = pushed_digest(first.out)
        second = ccli("push", *authfile, "busybox", f"{server.host}/team/copy:v1")
        assert any(line.endswith(": Mounted from cais/busybox") for line in second.out.splitlines())
        assert pushed_digest(second.out) == digest

        other = fresh_cli(tmp_path, "other")
        ref = f"{server.host}/team/copy:v1"
        other("pull", *authfile, ref)
        doc = inspect(other, ref)
        assert doc["Id"] == busybox
        assert doc["RepoDigests"] == [f"{server.host}/team/copy@{digest}"]
    finally:
        server.stop()


def test_image_pushed_by_podman_is_pulled_and_run_by_cais(
    ccli: Cli, busybox: str, docker_registry: Server, tmp_path: Path
) -> None:
    need("podman")
    podman = Podman.create(tmp_path / "podman")
    try:
        archive = tmp_path / "busybox.tar"
        ccli("save", "-o", str(archive), "busybox")
        podman("load", "-i", str(archive))
        ref = f"{docker_registry.host}/pm/busybox:v1"
        podman("push", "--tls-verify=false", "docker.io/library/busybox:latest", f"docker://{ref}")
        digest = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}"))["Digest"]
        ccli("rmi", "busybox")
        assert ccli("images", "-q").out == ""
        run = ccli("run", "--rm", ref, "echo", "hello from podman")
        assert run.out == "hello from podman\n"
        assert run.err.startswith(f"Unable to find image '{ref}' locally\n")
        assert f"Status: Downloaded newer image for {ref}" in run.err
        doc = inspect(ccli, ref)
        assert doc["RepoDigests"] == [f"{docker_registry.host}/pm/busybox@{digest}"]
        assert ccli("ps", "-aq").out == ""  # --rm removed it
    finally:
        podman.reset()
        shutil.rmtree(podman.runroot, ignore_errors=True)


def big_image(host: str, repo: str, size: int) -> tuple[str, int]:
    """Push an image with one gzip layer of ``size`` random bytes; (layer digest, its size)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    layer = gzip.compress(raw.getvalue(), compresslevel=0, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()],
            },
        }
    ).encode()
    layer_digest = put_blob(host, repo, layer)
    config_digest = put_blob(host, repo, config)
    put_manifest(
        host,
        repo,
        "v1",
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        },
        OCI_MANIFEST,
    )
    return layer_digest, len(layer)


def test_pull_killed_mid_layer_resumes_where_it_stopped(
    cli: Cli, settings: Settings, docker_registry: Server, tmp_path: Path
) -> None:
    layer_digest, layer_size = big_image(docker_registry.host, "big/app", 48 << 20)
    proxy = ThrottlingProxy(docker_registry.port, rate=16 << 20).start()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "cais.cli.launch", "pull", f"{proxy.host}/big/app:v1"],
            env=cli.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ingest = settings.root / "content" / "ingest"
        deadline = time.monotonic() + 60
        partial: Path | None = None
        while time.monotonic() < deadline and process.poll() is None:
            found = [p for p in ingest.glob("*/data") if p.stat().st_size >= 12 << 20]
            if found:
                partial = found[0]
                break
            time.sleep(0.01)
        assert partial is not None and process.poll() is None, "the pull was not caught mid-layer"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        proxy.stop()
    kept = partial.stat().st_size
    assert 0 < kept < layer_size
    assert cli("images", "-q").out == ""  # nothing recorded by the killed pull

    pulled = cli("pull", f"{docker_registry.host}/big/app:v1")
    assert "Status: Downloaded newer image" in pulled.out
    gets = [a for a in docker_registry.access(f"/blobs/{layer_digest}") if a[0] == "GET"]
    assert gets[-1][2] == 206  # the second pull asked for a range…
    assert gets[-1][3] == layer_size - kept  # …and got only the bytes it lacked
    assert not list(ingest.glob("*/data"))  # the ingest was committed
    blob = settings.root / "content" / "blobs" / "sha256" / layer_digest.split(":")[1]
    assert blob.stat().st_size == layer_size


def test_multi_arch_index_resolves_to_linux_amd64(
    cli: Cli, docker_registry: Server, tmp_path: Path
) -> None:
    if platform.machine() not in ("x86_64", "amd64"):
        pytest.skip("the index below picks amd64 only on an amd64 host")
    host, repo = docker_registry.host, "multi/app"
    entries = []
    layers = {}
    for arch, variant in (("arm64", "v8"), ("amd64", ""), ("arm", "v7")):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            data = f"built for {arch}\n".encode()
            info = tarfile.TarInfo("arch.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        layer = raw.getvalue()
        layers[arch] = put_blob(host, repo, layer)
        config = json.dumps(
            {
                "architecture": arch,
                "variant": variant,
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layers[arch]]},
            }
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put_blob(host, repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layers[arch],
                    "size": len(layer),
                }
            ],
        }
        digest = put_manifest(host, repo, f"{arch}-only", manifest, OCI_MANIFEST)
        plat = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(json.dumps(manifest)),
                "platform": plat,
            }
        )
    index = put_manifest(
        host,
        repo,
        "v1",
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
        OCI_INDEX,
    )

    pulled = cli("pull", f"{host}/{repo}:v1")
    assert f"Digest: {index}" in pulled.out
    doc = inspect(cli, f"{host}/{repo}:v1")
    assert doc["Architecture"] == "amd64"
    assert doc["RepoDigests"] == [f"{host}/{repo}@{index}"]
    fetched = {
        path.rsplit("/", 1)[1]
        for method, path, _, _ in docker_registry.access("/blobs/")
        if method == "GET"
    }
    assert layers["amd64"] in fetched
    assert layers["arm64"] not in fetched and layers["arm"] not in fetched


def test_run_pull_policies(ccli: Cli, docker_registry: Server, tmp_path: Path) -> None:
    ref = f"{docker_registry.host}/run/busybox:v1"
    ccli("push", "busybox", ref)
    ccli("rmi", "-f", "busybox")
    never = ccli("run", "--rm", "--pull", "never", ref, "true", check=False)
    assert never.code == 125 and never.err == f"Error: no such image: {ref}\n"
    quiet = ccli("run", "--rm", "-q", ref, "echo", "quiet")
    assert quiet.out == "quiet\n" and quiet.err == ""  # -q: no pull output at all
    always = ccli("run", "--rm", "--pull", "always", ref, "echo", "again")
    assert always.out == "again\n"
    assert "Unable to find image" not in always.err
    assert f"Status: Image is up to date for {ref}" in always.err
    docker_registry.stop()
    gone = ccli("run", "--rm", "--pull", "always", ref, "true", check=False)
    assert gone.code == 125
    assert gone.err == (
        f"Error: cannot reach registry {docker_registry.host}: connection refused\n"
    )
