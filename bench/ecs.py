"""ECS API: cais (a real ``cais up``) vs moto's server mode, the same boto3 calls against each.

- RunTask throughput: 1,000 tasks placed by calls of ``count=10`` over four container
  instances (tasks/s);
- DescribeTasks latency over those 1,000 tasks: p50/p99 of a call naming one task and of a
  call naming 100 (the most ECS accepts), tasks chosen at random.

Instances join cais through the agent protocol (a join token, as agents do) and moto through
RegisterContainerInstance with EC2 instances made in moto; the measured calls are the same.
Each server runs in its own process on 127.0.0.1 with a fresh state per run; figures are
medians over ``--runs`` runs. Needs ``moto[server]`` (the ``bench`` extra).

    .venv/bin/python -m bench ecs        or        .venv/bin/python -m bench.ecs --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
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
INSTANCES = 4
TASKS = 1000
BATCH = 10
DESCRIBE_CALLS = 300
CPU, MEMORY = 4096, 7482  # what moto gives every container instance
DEFINITION = {
    "family": "bench",
    "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 10, "memory": 16}],
}


@contextmanager
def server(kind: str) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-ecs-{kind}-") as tmp:
        env = {**os.environ, "CAIS_ROOT": f"{tmp}/cais", "CAIS_RUNROOT": f"{tmp}/run"}
        if kind == "cais":
            cmd = [
                sys.executable, "-m", "cais.cli.main", "up", "--port", str(port),
                "--agent-heartbeat", "1h", "--quiet", "--no-local-agent",
            ]  # fmt: skip
            # no local agent: like moto, the control plane places tasks on the four
            # registered instances and runs no container (bench/agent.py measures that)
        else:
            cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        with serving(cmd, port, env=env, stop_timeout=20) as url:
            yield url, env


def client(url: str, service: str = "ecs") -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def join_cais(url: str, env: dict[str, str]) -> None:
    """Four machines join through the agent protocol with the local agent's token."""
    token = subprocess.run(
        [sys.executable, "-m", "cais.cli.main", "ecs", "local-join-token"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for n in range(INSTANCES):
        body = {
            "cluster": "default",
            "token": token,
            "hostname": f"bench-{n}",
            "instance_id": f"i-bench{n}",
            "resources": {"cpu": CPU, "memory": MEMORY, "ports_tcp": [22], "ports_udp": []},
            "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1a"}],
        }
        request = urllib.request.Request(
            f"{url}/agent/v1/register",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


def join_moto(url: str) -> None:
    ec2 = client(url, "ec2")
    ecs = client(url)
    reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=INSTANCES, MaxCount=INSTANCES)
    for instance in reservation["Instances"]:
        document = json.dumps({"instanceId": instance["InstanceId"]})
        ecs.register_container_instance(cluster="default", instanceIdentityDocument=document)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_once(kind: str) -> dict[str, float]:
    with server(kind) as (url, env):
        ecs = client(url)
        ecs.create_cluster(clusterName="default")
        if kind == "cais":
            join_cais(url, env)
        else:
            join_moto(url)
        ecs.register_task_definition(**DEFINITION)
        arns: list[str] = []
        started = time.perf_counter()
        for _ in range(TASKS // BATCH):
            result = ecs.run_task(taskDefinition="bench", count=BATCH)
            arns += [t["taskArn"] for t in result["tasks"]]
        run_rate = len(arns) / (time.perf_counter() - started)
        assert len(arns) == TASKS, f"{kind} placed {len(arns)} tasks"
        rng = random.Random(7)
        figures = {"run_task_tasks_per_s": run_rate}
        for size in (1, 100):
            samples = []
            for _ in range(DESCRIBE_CALLS):
                chosen = rng.sample(arns, size)
                began = time.perf_counter()
                found = ecs.describe_tasks(tasks=chosen)
                samples.append((time.perf_counter() - began) * 1000)
                assert len(found["tasks"]) == size
            figures[f"describe_{size}_p50_ms"] = percentile(samples, 50)
            figures[f"describe_{size}_p99_ms"] = percentile(samples, 99)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args([] if argv is None else argv)
    results: dict[str, list[dict[str, float]]] = {"cais": [], "moto": []}
    for run in range(args.runs):
        for kind in ("cais", "moto"):
            figures = run_once(kind)
            results[kind].append(figures)
            print(f"run {run + 1} {kind}: " + ", ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    medians = {
        kind: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for kind, runs in results.items()
    }
    print(f"\nECS API, medians of {args.runs} runs, {TASKS} tasks on {INSTANCES} instances:")
    print(f"{'metric':<24}{'cais':>12}{'moto':>12}{'cais/moto':>12}")
    for metric in medians["cais"]:
        c, m = medians["cais"][metric], medians["moto"][metric]
        print(f"{metric:<24}{c:>12.1f}{m:>12.1f}{c / m:>12.2f}")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "ecs.json").write_text(json.dumps({"runs": results, "medians": medians}, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
