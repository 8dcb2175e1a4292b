"""Issue 3: ``cais run --rm --network none busybox true`` vs podman (``--network none``
too) vs raw crun; ``run -d`` + ``rm -f`` cycles; memory kept per idle container — side by
side in one run, medians of many runs. (Networks have their own benchmark: bench/network.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import CAIS, Measure, podman_env, report, run, save_results, timed

RUNS = 20
IDLE = 5


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _conmon_pids(marker: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"conmon") and marker.encode() in b" ".join(cmd):
            out.append(int(pid))
    return out


def _crun_bundle(work: Path, cenv: dict[str, str]) -> Path:
    """An OCI bundle with busybox's root filesystem, for raw ``crun run``."""
    bundle = work / "bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    out = subprocess.run(
        [CAIS, "image", "inspect", "busybox", "-f", "{{json .GraphDriver.Data}}"],
        env=cenv,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shutil.copytree(json.loads(out)["UpperDir"], rootfs, symlinks=True, dirs_exist_ok=True)
    subprocess.run(["crun", "spec"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def main(argv: list[str] | None = None) -> dict[str, object]:
    del argv
    work = Path(tempfile.mkdtemp(prefix="cais-bench-runtime-"))
    env = {**os.environ, "CAIS_ROOT": str(work / "root"), "CAIS_RUNROOT": str(work / "run")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    pm, penv = podman_env(work / "pm")
    try:
        run([CAIS, "image", "bootstrap", "busybox"], env=env)
        run([CAIS, "save", "-o", str(work / "bb.tar"), "busybox"], env=env)
        run([*pm, "load", "-i", str(work / "bb.tar")], env=penv)
        bundle = _crun_bundle(work, env)
        counter = {"n": 0}

        def crun_once() -> None:
            counter["n"] += 1
            run(
                [
                    "crun",
                    "--root",
                    str(work / "crun-state"),
                    "run",
                    "--bundle",
                    str(bundle),
                    f"bench{counter['n']}",
                ]
            )

        # warm up every path (page cache filled; cais's fork server starts with its context's
        # second command and the monitor with the first container)
        for _ in range(3):
            run([CAIS, "version"], env=env)
            time.sleep(0.5)
        run([CAIS, "run", "--rm", "--network", "none", "busybox", "true"], env=env)
        run([*pm, "run", "--rm", "--network", "none", "busybox", "true"], env=penv)
        crun_once()
        cais_run = timed(
            lambda: run([CAIS, "run", "--rm", "--network", "none", "busybox", "true"], env=env),
            runs=RUNS,
        )
        podman_run = timed(
            lambda: run([*pm, "run", "--rm", "--network", "none", "busybox", "true"], env=penv),
            runs=RUNS,
        )
        crun_run = timed(crun_once, runs=RUNS)
        # the same without the fork server: every command pays Python's start-up and imports
        cold = {**env, "CAIS_FORK_SERVER": "0"}
        cold_run = timed(
            lambda: run([CAIS, "run", "--rm", "--network", "none", "busybox", "true"], env=cold),
            runs=RUNS,
        )

        def cais_cycle(cycle_env: dict[str, str]) -> None:
            cid = subprocess.run(
                [CAIS, "run", "-d", "--network", "none", "busybox", "sleep", "100"],
                env=cycle_env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            run([CAIS, "rm", "-f", cid], env=cycle_env)

        def podman_cycle() -> None:
            cid = subprocess.run(
                [*pm, "run", "-d", "--network", "none", "busybox", "sleep", "100"],
                env=penv,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            run([*pm, "rm", "-f", "-t", "0", cid], env=penv)

        cais_cycles = timed(lambda: cais_cycle(env), runs=RUNS)
        podman_cycles = timed(podman_cycle, runs=RUNS)
        cold_cycles = timed(lambda: cais_cycle(cold), runs=RUNS)

        # memory kept per idle container: every process besides the container's own
        for _ in range(IDLE):
            run([CAIS, "run", "-d", "--network", "none", "busybox", "sleep", "1000"], env=env)
            run([*pm, "run", "-d", "--network", "none", "busybox", "sleep", "1000"], env=penv)
        time.sleep(1.0)
        # cais's monitor (one per run root, shared by every container) counts too
        monitor_rss = _monitor_rss_kib(work / "run")
        forkserver_rss = sum(_pid_file_rss_kib(p) for p in (work / "run").glob("cli-*.pid"))
        cais_rss = (sum(_rss_kib(p) for p in _conmon_pids(str(work / "run"))) + monitor_rss) / IDLE
        podman_rss = sum(_rss_kib(p) for p in _conmon_pids(str(work / "pm"))) / IDLE
        run([*pm, "rm", "-f", "-t", "0", "-a"], env=penv)
        ids = subprocess.run(
            [CAIS, "ps", "-aq"], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        if ids:
            run([CAIS, "rm", "-f", *ids], env=env)
        rows = [
            ("run --rm busybox true (s)", cais_run, podman_run),
            ("run -d + rm -f cycle (s)", cais_cycles, podman_cycles),
            ("run --rm, no fork server (s)", cold_run, podman_run),
            ("run -d + rm -f, no fork server (s)", cold_cycles, podman_cycles),
            (
                "RSS kept per idle container (KiB)",
                Measure("", [cais_rss], "KiB"),
                Measure("", [podman_rss], "KiB"),
            ),
        ]
        result = report(
            "runtime: cais vs podman (ratio = cais/podman)",
            rows,
            f"raw crun run of the same bundle: median {crun_run.median * 1000:.1f} ms "
            f"(cais is {cais_run.median / crun_run.median:.1f}x raw crun); "
            f"cais monitor RSS {monitor_rss:.0f} KiB shared by {IDLE} containers; "
            f"fork server RSS {forkserver_rss:.0f} KiB per run root and caller context, with "
            "or without containers, gone after 600 s without a command; "
            f"runs={RUNS}",
        )
        result["crun_run_median"] = crun_run.median
        result["monitor_rss_kib"] = monitor_rss
        result["forkserver_rss_kib"] = forkserver_rss
        save_results("runtime", result)
        return result
    finally:
        subprocess.run([*pm, "system", "reset", "-f"], env=penv, capture_output=True, check=False)
        subprocess.run([CAIS, "system", "reset", "-f"], env=env, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


def _monitor_rss_kib(runroot: Path) -> float:
    return _pid_file_rss_kib(runroot / "monitor.pid")


def _pid_file_rss_kib(pid_file: Path) -> float:
    try:
        return _rss_kib(int(pid_file.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return 0.0


if __name__ == "__main__":
    main()
