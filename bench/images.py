"""Issue 2: ``cais load`` vs ``podman load`` (100 MiB layer) and ``cais images`` vs
``podman images`` (50 images), medians of repeated runs, side by side in one run."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from bench.common import CAIS, Measure, podman_env, report, run, save_results, timed

LOAD_RUNS = 5
LIST_RUNS = 15
IMAGES = 50


def _rootfs_tar(path: Path, size: int, tag: bytes) -> None:
    with tarfile.open(path, "w") as tar:
        data = os.urandom(size) if size > 4096 else tag * 16
        info = tarfile.TarInfo("data/blob")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="cais-bench-images-"))
    try:
        env = {**os.environ, "CAIS_ROOT": str(work / "src"), "CAIS_RUNROOT": str(work / "srun")}
        rootfs = work / "big.tar"
        _rootfs_tar(rootfs, 100 << 20, b"")
        run([CAIS, "import", str(rootfs), "bench/big:1"], env=env)
        archive = work / "big-archive.tar"
        run([CAIS, "save", "-o", str(archive), "bench/big:1"], env=env)

        counter = {"n": 0}

        def fresh_cais() -> None:
            counter["n"] += 1
            shutil.rmtree(work / "c", ignore_errors=True)

        cenv = {**os.environ, "CAIS_ROOT": str(work / "c"), "CAIS_RUNROOT": str(work / "crun")}
        cais_load = timed(
            lambda: run([CAIS, "load", "-i", str(archive)], env=cenv),
            runs=LOAD_RUNS,
            setup=fresh_cais,
        )
        pm, penv = podman_env(work / "pm")

        def fresh_podman() -> None:
            subprocess.run(
                [*pm, "system", "reset", "-f"], env=penv, capture_output=True, check=False
            )

        podman_load = timed(
            lambda: run([*pm, "load", "-i", str(archive)], env=penv),
            runs=LOAD_RUNS,
            setup=fresh_podman,
        )

        # 50 small images in both stores
        fresh_cais()
        fresh_podman()
        for i in range(IMAGES):
            small = work / f"s{i}.tar"
            _rootfs_tar(small, 0, f"{i:04d}".encode())
            run([CAIS, "import", str(small), f"bench/small{i}:v1"], env=cenv)
        small_archive = work / "small.tar"
        run(
            [
                CAIS,
                "save",
                "-o",
                str(small_archive),
                *[f"bench/small{i}:v1" for i in range(IMAGES)],
            ],
            env=cenv,
        )
        run([*pm, "load", "-i", str(small_archive)], env=penv)
        cais_list = timed(lambda: run([CAIS, "images"], env=cenv), runs=LIST_RUNS)
        podman_list = timed(lambda: run([*pm, "images"], env=penv), runs=LIST_RUNS)
        fresh_podman()
        size_mb = archive.stat().st_size / 1e6
        rows = [
            ("load, 100 MiB layer (s)", cais_load, podman_load),
            (f"images, {IMAGES} images (s)", cais_list, podman_list),
            (
                "load throughput (MB/s)",
                Measure("", [size_mb / cais_load.median], "MB/s"),
                Measure("", [size_mb / podman_load.median], "MB/s"),
            ),
        ]
        result = report(
            "images: cais vs podman (medians; ratio = cais/podman)",
            rows,
            f"load runs={LOAD_RUNS}, images runs={LIST_RUNS}, archive {size_mb:.0f} MB",
        )
        save_results("images", result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(Path("/tmp") / f"cais-bench-pm-{os.getpid()}", ignore_errors=True)


if __name__ == "__main__":
    main()
