"""Issue 4: what a bridge network with one published port adds to ``cais run --rm`` next to
podman's, and HTTP throughput through a published port vs the same server on the host
(wrk on loopback) — side by side in one run, medians."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import CAIS, Measure, podman_env, report, run, save_results, timed

RUNS = 15
WRK_SECONDS = "5"
WRK_RUNS = 3


def _wrk(port: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{WRK_SECONDS}s", f"http://127.0.0.1:{port}/index.html"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def _wait(port: int) -> None:
    import socket

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> dict[str, object]:
    del argv
    work = Path(tempfile.mkdtemp(prefix="cais-bench-network-"))
    env = {**os.environ, "CAIS_ROOT": str(work / "root"), "CAIS_RUNROOT": str(work / "run")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    pm, penv = podman_env(work / "pm")
    www = work / "www"
    www.mkdir()
    (www / "index.html").write_text("hello\n" * 20)
    host_httpd = None
    try:
        run([CAIS, "image", "bootstrap", "busybox"], env=env)
        run([CAIS, "save", "-o", str(work / "bb.tar"), "busybox"], env=env)
        run([*pm, "load", "-i", str(work / "bb.tar")], env=penv)
        run([CAIS, "run", "--rm", "-p", "18301:80", "busybox", "true"], env=env)
        run([*pm, "run", "--rm", "-p", "18302:80", "busybox", "true"], env=penv)
        cais_none = timed(
            lambda: run([CAIS, "run", "--rm", "--network", "none", "busybox", "true"], env=env),
            runs=RUNS,
        )
        ports = iter(range(18400, 18400 + 4 * RUNS))  # a fresh host port for every run
        cais_port = timed(
            lambda: run(
                [CAIS, "run", "--rm", "-p", f"{next(ports)}:80", "busybox", "true"], env=env
            ),
            runs=RUNS,
        )
        pm_none = timed(
            lambda: run([*pm, "run", "--rm", "--network", "none", "busybox", "true"], env=penv),
            runs=RUNS,
        )
        pm_port = timed(
            lambda: run(
                [*pm, "run", "--rm", "-p", f"{next(ports)}:80", "busybox", "true"], env=penv
            ),
            runs=RUNS,
        )
        cais_extra = Measure("", [cais_port.median - cais_none.median])
        pm_extra = Measure("", [pm_port.median - pm_none.median])

        # throughput: the same busybox httpd on the host, in cais, in podman
        host_httpd = subprocess.Popen(
            ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:18310", "-h", str(www)]
        )
        run(
            [
                CAIS,
                "run",
                "-d",
                "--name",
                "web",
                "-p",
                "18311:80",
                "-v",
                f"{www}:/www:ro",
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/www",
            ],
            env=env,
        )
        run(
            [
                *pm,
                "run",
                "-d",
                "--name",
                "web",
                "-p",
                "18312:80",
                "-v",
                f"{www}:/www:ro",
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/www",
            ],
            env=penv,
        )
        for port in (18310, 18311, 18312):
            _wait(port)
        host = Measure("", sorted(_wrk(18310) for _ in range(WRK_RUNS)), "r/s")
        cais = Measure("", sorted(_wrk(18311) for _ in range(WRK_RUNS)), "r/s")
        podman = Measure("", sorted(_wrk(18312) for _ in range(WRK_RUNS)), "r/s")
        cais_overhead = 1 - cais.median / host.median
        pm_overhead = 1 - podman.median / host.median
        rows = [
            ("run --rm, --network none (s)", cais_none, pm_none),
            ("run --rm, bridge + 1 published port (s)", cais_port, pm_port),
            ("start time the network adds (s)", cais_extra, pm_extra),
            ("HTTP through the published port (req/s)", cais, podman),
        ]
        result = report(
            "network: cais vs podman (ratio = cais/podman)",
            rows,
            f"same server on the host: {host.median:.0f} req/s; published-port overhead: "
            f"cais {100 * cais_overhead:.1f}%, podman {100 * pm_overhead:.1f}%",
        )
        result["host_rps"] = host.median
        save_results("network", result)
        return result
    finally:
        if host_httpd is not None:
            host_httpd.send_signal(signal.SIGTERM)
            host_httpd.wait()
        subprocess.run([CAIS, "rm", "-f", "web"], env=env, capture_output=True, check=False)
        subprocess.run(
            [CAIS, "system", "monitor", "stop"], env=env, capture_output=True, check=False
        )
        subprocess.run(
            [*pm, "rm", "-f", "-t", "0", "-a"], env=penv, capture_output=True, check=False
        )
        subprocess.run([*pm, "system", "reset", "-f"], env=penv, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
