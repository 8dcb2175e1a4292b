"""CloudWatch Logs API: cais vs moto's server mode, the same boto3 calls against each.

- PutLogEvents throughput: a stream filled with batches of 1,000 events (events/s);
- GetLogEvents latency over that stream (100,000 events): p50/p99 of a 100-event window
  from a random start time, and of the default call (the newest page, up to 10,000 events).

Each server runs in its own process on 127.0.0.1 with a fresh state per run; figures are
medians over ``--runs`` runs. Needs ``moto[server]`` (``pip install 'moto[server]'``).

    .venv/bin/python -m bench.aws_logs [--runs 3] [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import REPO, free_port, serving

BATCH = 1_000
WINDOW_CALLS = 300
PAGE_CALLS = 15
KEY_ID = "AKIACAISLOCALDEFAULT"
SECRET = "caisLocalDefaultSecretKeyNotForProduction"


def serve_cais(root: Path, port: int) -> None:
    """The server side: cais's Logs API alone on 127.0.0.1:port (run in its own process)."""
    from aiohttp import web

    from cais.aws import CredentialStore, Dispatcher, SigV4Verifier, add_aws_routes
    from cais.logs import LogStore, register
    from cais.state.sqlite import Database

    db = Database(root / "cais.db")
    keys = CredentialStore(db)
    keys.ensure_default()
    dispatcher = Dispatcher(authenticator=SigV4Verifier(keys))
    register(dispatcher, LogStore(db))
    app = web.Application()
    add_aws_routes(app, dispatcher)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@contextmanager
def server(kind: str) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        if kind == "cais":
            cmd = [sys.executable, "-m", "bench.aws_logs", "serve", "--root", tmp]
            cmd += ["--port", str(port)]
        else:
            cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        with serving(cmd, port, cwd=REPO) as url:
            yield url


def client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def fill(logs: Any, total: int, t0: int) -> float:
    """PutLogEvents in batches of 1,000; returns events per second."""
    logs.create_log_group(logGroupName="/bench/app")
    logs.create_log_stream(logGroupName="/bench/app", logStreamName="web/1")
    started = time.perf_counter()
    for start in range(0, total, BATCH):
        events = [
            {
                "timestamp": t0 + i,
                "message": f"INFO request {i} handled in {i % 97} ms path=/api/items/{i % 1000}",
            }
            for i in range(start, min(start + BATCH, total))
        ]
        logs.put_log_events(logGroupName="/bench/app", logStreamName="web/1", logEvents=events)
    return total / (time.perf_counter() - started)


def latencies(logs: Any, total: int, t0: int, *, window: bool, calls: int) -> list[float]:
    rng = random.Random(7)
    out = []
    for _ in range(calls):
        kwargs: dict[str, Any] = {"logGroupName": "/bench/app", "logStreamName": "web/1"}
        if window:
            kwargs.update(startTime=t0 + rng.randrange(total), limit=100, startFromHead=True)
        started = time.perf_counter()
        result = logs.get_log_events(**kwargs)
        out.append((time.perf_counter() - started) * 1000)
        expected = 100 if window else 1
        assert len(result["events"]) >= min(expected, 1)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_once(kind: str, total: int) -> dict[str, float]:
    t0 = int(time.time() * 1000) - total - 60_000
    with server(kind) as url:
        logs = client(url)
        rate = fill(logs, total, t0)
        window = latencies(logs, total, t0, window=True, calls=WINDOW_CALLS)
        page = latencies(logs, total, t0, window=False, calls=PAGE_CALLS)
    return {
        "put_events_per_s": rate,
        "get_window_p50_ms": percentile(window, 50),
        "get_window_p99_ms": percentile(window, 99),
        "get_page_p50_ms": percentile(page, 50),
        "get_page_p99_ms": percentile(page, 99),
    }


def main(argv: list[str] | None = None) -> int:
    argv = [] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    serve = sub.add_parser("serve")
    serve.add_argument("--root", required=True)
    serve.add_argument("--port", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve_cais(Path(args.root), args.port)
        return 0

    results: dict[str, list[dict[str, float]]] = {"cais": [], "moto": []}
    for run in range(args.runs):
        for kind in ("cais", "moto"):
            figures = run_once(kind, args.events)
            results[kind].append(figures)
            print(f"run {run + 1} {kind}: " + ", ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    medians = {
        kind: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for kind, runs in results.items()
    }
    print(f"\nmedians of {args.runs} runs, {args.events} events, batches of {BATCH}:")
    print(f"{'metric':<22}{'cais':>12}{'moto':>12}{'cais/moto':>12}")
    for metric in medians["cais"]:
        c, m = medians["cais"][metric], medians["moto"][metric]
        print(f"{metric:<22}{c:>12.1f}{m:>12.1f}{c / m:>12.2f}")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "aws_logs.json").write_text(
        json.dumps({"runs": results, "medians": medians, "events": args.events}, indent=2)
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
