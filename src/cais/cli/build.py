"""``cais build`` (and ``cais builder prune``): Docker's flags, a Builder underneath."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cais.cli.context import Context, parser
from cais.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cais.build.context import SourceTree
    from cais.images.store import Image

NETWORKS = ("none", "host")


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if command == "builder":
        return _builder(ctx, argv)
    return _build(ctx, argv)


def _build(ctx: Context, argv: list[str]) -> int:
    p = parser("cais build", "Build an image from a Dockerfile", "cais build [OPTIONS] PATH | -")
    a = p.add_argument
    a("context", help="The build context: a directory, or - for a Dockerfile or tar on stdin")
    a("-t", "--tag", action="append", default=[], help="Name and optionally a tag (name:tag)")
    a("-f", "--file", help="Name of the Dockerfile (default: PATH/Dockerfile)")
    a("--build-arg", action="append", default=[], help="Set build-time variables (K=V)")
    a("--target", default="", help="Set the target build stage to build")
    a("--no-cache", action="store_true", help="Do not use cache when building the image")
    a("--label", action="append", default=[], help="Set metadata for an image (K=V)")
    a(
        "--network",
        default="default",
        help="Network of RUN instructions: default (the bridge, as cais run), none, host "
        "or a network's name",
    )
    a(
        "--progress",
        default="auto",
        choices=["auto", "plain", "tty"],
        help="Type of progress output",
    )
    a("-q", "--quiet", action="store_true", help="Suppress the build output, print the image ID")
    a("--iidfile", help="Write the image ID to the file")
    a("--platform", default="", help="Accepted for compatibility (this machine's platform)")
    a(
        "--pull",
        nargs="?",
        const="always",
        default="missing",
        choices=["always", "missing", "never"],
        help="Pull base images: missing (default), always (--pull alone) or never",
    )
    args = p.parse_args(argv)

    from cais.build.builder import Builder, BuildOptions
    from cais.build.parse import parse_dockerfile
    from cais.build.progress import progress_for
    from cais.oci.reference import parse_reference

    tags = tuple(parse_reference(t) for t in args.tag)
    build_args = _build_args(args.build_arg)
    labels = _pairs(args.label, "--label")
    network = _network(ctx, args.network)
    with _Context.open(args.context, args.file, stdin=sys.stdin.buffer) as opened, _interruptible():
        dockerfile = parse_dockerfile(opened.text, filename=opened.filename)
        progress = progress_for(args.progress, ctx.err, quiet=args.quiet)
        quiet = args.quiet

        def pull(name: str) -> Image:
            from cais.cli.distribution import pull_image

            return pull_image(ctx, name, out=ctx.err, quiet=quiet, silent=quiet)

        builder = Builder(ctx.engine, progress=progress, pull=pull)
        result = builder.build(
            dockerfile,
            opened.tree,
            BuildOptions(
                tags=tags,
                build_args=build_args,
                target=args.target,
                no_cache=args.no_cache,
                labels=labels,
                network=network,
                pull=args.pull,
            ),
        )
    image_id = str(result.image.id)
    for warning in result.warnings:
        ctx.err.write(f"[Warning] {warning}\n")
    progress.note(f"writing image {image_id} done")
    for ref in tags:
        progress.note(f"naming to {ref} done")
    if args.iidfile:
        Path(args.iidfile).write_text(image_id)
    if args.quiet:
        ctx.out.write(image_id + "\n")
    return 0


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM stops a build like Ctrl-C does: the step's container and mounts go away."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _network(ctx: Context, name: str) -> str:
    """none, host, or a network that exists (bridge/default: the default network)."""
    if name in NETWORKS:
        return name
    from cais.errors import NotFoundError

    try:
        return ctx.engine.networks.resolve(name).name
    except NotFoundError:
        raise InvalidArgumentError(
            f"network {name!r} not found: use none, host, bridge or a network's name"
        ) from None


def _build_args(values: list[str]) -> dict[str, str]:
    """``K=V``, or ``K`` alone to take the value from this environment (skipped if unset)."""
    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgumentError(f"invalid --build-arg {item!r}: expected KEY=VALUE")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgumentError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


class _Context:
    """The Dockerfile text and the context tree, from a directory or from stdin."""

    def __init__(self, text: str, filename: str, tree: SourceTree, scratch: Path | None) -> None:
        self.text = text
        self.filename = filename
        self.tree = tree
        self._scratch = scratch

    def __enter__(self) -> _Context:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)

    @classmethod
    def open(cls, context: str, dockerfile: str | None, *, stdin: BinaryIO) -> _Context:
        from cais.build.context import SourceTree
        from cais.build.ignore import IgnoreRules

        scratch: Path | None = None
        root: Path | None
        text: str | None = None
        if context == "-":
            data = stdin.read()
            if _is_tar(data):
                scratch = Path(tempfile.mkdtemp(prefix="cais-build-context-"))
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    tar.extractall(scratch, filter="data")
                root = scratch
            else:
                if dockerfile is not None:
                    raise InvalidArgumentError("-f cannot be used when the Dockerfile is on stdin")
                text = data.decode("utf-8", "replace")
                root = None
        else:
            if context.startswith(("http://", "https://", "git@")):
                raise InvalidArgumentError(f"remote build contexts are not supported: {context}")
            root = Path(context).absolute()
            if not root.is_dir():
                raise InvalidArgumentError(f'unable to prepare context: path "{context}" not found')
        filename = "Dockerfile"
        ignore_file: Path | None = None
        if text is None:
            if dockerfile == "-":
                text = stdin.read().decode("utf-8", "replace")
            else:
                path = _dockerfile_path(root, dockerfile)
                try:
                    text = path.read_text(errors="replace")
                except FileNotFoundError:
                    raise InvalidArgumentError(
                        f"unable to prepare context: the Dockerfile ({path}) cannot be found"
                    ) from None
                filename = path.name
                specific = path.with_name(path.name + ".dockerignore")
                if specific.exists():
                    ignore_file = specific
        if ignore_file is None and root is not None and (root / ".dockerignore").exists():
            ignore_file = root / ".dockerignore"
        ignore = IgnoreRules.from_text(ignore_file.read_text()) if ignore_file else IgnoreRules()
        return cls(text, filename, SourceTree(root, ignore=ignore), scratch)


def _dockerfile_path(root: Path | None, name: str | None) -> Path:
    if name:
        return Path(name).absolute()
    assert root is not None
    default = root / "Dockerfile"
    if not default.exists() and (root / "dockerfile").exists():
        return root / "dockerfile"
    return default


def _is_tar(data: bytes) -> bool:
    if data[:2] == b"\x1f\x8b":
        return True
    return len(data) >= 512 and data[257:262] == b"ustar"


def _builder(ctx: Context, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        ctx.out.write(
            "Usage:  cais builder COMMAND\n\nManage builds\n\nCommands:\n"
            "  prune       Remove build cache\n"
        )
        return 0
    if argv[0] != "prune":
        ctx.err.write(f"cais builder: unknown command {argv[0]!r}\n")
        return 125
    p = parser("cais builder prune", "Remove build cache", "cais builder prune [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Accepted for compatibility")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv[1:])
    if not args.force:
        ctx.out.write(
            "WARNING! This will remove all build cache.\nAre you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    from cais.build.prune import prune_build_cache
    from cais.cli.output import human_size

    removed, reclaimed = prune_build_cache(ctx.engine)
    ctx.out.write(f"Deleted build cache objects: {removed}\n")
    ctx.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0
