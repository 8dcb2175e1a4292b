"""``cais up`` in a subprocess on 127.0.0.1 (a free port, its own roots), the real clients
pointed at it (boto3, the aws CLI, podman, skopeo), and small images to push.

Every process a test starts is stopped by its PID.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from anchors import Podman
from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY

REGION = "us-east-1"
ACCOUNT = "000000000000"


@dataclass
class Up:
    base: Path
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    args: tuple[str, ...] = ()
    restarts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def registry(self) -> str:
        return f"localhost:{self.port}"

    @property
    def root(self) -> Path:
        return self.base / "cais"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; its exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def restart(self) -> None:
        """Stop and start again on the same roots and port."""
        self.stop()
        fresh = start(self.base, *self.args, port=self.port)
        self.process, self.log = fresh.process, fresh.log
        self.restarts += 1

    def client(self, service: str = "ecr", *, validate: bool = True, **creds: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=creds.get("key", DEFAULT_ACCESS_KEY_ID),
            aws_secret_access_key=creds.get("secret", DEFAULT_SECRET_ACCESS_KEY),
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=validate
            ),
        )

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "cais.db", timeout=30)

    def rows(self) -> list[tuple[Any, ...]]:
        """Every ECR record and registry file: compare two to see nothing changed."""
        with self.db() as conn:
            rows = [
                (table, *row)
                for table in (
                    "ecr_repositories",
                    "ecr_images",
                    "ecr_image_tags",
                    "ecr_repository_tags",
                )
                for row in conn.execute(f"SELECT * FROM {table}")
            ]
        files = sorted(
            str(p.relative_to(self.root))
            for p in (self.root / "registry").rglob("*")
            if p.is_file()
        )
        return sorted(rows, key=repr) + [("file", f) for f in files if not f.endswith(".lock")]

    def password(self) -> str:
        token = self.client().get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
        assert user == "AWS"
        return password

    def push_blob(self, name: str, data: bytes, password: str) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        auth = base64.b64encode(f"AWS:{password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}/v2/{name}/blobs/uploads/?digest={digest}",
            data=data,
            method="POST",
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status == 201
        return digest


def start(base: Path, *args: str, port: int = 0) -> Up:
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CAIS_ROOT": str(base / "cais"), "CAIS_RUNROOT": str(base / "run")}
    log = base / f"up-{time.monotonic_ns()}.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "cais.cli.launch", "up", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line.startswith("cais up: serving on http://127.0.0.1:"):
        process.kill()
        process.wait()
        raise AssertionError(f"cais up did not start: {line!r} {log.read_text()}")
    bound = int(line.split("http://127.0.0.1:", 1)[1].split()[0])
    return Up(base, process, bound, log, args)


def aws_env(tmp: Path) -> dict[str, str]:
    config, credentials = tmp / "aws-config", tmp / "aws-credentials"
    config.touch()
    credentials.touch()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "AWS_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEFAULT_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    }


def aws_v1() -> str:
    path = Path(sys.executable).parent / "aws"
    assert path.exists(), "the aws CLI (PyPI awscli, in the test extra) is missing"
    return str(path)


def aws(up: Up, tmp: Path, *args: str, binary: str | None = None) -> Any:
    """Run ``aws --endpoint-url … ARGS`` and return its JSON output (it must succeed)."""
    proc = aws_run(up, tmp, *args, binary=binary)
    assert proc.returncode == 0, f"aws {' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def aws_run(
    up: Up, tmp: Path, *args: str, binary: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary or aws_v1(), "--endpoint-url", up.url, *args],
        capture_output=True,
        text=True,
        env=aws_env(tmp),
        timeout=120,
        check=False,
    )


def tiny_tar(text: str) -> bytes:
    """A one-file tar: ``podman import`` makes a distinct small image of it."""
    buf = io.BytesIO()
    data = text.encode()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def podman_image(podman: Podman, tmp: Path, ref: str, text: str) -> None:
    archive = tmp / f"{abs(hash(ref))}.tar"
    archive.write_bytes(tiny_tar(text))
    podman("import", str(archive), ref)


def manifest_for(config: bytes, layer: bytes, *, note: str = "") -> bytes:
    """An OCI image manifest for a config and one layer (annotated, to vary the digest)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                "size": len(layer),
            }
        ],
    }
    if note:
        doc["annotations"] = {"note": note}
    return json.dumps(doc).encode()


CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
).encode()


def oci_layout(path: Path, *, tag: str, text: str = "layout") -> str:
    """An OCI image layout holding one small image tagged ``tag``; returns its digest."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    layer = tiny_tar(text)
    put(layer)
    put(CONFIG)
    manifest = manifest_for(CONFIG, layer)
    digest = put(manifest)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (path / "index.json").write_text(json.dumps(index))
    return digest
