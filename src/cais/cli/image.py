"""Image commands: images, image ls/inspect/rm/prune/history/tag/save/load/import/bootstrap."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, BinaryIO

from cais.cli.context import Context, parser
from cais.cli.output import human_size, print_formatted, print_json, table
from cais.errors import CaisError, InvalidArgumentError

if TYPE_CHECKING:
    from cais.images.store import Image
    from cais.oci.reference import Reference

_SUBCOMMANDS = {
    "ls": "images",
    "list": "images",
    "inspect": "inspect",
    "rm": "rmi",
    "remove": "rmi",
    "prune": "prune",
    "history": "history",
    "tag": "tag",
    "save": "save",
    "load": "load",
    "import": "import",
    "bootstrap": "bootstrap",
}
_IMAGE_HELP = """Usage:  cais image COMMAND

Manage images

Commands:
  bootstrap   Make a base image locally (busybox, debian[:suite])
  history     Show the history of an image
  import      Import the contents from a tarball to create an image
  inspect     Display detailed information on one or more images
  load        Load an image from a tar archive or STDIN
  ls          List images
  prune       Remove unused images
  rm          Remove one or more images
  save        Save one or more images to a tar archive
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if command == "image":
        if not argv or argv[0] in ("-h", "--help"):
            ctx.out.write(_IMAGE_HELP)
            return 0
        sub = _SUBCOMMANDS.get(argv[0])
        if sub is None:
            ctx.err.write(f"cais image: unknown command {argv[0]!r}\nSee 'cais image --help'.\n")
            return 125
        return _HANDLERS[sub](ctx, f"cais image {argv[0]}", argv[1:])
    return _HANDLERS[command](ctx, f"cais {command}", argv)


def _images(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "List images", f"{prog} [OPTIONS] [REPOSITORY[:TAG]]")
    p.add_argument("repository", nargs="?")
    p.add_argument("-a", "--all", action="store_true", help="Show all images (intermediate too)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        help="Filter output (dangling, label, before, since, reference)",
    )
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    args = p.parse_args(argv)
    from cais.cli.image_views import image_rows, matches_filters, parse_filters

    engine = ctx.engine
    filters = parse_filters(args.filter)
    if args.repository:
        filters.append(("reference", args.repository))
    rows = []
    for image in engine.image_store.all():
        if image.intermediate and not args.all:
            continue
        if not matches_filters(engine, image, filters):
            continue
        for row in image_rows(image, digests=args.digests, no_trunc=args.no_trunc):
            if (
                args.repository
                and ":" not in args.repository
                and row["Repository"] != args.repository
                and not row["Repository"].startswith(args.repository)
            ):
                continue
            rows.append(row)
    if args.quiet:
        seen = []
        for row in rows:
            if row["ID"] not in seen:
                seen.append(row["ID"])
        for image_id in seen:
            ctx.out.write(f"{image_id}\n")
        return 0
    headers = [
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("Size", "SIZE"),
    ]
    if print_formatted(ctx.out, args.format, rows, headers):
        return 0
    keys = [
        "Repository",
        "Tag",
        *(["Digest"] if args.digests else []),
        "ID",
        "CreatedSince",
        "Size",
    ]
    names = dict(headers)
    table(ctx.out, [names[k] for k in keys], [[str(r[k]) for k in keys] for r in rows])
    return 0


def _inspect(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Display detailed information on one or more images",
        f"{prog} [OPTIONS] IMAGE [IMAGE...]",
    )
    p.add_argument("images", nargs="+")
    p.add_argument("-f", "--format", help="Format the output using a Go-like template")
    args = p.parse_args(argv)
    from cais.cli.image_views import inspect_document
    from cais.cli.output import render_template

    docs, failed = [], False
    for name in args.images:
        try:
            docs.append(inspect_document(ctx.engine, ctx.engine.image_store.resolve(name)))
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    if args.format:
        for doc in docs:
            ctx.out.write(render_template(args.format, doc) + "\n")
    else:
        print_json(ctx.out, docs)
    return 1 if failed else 0


