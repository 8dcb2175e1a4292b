"""``cais inspect``: any object by name or ID (images now; containers, networks… later)."""

from __future__ import annotations

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
    p.add_argument("--type", choices=["image"], help="Only inspect objects of this type")
    args = p.parse_args(argv)
    from cais.cli.image_views import inspect_document

    docs, failed = [], False
    for name in args.names:
        try:
            docs.append(inspect_document(ctx.engine, ctx.engine.image_store.resolve(name)))
        except NotFoundError:
            ctx.err.write(f"Error: no such object: {name}\n")
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
