"""ECR API: ``cais up`` vs moto's server mode, the same boto3 calls against each.

- DescribeImages over a repository of 1,000 images (one call returns all of them,
  ``maxResults=1000``): p50 and p99 latency over ``--calls`` calls;
- CreateRepository throughput (repositories per second, ``--repos`` of them);
- PutImage throughput while filling the repository (for information: cais stores each
  manifest in the registry, fsync'd, with its layers present and checked; moto keeps a
  dict entry).

Each server runs in its own process on 127.0.0.1 with fresh state per run (cais: the real
``cais up`` with a temporary root); figures are medians over ``--runs`` runs. Needs
``moto[server]`` (the ``bench`` extra).

    .venv/bin/python -m bench ecr   |   .venv/bin/python -m bench.ecr [--runs 3] [--images 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import free_port, serving

KEY_ID = "AKIACAISLOCALDEFAULT"
SECRET = "caisLocalDefaultSecretKeyNotForProduction"
REPO = "bench/app"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
LAYER = b"bench layer " * 100


@contextmanager
def server(kind: str) -> Iterator[str]:
    """A fresh server of ``kind`` on 127.0.0.1; stopped by its PID afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-ecr-{kind}-") as tmp:
        if kind == "cais":
            cmd = [sys.executable, "-m", "cais.cli.main", "up", "--port", str(port)]
            cmd += ["--lifecycle-interval", "0", "--retention-interval", "0"]
        else:
            cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        env = {**os.environ, "CAIS_ROOT": f"{tmp}/root", "CAIS_RUNROOT": f"{tmp}/run"}
        with serving(cmd, port, env=env) as url:
            yield url


def client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecr",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest(i: int) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(CONFIG),
                "size": len(CONFIG),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(LAYER),
                    "size": len(LAYER),
                }
            ],
            "annotations": {"bench.image": str(i)},
        }
    )


def push_layers(url: str, ecr: Any) -> None:
    """The config and layer every manifest names, pushed over /v2 with an ECR login."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    for blob in (CONFIG, LAYER):
        request = urllib.request.Request(
            f"{url}/v2/{REPO}/blobs/uploads/?digest={digest(blob)}",
            data=blob,
            method="POST",
            headers={"Authorization": f"Basic {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status == 201


def fill(kind: str, url: str, ecr: Any, images: int) -> float:
    """``images`` images by PutImage; returns images per second."""
    ecr.create_repository(repositoryName=REPO)
    if kind == "cais":
        push_layers(url, ecr)
    started = time.perf_counter()
    for i in range(images):
        ecr.put_image(repositoryName=REPO, imageManifest=manifest(i), imageTag=f"build-{i}")
    return images / (time.perf_counter() - started)


def describe_latencies(ecr: Any, images: int, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        result = ecr.describe_images(repositoryName=REPO, maxResults=1000)
        out.append((time.perf_counter() - started) * 1000)
        assert len(result["imageDetails"]) == min(images, 1000), len(result["imageDetails"])
    return out


def create_rate(ecr: Any, repos: int) -> float:
    started = time.perf_counter()
    for i in range(repos):
        ecr.create_repository(repositoryName=f"bench/repo-{i}")
    return repos / (time.perf_counter() - started)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_once(kind: str, images: int, calls: int, repos: int) -> dict[str, float]:
    with server(kind) as url:
        ecr = client(url)
        put_rate = fill(kind, url, ecr, images)
        describe_latencies(ecr, images, 3)  # warm up
        latencies = describe_latencies(ecr, images, calls)
        rate = create_rate(ecr, repos)
    return {
        "describe_images_p50_ms": percentile(latencies, 50),
        "describe_images_p99_ms": percentile(latencies, 99),
        "create_repository_per_s": rate,
        "put_image_per_s": put_rate,
    }


def main(argv: list[str] | None = None) -> int:
    argv = [] if argv is None else argv
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=100, help="DescribeImages calls per run")
    parser.add_argument("--repos", type=int, default=300, help="CreateRepository calls per run")
    args = parser.parse_args(argv)

    results: dict[str, list[dict[str, float]]] = {"cais": [], "moto": []}
    for run in range(args.runs):
        for kind in ("cais", "moto"):
            figures = run_once(kind, args.images, args.calls, args.repos)
            results[kind].append(figures)
            shown = ", ".join(f"{k}={v:.1f}" for k, v in figures.items())
            print(f"run {run + 1} {kind}: {shown}", flush=True)
    medians = {
        kind: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for kind, runs in results.items()
    }
    print(
        f"\n## ECR API: cais up vs moto server (medians of {args.runs} runs; "
        f"{args.images} images, {args.calls} DescribeImages calls, {args.repos} repositories)\n"
    )
    print(f"| {'metric':<26} | {'cais':>10} | {'moto':>10} | {'cais/moto':>9} | better |")
    print(f"|{'-' * 28}|{'-' * 12}|{'-' * 12}|{'-' * 11}|--------|")
    for metric in medians["cais"]:
        c, m = medians["cais"][metric], medians["moto"][metric]
        lower_better = re.search(r"_ms$", metric) is not None
        ratio = c / m if m else float("nan")
        better = "cais" if (ratio < 1) == lower_better else "moto"
        print(f"| {metric:<26} | {c:>10.1f} | {m:>10.1f} | {ratio:>9.2f} | {better:>6} |")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "ecr.json").write_text(
        json.dumps(
            {"runs": results, "medians": medians, "images": args.images, "calls": args.calls},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