def _rmi(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove one or more images", f"{prog} [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("images", nargs="+")
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Accepted for compatibility")
    args = p.parse_args(argv)
    failed = False
    for name in args.images:
        try:
            for event in ctx.engine.images.remove(name, force=args.force):
                ctx.out.write(f"{event.action}: {event.subject}\n")
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    return 1 if failed else 0


def _prune(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove unused images", f"{prog} [OPTIONS]")
    p.add_argument(
        "-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones"
    )
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv)
    if not args.force:
        what = (
            "all images without at least one container associated to them"
            if args.all
            else "all dangling images"
        )
        ctx.out.write(
            f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    events, reclaimed = ctx.engine.images.prune(all_images=args.all)
    if events:
        ctx.out.write("Deleted Images:\n")
        for event in events:
            ctx.out.write(f"{event.action.lower()}: {event.subject}\n")
        ctx.out.write("\n")
    ctx.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def _history(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Show the history of an image", f"{prog} [OPTIONS] IMAGE")
    p.add_argument("image")
    p.add_argument(
        "-H",
        "--human",
        default="true",
        help="Print sizes and dates in human readable format (default true)",
    )
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    args = p.parse_args(argv)
    from cais.cli.image_views import history_rows

    image = ctx.engine.image_store.resolve(args.image)
    rows = history_rows(
        ctx.engine, image, no_trunc=args.no_trunc, human=args.human.lower() not in ("false", "0")
    )
    if args.quiet:
        for row in rows:
            ctx.out.write(f"{row['ID']}\n")
        return 0
    headers = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ]
    if print_formatted(ctx.out, args.format, rows, headers):
        return 0
    table(ctx.out, [h for _, h in headers], [[str(r[k]) for k, _ in headers] for r in rows])
    return 0


def _tag(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        f"{prog} SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    )
    p.add_argument("source")
    p.add_argument("target")
    args = p.parse_args(argv)
    from cais.oci.reference import parse_reference

    image = ctx.engine.image_store.resolve(args.source)
    ctx.engine.image_store.tag(image.id, parse_reference(args.target))
    return 0


def _save(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
        f"{prog} [OPTIONS] IMAGE [IMAGE...]",
    )
    p.add_argument("images", nargs="+")
    p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    args = p.parse_args(argv)
    from cais.images.archive import save
    from cais.oci.reference import ReferenceError, parse_reference

    engine = ctx.engine
    items: dict[str, tuple[Image, list[Reference]]] = {}
    for name in args.images:
        image = engine.image_store.resolve(name)
        try:
            ref = parse_reference(name)
            names = [ref] if ref in image.tags else list(image.tags)
        except ReferenceError:
            names = list(image.tags)
        if name.removeprefix("sha256:") and str(image.id).removeprefix("sha256:").startswith(
            name.removeprefix("sha256:")
        ):
            names = []
        entry = items.setdefault(str(image.id), (image, []))
        entry[1].extend(n for n in names if n not in entry[1])
    pairs = [(img, names) for img, names in items.values()]
    if args.output:
        from pathlib import Path

        from cais.fsutil import atomic_output

        with atomic_output(Path(args.output)) as out:
            save(engine.images, pairs, out)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgumentError(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        )
    sys.stdout.flush()
    save(engine.images, pairs, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


def _open_input(path: str | None) -> BinaryIO:
    """The named file, or standard input (refused when it is a terminal)."""
    if path:
        try:
            return open(path, "rb")
        except OSError as exc:
            raise InvalidArgumentError(f"open {path}: {exc.strerror}") from None
    if sys.stdin.isatty():
        raise InvalidArgumentError("requested input from stdin, but stdin is a terminal")
    return sys.stdin.buffer


def _load(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Load an image from a tar archive or STDIN", f"{prog} [OPTIONS]")
    p.add_argument("-i", "--input", help="Read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    args = p.parse_args(argv)
    from pathlib import Path

    from cais.images.archive import load, load_directory

    if args.input and os.path.isdir(args.input):
        loaded = load_directory(ctx.engine.images, Path(args.input))
    else:
        with _open_input(args.input) as stream:
            loaded = load(ctx.engine.images, stream)
    if not args.quiet:
        for item in loaded:
            if item.names:
                for name in item.names:
                    ctx.out.write(f"Loaded image: {name.familiar()}\n")
            else:
                ctx.out.write(f"Loaded image ID: {item.image.id}\n")
    return 0


def _import(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Import the contents from a tarball to create a filesystem image",
        f"{prog} [OPTIONS] file|- [REPOSITORY[:TAG]]",
    )
    p.add_argument("file")
    p.add_argument("reference", nargs="?")
    p.add_argument(
        "-c",
        "--change",
        action="append",
        default=None,
        help="Apply Dockerfile instruction to the created image",
    )
    p.add_argument("-m", "--message", default="", help="Set commit message for imported image")
    p.add_argument("--platform", help="Accepted for compatibility (the host's platform is used)")
    args = p.parse_args(argv)
    from cais.images.importer import import_rootfs
    from cais.oci.reference import parse_reference

    names = [parse_reference(args.reference)] if args.reference else []
    with _open_input(None if args.file == "-" else args.file) as stream:
        image = import_rootfs(
            ctx.engine.images,
            stream,
            names=names,
            changes=args.change or (),
            message=args.message,
            source=args.file,
        )
    ctx.out.write(f"{image.id}\n")
    return 0


def _bootstrap(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Make a base image without a registry: busybox (from Debian's "
        "busybox-static) or debian[:SUITE] (mmdebstrap minbase)",
        f"{prog} [OPTIONS] busybox|debian[:SUITE]",
    )
    p.add_argument("what")
    p.add_argument("-t", "--tag", help="Name the image (default busybox:latest or debian:SUITE)")
    args = p.parse_args(argv)
    from cais.images.bootstrap import bootstrap

    image = bootstrap(ctx.engine.images, args.what, tag=args.tag, scratch=ctx.settings.root / "tmp")
    names = ", ".join(t.familiar() for t in image.tags)
    ctx.out.write(f"{names} {image.id}\n")
    return 0


_HANDLERS = {
    "images": _images,
    "inspect": _inspect,
    "rmi": _rmi,
    "prune": _prune,
    "history": _history,
    "tag": _tag,
    "save": _save,
    "load": _load,
    "import": _import,
    "bootstrap": _bootstrap,
}
