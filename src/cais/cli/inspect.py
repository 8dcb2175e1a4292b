"""``cais inspect``: any object by name or ID: containers first, then images, volumes,
networks (Docker's order)."""

from __future__ import annotations

from typing import Any

from cais.cli.context import Context, parser
from cais.cli.output import print_json, render_template
from cais.errors import CaisError, NotFoundError


def main(ctx: Context, command: str, argv: list[str]) -> int:
    p = parser(
        "cais inspect",
        "Return low-level information on cais objects",
        "cais inspect [OPTIONS] NAME|ID [NAME|ID...]",
    )
    p.add_argument("names", nargs="+")
    p.add_argument("-f", "--format", help="Format the output using a Go-like template")
    p.add_argument(
        "--type",
        choices=["container", "image", "volume", "network"],
        help="Only inspect objects of this type",
    )
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    args = p.parse_args(argv)
    docs, failed = [], False
    for name in args.names:
        try:
            docs.append(_find(ctx, name, args.type, size=args.size))
        except NotFoundError:
            ctx.err.write(f"Error: No such object: {name}\n")
            failed = True
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    if args.format:
        for doc in docs:
            ctx.out.write(render_template(args.format, doc) + "\n")
    else:
        print_json(ctx.out, docs)
    return 1 if failed else 0


def _find(ctx: Context, name: str, kind: str | None, *, size: bool) -> dict[str, Any]:
    engine = ctx.engine
    if kind in (None, "container"):
        try:
            from cais.cli.container_views import inspect_document as container_doc
            from cais.cli.container_views import sizes

            container = engine.containers.refresh(engine.container_store.resolve(name))
            doc = container_doc(engine, container)
            if size:
                doc["SizeRw"], doc["SizeRootFs"] = sizes(engine, container)
            return doc
        except NotFoundError:
            if kind == "container":
                raise
    if kind in (None, "image"):
        try:
            from cais.cli.image_views import inspect_document as image_doc

            return image_doc(engine, engine.image_store.resolve(name))
        except NotFoundError:
            if kind == "image":
                raise
    if kind in (None, "volume"):
        volume = engine.volumes.find(name)
        if volume is not None:
            return volume.inspect()
        if kind == "volume":
            raise NotFoundError(f"No such object: {name}")
    from cais.cli.network import document, resolve_network

    try:
        return document(ctx, resolve_network(ctx, name))
    except NotFoundError:
        raise NotFoundError(f"No such object: {name}") from None
