"""Benchmark: cais's registry side by side with Debian's docker-registry (distribution).

Run it with ``python -m bench.registry [--runs 5] [--size-mib 100]`` (never by
``make test``). For each server, in the same run: skopeo push and pull of an image with
one ``--size-mib`` layer (MB/s), re-push when every blob exists (s), 1,000 manifest HEADs
at concurrency 16 (requests/s, p99 ms) and the server's RSS. Also the machine's own limit:
SHA-256 speed and disk write+fsync speed. Medians of ``--runs`` runs (pulls: three per
run); ratios cais/go.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import free_port, save_results

MIB = 1 << 20
PULLS_PER_RUN = 3


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    host: str

    def rss_mib(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MiB from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class Results:
    push: list[float] = field(default_factory=list)
    pull: list[float] = field(default_factory=list)
    repush: list[float] = field(default_factory=list)
    raw_push: list[float] = field(default_factory=list)
    raw_pull: list[float] = field(default_factory=list)
    head_rps: list[float] = field(default_factory=list)
    head_p99: list[float] = field(default_factory=list)
    rss: tuple[float, float] = (0.0, 0.0)


def wait_ready(host: str, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(tuple(host.split(":")), timeout=0.5):  # type: ignore[arg-type]
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server at {host} did not start")


def start_cais(work: Path) -> Server:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cais.cli.main",
            "registry",
            "serve",
            "--addr",
            f"127.0.0.1:{port}",
            "--storage",
            f"fs:{work / 'cais-storage'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"127.0.0.1:{port}"
    wait_ready(host)
    return Server("cais", proc, host)


def start_go(work: Path) -> Server:
    port = free_port()
    config = work / "docker-registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'go-storage'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"127.0.0.1:{port}"
    wait_ready(host)
    return Server("go", proc, host)


def make_image(path: Path, size: int) -> int:
    """An OCI layout with one gzip layer of ``size`` random bytes; returns the layer size."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("payload")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    layer = gzip.compress(raw.getvalue(), compresslevel=1)
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": put(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    digest = put(manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )
    return len(layer)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", *args], check=True, capture_output=True)


async def head_load(host: str, path: str, *, total: int, concurrency: int) -> tuple[float, float]:
    import aiohttp

    latencies: list[float] = []
    queue = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}

        async def worker() -> None:
            for _ in queue:
                start = time.perf_counter()
                async with session.head(f"http://{host}{path}", headers=accept) as resp:
                    assert resp.status == 200, resp.status
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return total / elapsed, latencies[int(len(latencies) * 0.99) - 1] * 1000


async def raw_transfer(host: str, name: str, blob: Path) -> tuple[float, float]:
    """Seconds for POST + monolithic PUT of ``blob`` (streamed from disk), and a GET of it."""
    import aiohttp

    digest = "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        async with session.post(f"http://{host}/v2/{name}/blobs/uploads/") as resp:
            assert resp.status == 202, resp.status
            location = resp.headers["Location"]
        if location.startswith("/"):
            location = f"http://{host}{location}"
        with blob.open("rb") as body:
            async with session.put(
                location,
                params={"digest": digest},
                data=body,
                headers={"Content-Type": "application/octet-stream"},
            ) as resp:
                assert resp.status == 201, (resp.status, await resp.text())
        push = time.perf_counter() - start
        start = time.perf_counter()
        async with session.get(f"http://{host}/v2/{name}/blobs/{digest}") as resp:
            async for _ in resp.content.iter_chunked(1 << 20):
                pass
        return push, time.perf_counter() - start


def machine_limits(work: Path, size: int) -> tuple[float, float]:
    data = os.urandom(size)
    hash_s = min(timed(lambda: hashlib.sha256(data).digest()) for _ in range(3))
    target = work / "dd.bin"

    def write() -> None:
        with open(target, "wb") as out:
            for i in range(0, size, 4 * MIB):
                out.write(data[i : i + 4 * MIB])
            out.flush()
            os.fsync(out.fileno())

    write_s = statistics.median(timed(write) for _ in range(3))
    target.unlink()
    return size / MIB / hash_s, size / MIB / write_s


