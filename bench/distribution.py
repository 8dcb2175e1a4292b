"""Benchmark: ``cais pull`` / ``cais push`` next to skopeo and podman, against Debian's
docker-registry, with an image of one ``--size-mib`` gzip layer.

Run it with ``python -m bench distribution`` or ``python -m bench.distribution [--runs 5]
[--size-mib 100]`` (never by
``make test``). Every figure is a median of ``--runs`` runs of the real commands (process
start included), in MB/s of layer bytes:

- pull: ``cais pull`` into an empty root (fetch, verify, unpack) vs ``skopeo copy`` to an
  OCI layout (fetch and verify, no unpack) and ``podman pull`` (fetch, verify, unpack);
  also the client's fetch alone (in process: manifest, then the layer through the content
  store's verifying writer, as a pull does before it unpacks) next to skopeo;
- push: ``cais push`` vs ``skopeo copy`` from an OCI layout, each into a registry with
  empty storage (restarted between runs, so no blob exists and none can be mounted);
- re-push when every blob exists (seconds): both only HEAD the blobs and PUT the manifest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Measure, free_port, podman_env, report, save_results
from bench.registry import MIB, Server, make_image, wait_ready


def start_registry(storage: Path) -> Server:
    port = free_port()
    config = storage.parent / f"{storage.name}.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"127.0.0.1:{port}"
    wait_ready(host)
    return Server("go", proc, host)


def cais(root: Path, *args: str) -> None:
    env = {**os.environ, "CAIS_ROOT": str(root / "root"), "CAIS_RUNROOT": str(root / "run")}
    subprocess.run(
        [sys.executable, "-m", "cais.cli.main", *args], check=True, env=env, capture_output=True
    )


def quiet(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Bench:
    def __init__(self, work: Path, size: int, runs: int) -> None:
        self.work = work
        self.size = size
        self.runs = runs
        self.image = work / "image"
        self.layer = make_image(self.image, size)
        self.mib = self.layer / MIB
        self.source = start_registry(work / "source")
        self.src_ref = f"{self.source.host}/bench/src:v1"
        quiet(
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                f"oci:{self.image}:v1",
                f"docker://{self.src_ref}",
            ]
        )
        self.podman, self.podman_env = podman_env(work / "podman")
        self.m: dict[str, Measure] = {
            name: Measure(name, unit="MB/s")
            for name in (
                "cais pull",
                "cais fetch",
                "skopeo pull",
                "podman pull",
                "cais push",
                "skopeo push",
            )
        }
        self.m["cais re-push"] = Measure("cais re-push")
        self.m["skopeo re-push"] = Measure("skopeo re-push")

    def close(self) -> None:
        self.source.stop()
        subprocess.run(
            [*self.podman, "system", "reset", "-f"],
            env=self.podman_env,
            capture_output=True,
            check=False,
        )
        runroot = self.podman[self.podman.index("--runroot") + 1]
        shutil.rmtree(runroot, ignore_errors=True)

    def fetch_only(self, run: int) -> None:
        """What ``cais pull`` does before unpacking, timed in process (no start-up)."""
        from cais.distribution.client import RegistryClient
        from cais.engine import Engine
        from cais.oci.manifest import Manifest, parse_manifest
        from cais.settings import Settings

        root = self.work / f"fetch-{run}"
        engine = Engine(Settings(root=root / "root", runroot=root / "run"))
        start = time.perf_counter()
        with RegistryClient(self.source.host) as client:
            manifest = parse_manifest(client.get_manifest("bench/src", "v1").data)
            assert isinstance(manifest, Manifest)
            for layer in manifest.layers:
                with (
                    client.open_blob("bench/src", layer.digest) as blob,
                    engine.content.writer(expected=layer.digest) as writer,
                ):
                    for chunk in blob.chunks:
                        writer.write(chunk)
                    writer.commit(layer.digest, layer.size)
        self.m["cais fetch"].samples.append(self.mib / (time.perf_counter() - start))
        engine.close()
        shutil.rmtree(root)

    def pulls(self, run: int) -> Path:
        self.fetch_only(run)
        root = self.work / f"cais-{run}"
        self.m["cais pull"].samples.append(
            self.mib / seconds(lambda: cais(root, "pull", "-q", self.src_ref))
        )
        out = self.work / f"oci-{run}"
        self.m["skopeo pull"].samples.append(
            self.mib
            / seconds(
                lambda: quiet(
                    [
                        "skopeo",
                        "copy",
                        "--src-tls-verify=false",
                        f"docker://{self.src_ref}",
                        f"oci:{out}:v1",
                    ]
                )
            )
        )
        shutil.rmtree(out)
        self.m["podman pull"].samples.append(
            self.mib
            / seconds(
                lambda: quiet(
                    [*self.podman, "pull", "-q", "--tls-verify=false", self.src_ref],
                    self.podman_env,
                )
            )
        )
        quiet([*self.podman, "rmi", "-a", "-f"], self.podman_env)
        return root

    def pushes(self, run: int, root: Path) -> None:
        for tool in ("cais", "skopeo") if run % 2 == 0 else ("skopeo", "cais"):
            storage = self.work / f"push-{tool}-{run}"
            target = start_registry(storage)
            dest = f"{target.host}/bench/pushed:v1"
            try:
                push = self._push(tool, root, dest)
                self.m[f"{tool} push"].samples.append(self.mib / seconds(push))
                self.m[f"{tool} re-push"].samples.append(seconds(push))
            finally:
                target.stop()
                shutil.rmtree(storage, ignore_errors=True)

    def _push(self, tool: str, root: Path, dest: str) -> Callable[[], None]:
        if tool == "cais":
            return lambda: cais(root, "push", "-q", self.src_ref, dest)
        return lambda: quiet(
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                f"oci:{self.image}:v1",
                f"docker://{dest}",
            ]
        )

    def run(self) -> None:
        for run in range(self.runs):
            root = self.pulls(run)
            self.pushes(run, root)
            shutil.rmtree(root)
            print(f"run {run + 1}/{self.runs} done", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench distribution", description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--size-mib", type=int, default=100)
    args, _ = p.parse_known_args(argv)  # `python -m bench distribution` leaves its name in argv
    for tool in ("skopeo", "docker-registry", "podman"):
        if shutil.which(tool) is None:
            sys.stderr.write(f"{tool} is needed: apt-get install -y {tool}\n")
            return 1
    with tempfile.TemporaryDirectory(prefix="cais-bench-dist-") as tmp:
        bench = Bench(Path(tmp), args.size_mib * MIB, args.runs)
        try:
            bench.run()
        finally:
            bench.close()
    m = bench.m
    note = (
        f"{args.runs} runs, one {args.size_mib} MiB gzip layer ({bench.mib:.1f} MiB), "
        "against Debian's docker-registry on 127.0.0.1; MB/s = layer MiB / wall time of the "
        "command (process start included). cais pull and podman pull unpack the layer; "
        "skopeo writes an OCI layout. Ratios are cais / anchor."
    )
    data = [
        report(
            "pull (MB/s, higher is better)",
            [
                ("cais pull vs skopeo copy → oci:", m["cais pull"], m["skopeo pull"]),
                ("cais pull vs podman pull", m["cais pull"], m["podman pull"]),
                ("cais fetch+verify (no unpack) vs skopeo", m["cais fetch"], m["skopeo pull"]),
            ],
        ),
        report(
            "push (MB/s, higher is better)",
            [
                ("cais push vs skopeo copy oci: →", m["cais push"], m["skopeo push"]),
            ],
        ),
        report(
            "re-push, every blob present (lower is better)",
            [
                ("cais push vs skopeo copy", m["cais re-push"], m["skopeo re-push"]),
            ],
            note=note,
        ),
    ]
    path = save_results(
        "distribution",
        {"note": note, "tables": data, "samples": {k: v.samples for k, v in m.items()}},
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
