"""Issue 8: RunTask-to-RUNNING for a busybox task on ``cais up``'s local agent vs
``cais run -d`` of the same container (the orchestration overhead), medians of several runs.

The time runs from the RunTask call (boto3) to the first DescribeTasks that shows RUNNING
(polled every 20 ms); the anchor is ``cais run -d`` on the same root, a process start plus
create and start, as a user would time it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import CAIS, Measure, report, run, save_results

RUNS = 7


def main(argv: list[str] | None = None) -> dict[str, object]:
    del argv
    import boto3

    from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY

    work = Path(tempfile.mkdtemp(prefix="cais-bench-ecs-"))
    env = {**os.environ, "CAIS_ROOT": str(work / "root"), "CAIS_RUNROOT": str(work / "run")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    run([CAIS, "image", "bootstrap", "busybox"], env=env)
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cais.cli.main",
            "up",
            "--port",
            "0",
            "--quiet",
            "--lifecycle-interval",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert up.stdout is not None
        port = int(re.search(r":(\d+)", up.stdout.readline().decode()).group(1))  # type: ignore[union-attr]
        ecs = boto3.client(
            "ecs",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=DEFAULT_ACCESS_KEY_ID,
            aws_secret_access_key=DEFAULT_SECRET_ACCESS_KEY,
        )
        deadline = time.monotonic() + 30
        while not ecs.list_container_instances()["containerInstanceArns"]:
            if time.monotonic() > deadline:
                raise RuntimeError("the local agent did not register")
            time.sleep(0.2)
        rows = []
        for mode in ("none", "bridge"):
            ecs.register_task_definition(
                family=f"b-{mode}",
                networkMode=mode,
                containerDefinitions=[
                    {
                        "name": "c",
                        "image": "busybox",
                        "memory": 16,
                        "command": ["sleep", "600"],
                        "stopTimeout": 1,
                    }
                ],
            )
            task_times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                arn = ecs.run_task(taskDefinition=f"b-{mode}")["tasks"][0]["taskArn"]
                while ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] != "RUNNING":
                    time.sleep(0.02)
                task_times.append(time.perf_counter() - start)
                ecs.stop_task(task=arn)
                while ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] != "STOPPED":
                    time.sleep(0.05)
            run_times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                cid = subprocess.run(
                    [CAIS, "run", "-d", "--network", mode, "busybox", "sleep", "600"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                run_times.append(time.perf_counter() - start)
                run([CAIS, "rm", "-f", cid], env=env)
            rows.append(
                (f"to RUNNING, network {mode} (s)", Measure("", task_times), Measure("", run_times))
            )
        result = report(
            "ECS: RunTask to RUNNING on the local agent vs cais run -d (ratio = RunTask/run -d)",
            rows,
            f"runs={RUNS}",
        )
        save_results("ecs_runtask", result)
        return result
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(30)
        subprocess.run([CAIS, "system", "reset", "-f"], env=env, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