def bench(
    server: Server, image: Path, *, layer_size: int, run: int, work: Path, r: Results
) -> None:
    ref = f"docker://{server.host}/bench/img{run}:v1"
    r.push.append(
        layer_size / MIB / timed(lambda: skopeo("--dest-tls-verify=false", f"oci:{image}:v1", ref))
    )
    r.repush.append(timed(lambda: skopeo("--dest-tls-verify=false", f"oci:{image}:v1", ref)))
    for attempt in range(PULLS_PER_RUN):  # pulls vary most on a shared machine: more samples
        out = work / f"pull-{server.name}-{run}-{attempt}"
        r.pull.append(
            layer_size / MIB / timed(lambda: skopeo("--src-tls-verify=false", ref, f"oci:{out}:v1"))  # noqa: B023
        )
        shutil.rmtree(out)
    blob = work / f"raw{run}.bin"
    push_s, pull_s = asyncio.run(raw_transfer(server.host, f"bench/raw{run}", blob))
    r.raw_push.append(blob.stat().st_size / MIB / push_s)
    r.raw_pull.append(blob.stat().st_size / MIB / pull_s)
    rps, p99 = asyncio.run(
        head_load(server.host, f"/v2/bench/img{run}/manifests/v1", total=1000, concurrency=16)
    )
    r.head_rps.append(rps)
    r.head_p99.append(p99)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.registry", description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--size-mib", type=int, default=100)
    args = p.parse_args(argv)
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            sys.stderr.write(f"{tool} is needed: apt-get install -y {tool}\n")
            return 1
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="cais-bench-") as tmp:
        work = Path(tmp)
        hash_mbs, write_mbs = machine_limits(work, size)
        servers = [start_cais(work), start_go(work)]
        results = {s.name: Results() for s in servers}
        try:
            for run in range(args.runs):
                image = work / f"image{run}"
                layer_size = make_image(image, size)
                (work / f"raw{run}.bin").write_bytes(os.urandom(size))
                for server in servers if run % 2 == 0 else reversed(servers):
                    bench(
                        server,
                        image,
                        layer_size=layer_size,
                        run=run,
                        work=work,
                        r=results[server.name],
                    )
                shutil.rmtree(image)
                (work / f"raw{run}.bin").unlink()
            for server in servers:
                results[server.name].rss = server.rss_mib()
        finally:
            for server in servers:
                server.stop()
    data = report(results, hash_mbs, write_mbs, args.runs, args.size_mib)
    print(f"\nresults: {save_results('registry', data)}")
    return 0


def report(
    results: dict[str, Results], hash_mbs: float, write_mbs: float, runs: int, mib: int
) -> dict[str, object]:
    """Print the table and the machine's limits; return them for the results file."""
    med = statistics.median
    cais, go = results["cais"], results["go"]
    rows = [
        ("skopeo push", "MB/s", med(cais.push), med(go.push), True),
        ("skopeo pull", "MB/s", med(cais.pull), med(go.pull), True),
        ("re-push (all blobs exist)", "s", med(cais.repush), med(go.repush), False),
        ("HTTP POST+PUT push", "MB/s", med(cais.raw_push), med(go.raw_push), True),
        ("HTTP blob GET", "MB/s", med(cais.raw_pull), med(go.raw_pull), True),
        ("manifest HEAD (c=16)", "req/s", med(cais.head_rps), med(go.head_rps), True),
        ("manifest HEAD p99", "ms", med(cais.head_p99), med(go.head_p99), False),
        ("server RSS (end)", "MiB", cais.rss[0], go.rss[0], False),
        ("server peak RSS", "MiB", cais.rss[1], go.rss[1], False),
    ]
    title = f"registry benchmark: {mib} MiB layer, medians of {runs} runs (MB = MiB)"
    print(title)
    print(f"{'metric':<32}{'cais':>10}{'go':>10}{'cais/go':>10}  better")
    out: list[dict[str, object]] = []
    for name, unit, ours, theirs, higher in rows:
        ratio = ours / theirs if theirs else float("nan")
        better = "higher" if higher else "lower"
        print(f"{name + ' ' + unit:<32}{ours:>10.2f}{theirs:>10.2f}{ratio:>10.2f}  {better}")
        out.append(
            {
                "measure": name,
                "cais": ours,
                "anchor": theirs,
                "ratio": ratio,
                "unit": unit,
                "runs": runs,
                "better": better,
            }
        )
    overlapped = min(hash_mbs, write_mbs)  # hashing and writing run side by side
    serial = 1 / (1 / hash_mbs + 1 / write_mbs)
    print(
        f"\nmachine: sha256 {hash_mbs:.0f} MB/s, write+fsync {write_mbs:.0f} MB/s; "
        f"limit {overlapped:.0f} MB/s overlapped, {serial:.0f} MB/s one after the other"
    )
    for label, res in (("cais", cais), ("go", go)):
        print(
            f"{label}: skopeo push at {med(res.push) / overlapped:.0%} of the overlapped limit, "
            f"HTTP push at {med(res.raw_push) / overlapped:.0%}, "
            f"skopeo pull at {med(res.pull) / overlapped:.0%} (skopeo hashes and writes too)"
        )
    return {
        "title": title,
        "anchor": "docker-registry (distribution)",
        "rows": out,
        "machine": {"sha256_mbs": hash_mbs, "write_fsync_mbs": write_mbs},
        "samples": {
            label: {k: v for k, v in vars(res).items() if k != "rss"}
            for label, res in (("cais", cais), ("go", go))
        },
    }


if __name__ == "__main__":
    sys.exit(main())
