"""``cais volume create|ls|inspect|rm|prune``."""

from __future__ import annotations

import sys

from cais.cli.context import Context, parser
from cais.cli.output import human_size, print_formatted, print_json, render_template, table
from cais.errors import CaisError

_HELP = """Usage:  cais volume COMMAND

Manage volumes

Commands:
  create      Create a volume
  inspect     Display detailed information on one or more volumes
  ls          List volumes
  prune       Remove unused local volumes
  rm          Remove one or more volumes
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        ctx.out.write(_HELP)
        return 0
    sub, rest = argv[0], argv[1:]
    handlers = {
        "create": _create,
        "ls": _ls,
        "list": _ls,
        "inspect": _inspect,
        "rm": _rm,
        "remove": _rm,
        "prune": _prune,
    }
    if sub not in handlers:
        ctx.err.write(f"cais volume: unknown command {sub!r}\nSee 'cais volume --help'.\n")
        return 125
    return handlers[sub](ctx, f"cais volume {sub}", rest)


def _labels(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _create(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Create a volume", f"{prog} [OPTIONS] [VOLUME]")
    p.add_argument("name", nargs="?")
    p.add_argument("--name", dest="flag_name", help="Specify volume name")
    p.add_argument("-d", "--driver", default="local", help="Specify volume driver name")
    p.add_argument("-l", "--label", action="append", help="Set metadata for a volume")
    p.add_argument("-o", "--opt", action="append", help="Set driver specific options")
    args = p.parse_args(argv)
    from cais.runtime.flags import parse_volume

    name = args.name or args.flag_name
    if name:
        parse_volume(f"{name}:/x")  # validates the name
    volume = ctx.engine.volumes.create(
        name, driver=args.driver, labels=_labels(args.label), options=_labels(args.opt)
    )
    ctx.out.write(volume.name + "\n")
    return 0


def _ls(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "List volumes", f"{prog} [OPTIONS]")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        help="Provide filter values (dangling, name, label, driver)",
    )
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    args = p.parse_args(argv)
    engine = ctx.engine
    volumes = engine.volumes.all()
    for f in args.filter or []:
        key, _, value = f.partition("=")
        if key == "dangling":
            want = value in ("true", "1")
            volumes = [v for v in volumes if (not engine.volumes.users(v.name)) == want]
        elif key == "name":
            volumes = [v for v in volumes if value in v.name]
        elif key == "label":
            k, eq, val = value.partition("=")
            volumes = [v for v in volumes if k in v.labels and (not eq or v.labels[k] == val)]
        elif key == "driver":
            volumes = [v for v in volumes if v.driver == value]
        else:
            raise CaisError(f"invalid filter '{key}'")
    if args.quiet:
        for v in volumes:
            ctx.out.write(v.name + "\n")
        return 0
    rows = [
        {
            "Driver": v.driver,
            "Name": v.name,
            "Mountpoint": str(v.mountpoint),
            "Labels": ",".join(f"{k}={val}" for k, val in v.labels.items()),
            "Scope": "local",
        }
        for v in volumes
    ]
    headers = [("Driver", "DRIVER"), ("Name", "VOLUME NAME")]
    if print_formatted(ctx.out, args.format, rows, headers):
        return 0
    table(ctx.out, [h for _, h in headers], [[r[k] for k, _ in headers] for r in rows])
    return 0


def _inspect(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Display detailed information on one or more volumes",
        f"{prog} [OPTIONS] VOLUME [VOLUME...]",
    )
    p.add_argument("volumes", nargs="+")
    p.add_argument("-f", "--format", help="Format the output using a Go-like template")
    args = p.parse_args(argv)
    docs, failed = [], False
    for name in args.volumes:
        try:
            docs.append(ctx.engine.volumes.get(name).inspect())
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    if args.format:
        for doc in docs:
            ctx.out.write(render_template(args.format, doc) + "\n")
    else:
        print_json(ctx.out, docs)
    return 1 if failed else 0


def _rm(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove one or more volumes", f"{prog} [OPTIONS] VOLUME [VOLUME...]")
    p.add_argument("volumes", nargs="+")
    p.add_argument("-f", "--force", action="store_true", help="Force the removal")
    args = p.parse_args(argv)
    failed = False
    for name in args.volumes:
        try:
            ctx.engine.volumes.remove(name, force=args.force)
            ctx.out.write(name + "\n")
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    return 1 if failed else 0


def _prune(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove unused local volumes", f"{prog} [OPTIONS]")
    p.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="Remove all unused volumes, not just anonymous ones",
    )
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv)
    if not args.force:
        ctx.out.write(
            "WARNING! This will remove anonymous local volumes not used by at least "
            "one container.\nAre you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed, reclaimed = ctx.engine.volumes.prune(all_volumes=args.all)
    if removed:
        ctx.out.write("Deleted Volumes:\n" + "".join(f"{n}\n" for n in removed) + "\n")
    ctx.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0
