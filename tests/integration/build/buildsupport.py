"""What build tests share: building from a temporary context, an image's files, and what
a finished build must not leave behind."""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cais.build.builder import Builder, BuildOptions, BuildResult
from cais.build.context import SourceTree
from cais.build.execute import MountedSnapshot
from cais.build.ignore import IgnoreRules
from cais.build.parse import parse_dockerfile
from cais.build.progress import PlainProgress
from cais.engine import Engine
from cais.images.store import Image
from cais.oci.config import chain_ids
from cais.oci.reference import parse_reference
from cais.snapshots.types import Kind

FileEntry = tuple[str, int, int, int, str]  # type, mode, uid, gid, content or link target


@dataclass
class Built:
    result: BuildResult
    output: str

    @property
    def image(self) -> Image:
        return self.result.image


class BuildKit:
    """Builds from a temporary context with the engine of the test."""

    def __init__(self, engine: Engine, context: Path) -> None:
        self.engine = engine
        self.context = context

    def write(self, files: dict[str, str | bytes]) -> None:
        for name, data in files.items():
            path = self.context / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data)

    def __call__(
        self,
        dockerfile: str,
        files: dict[str, str | bytes] | None = None,
        *,
        tags: tuple[str, ...] = (),
        build_args: dict[str, str] | None = None,
        target: str = "",
        no_cache: bool = False,
        labels: dict[str, str] | None = None,
        network: str = "none",
    ) -> Built:
        self.write(files or {})
        ignore_file = self.context / ".dockerignore"
        ignore = IgnoreRules.from_text(ignore_file.read_text()) if ignore_file.exists() else None
        out = io.StringIO()
        builder = Builder(self.engine, progress=PlainProgress(out))
        result = builder.build(
            parse_dockerfile(dockerfile),
            SourceTree(self.context, ignore=ignore),
            BuildOptions(
                tags=tuple(parse_reference(t) for t in tags),
                build_args=build_args or {},
                target=target,
                no_cache=no_cache,
                labels=labels or {},
                network=network,
            ),
        )
        return Built(result, out.getvalue())

    def files(self, image: Image, under: str = "") -> dict[str, FileEntry]:
        """Every path of ``image`` below ``under``: type, mode, owner, content/target."""
        chain = chain_ids(image.config.diff_ids)
        top = str(chain[-1]) if chain else None
        work = self.engine.settings.runroot / "test-views"
        with MountedSnapshot(self.engine.snapshotter, work).view(top) as root:
            return walk(root / under.lstrip("/") if under else root)


def walk(root: Path) -> dict[str, FileEntry]:
    out: dict[str, FileEntry] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", mode, st.st_uid, st.st_gid, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode, st.st_uid, st.st_gid, "")
            elif stat.S_ISREG(st.st_mode):
                data = path.read_bytes()
                out[rel] = ("file", mode, st.st_uid, st.st_gid, data.decode(errors="replace"))
            else:
                out[rel] = ("other", mode, st.st_uid, st.st_gid, "")
    return out


def leftovers(engine: Engine) -> list[str]:
    """What a finished build must not leave: containers, active snapshots, mounts, workdirs."""
    found = [f"container {c.name}" for c in engine.container_store.all()]
    found += [
        f"snapshot {s.key}" for s in engine.snapshotter.walk() if s.kind is not Kind.COMMITTED
    ]
    roots = (str(engine.settings.root), str(engine.settings.runroot))
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4]
            if point.startswith(roots):
                found.append(f"mount {point}")
    build_dir = engine.settings.runroot / "build"
    if build_dir.exists():
        found += [f"workdir {p}" for p in build_dir.iterdir()]
    return found
