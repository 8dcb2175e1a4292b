"""Issue 5: ``cais build`` vs ``buildah bud --layers --format docker``, side by side.

A 10-instruction Dockerfile with a 50 MB context (500 files of 100 KiB in 10
directories): a cold build (fresh store, only the base image), a fully cached rebuild,
and a rebuild after one source file changes. cais and buildah alternate within each
round so that both see the same machine; medians of several rounds; ratio = cais/buildah.

Run: ``.venv/bin/python -m bench build`` or ``.venv/bin/python -m bench.build [--runs N]
[--isolation chroot|oci]`` (chroot, buildah's fastest, runs RUN on the host network; cais
runs it with ``--network none``, as buildah's oci isolation here: no bridge is left behind
when a fresh round removes the root).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

from bench.common import CAIS, CONTAINERS_CONF, REPO, Measure, report, run, save_results

DOCKERFILE = """\
FROM busybox
ARG VERSION=1
ENV APP_HOME=/app VERSION=${VERSION}
WORKDIR /app
COPY src/ /app/src/
RUN find /app/src -type f | wc -l > /app/count
RUN echo "version $VERSION" > /app/version
LABEL org.example.version=${VERSION}
EXPOSE 8080
CMD ["sh", "-c", "cat /app/version"]
"""
FILES_PER_DIR = 50
DIRS = 10
FILE_SIZE = 100 * 1024
CHANGED = Path("src/d3/f7.bin")
# RUN without a network, as buildah's oci isolation here (the default bridge would outlive
# a round's root)
NO_NETWORK = ("--network", "none")


def make_context(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "Dockerfile").write_text(DOCKERFILE)
    (path / ".dockerignore").write_text("*.tmp\n")
    for d in range(DIRS):
        directory = path / "src" / f"d{d}"
        directory.mkdir(parents=True)
        for f in range(FILES_PER_DIR):
            (directory / f"f{f}.bin").write_bytes(os.urandom(FILE_SIZE))


class Cais:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = {
            **os.environ,
            "CAIS_ROOT": str(work / "cais-root"),
            "CAIS_RUNROOT": str(work / "cais-run"),
        }

    def fresh(self) -> None:
        for name in ("cais-root", "cais-run"):
            shutil.rmtree(self.work / name, ignore_errors=True)
        run([CAIS, "image", "bootstrap", "busybox"], env=self.env)

    def build(self, context: Path) -> None:
        run([CAIS, "build", "-q", *NO_NETWORK, "-t", "bench/app", str(context)], env=self.env)

    def steps(self, context: Path) -> list[tuple[str, str]]:
        """(step, time or CACHED) from one build's plain progress."""
        proc = subprocess.run(
            [CAIS, "build", "--progress=plain", *NO_NETWORK, "-t", "bench/app", str(context)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        titles: dict[str, str] = {}
        out = []
        for line in proc.stderr.splitlines():
            head = re.match(r"#(\d+) \[[^\]]+\] (.*)$", line)
            if head:
                titles[head.group(1)] = head.group(2)
                continue
            tail = re.match(r"#(\d+) (CACHED|DONE (\S+))", line)
            if tail:
                out.append((titles[tail.group(1)], tail.group(3) or "CACHED"))
        return out

    def close(self) -> None:
        roots = [str(self.work / "cais-root"), str(self.work / "cais-run")]
        subprocess.run(
            [sys.executable, "-c", _STOP_MONITOR, *roots], check=False, capture_output=True
        )


_STOP_MONITOR = """
import sys
from cais.runtime import monitor
from cais.settings import Settings
monitor.stop(Settings.load(root=sys.argv[1], runroot=sys.argv[2]))
"""


class Buildah:
    def __init__(self, work: Path, archive: Path, isolation: str) -> None:
        self.archive = archive
        self.isolation = isolation
        base = work / "buildah"
        base.mkdir(parents=True, exist_ok=True)
        (base / "containers.conf").write_text(CONTAINERS_CONF)
        self.runroot = Path(tempfile.mkdtemp(prefix="cais-bench-bh-", dir="/tmp"))
        self.args = [
            "buildah",
            "--root",
            str(base / "root"),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "overlay",
        ]
        self.env = {**os.environ, "CONTAINERS_CONF": str(base / "containers.conf")}

    def fresh(self) -> None:
        subprocess.run([*self.args, "rm", "--all"], env=self.env, capture_output=True, check=False)
        subprocess.run(
            [*self.args, "rmi", "--all", "--force"], env=self.env, capture_output=True, check=False
        )
        run([*self.args, "pull", "-q", f"docker-archive:{self.archive}"], env=self.env)

    def build(self, context: Path) -> None:
        run(
            [
                *self.args,
                "bud",
                "--layers",
                "--format",
                "docker",
                "--isolation",
                self.isolation,
                *(["--network", "none"] if self.isolation == "oci" else []),
                "-q",
                "-t",
                "bench/app",
                str(context),
            ],
            env=self.env,
        )

    def close(self) -> None:
        subprocess.run([*self.args, "rm", "--all"], env=self.env, capture_output=True, check=False)
        subprocess.run(
            [*self.args, "rmi", "--all", "--force"], env=self.env, capture_output=True, check=False
        )
        subprocess.run(
            ["podman", *self.args[1:], "system", "reset", "-f"],
            env=self.env,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.runroot, ignore_errors=True)


class Tool(Protocol):
    def fresh(self) -> None: ...

    def build(self, context: Path) -> None: ...


def _timed_build(tool: Tool, context: Path) -> float:
    start = time.perf_counter()
    tool.build(context)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="bench build")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--isolation", default="chroot", choices=["chroot", "oci"])
    args = parser.parse_args(argv or [])
    run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")])  # as make does
    work = Path(tempfile.mkdtemp(prefix="cais-bench-build-"))
    cais = Cais(work)
    buildah: Buildah | None = None
    try:
        context = work / "context"
        make_context(context)
        cais.fresh()
        archive = work / "busybox.tar"
        run([CAIS, "save", "-o", str(archive), "busybox"], env=cais.env)
        buildah = Buildah(work, archive, args.isolation)
        measures = {
            (tool, what): Measure(f"{tool} {what}")
            for tool in ("cais", "buildah")
            for what in ("cold", "cached", "changed")
        }
        tools: dict[str, Tool] = {"cais": cais, "buildah": buildah}
        for round_ in range(args.runs):
            order = ("cais", "buildah") if round_ % 2 == 0 else ("buildah", "cais")
            for name in order:
                tool = tools[name]
                tool.fresh()
                measures[(name, "cold")].samples.append(_timed_build(tool, context))
                measures[(name, "cached")].samples.append(_timed_build(tool, context))
                with open(context / CHANGED, "ab") as fh:
                    fh.write(f"{name} {round_}\n".encode())
                measures[(name, "changed")].samples.append(_timed_build(tool, context))
        labels = {
            "cold": "cold build, 10 steps, 50 MB context (s)",
            "cached": "fully cached rebuild (s)",
            "changed": "rebuild after one source file changes (s)",
        }
        rows = [
            (label, measures[("cais", what)], measures[("buildah", what)])
            for what, label in labels.items()
        ]
        cais.fresh()
        cold_steps = cais.steps(context)
        with open(context / CHANGED, "ab") as fh:
            fh.write(b"breakdown\n")
        changed_steps = cais.steps(context)
        note = (
            f"runs={args.runs}, buildah {args.isolation} isolation with --layers; "
            "cais steps (cold | after a change): "
            + "; ".join(
                f"{step.split(' ')[0]} {a}|{b}"
                for (step, a), (_, b) in zip(cold_steps, changed_steps, strict=False)
            )
        )
        result = report("build: cais vs buildah (medians; ratio = cais/buildah)", rows, note)
        result["steps"] = {"cold": cold_steps, "changed": changed_steps}
        save_results("build", result)
        return result
    finally:
        cais.close()
        if buildah is not None:
            buildah.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
