"""``top``, ``stats``, ``cp``, ``diff``, ``commit`` and ``port``."""

from __future__ import annotations

import subprocess
import sys
import time

from cais.cli.context import Context, parser
from cais.cli.output import human_size, print_formatted, table
from cais.errors import CaisError, ConflictError, InvalidArgumentError


def main(ctx: Context, command: str, argv: list[str]) -> int:
    handlers = {
        "top": _top,
        "stats": _stats,
        "cp": _cp,
        "diff": _diff,
        "commit": _commit,
        "port": _port,
    }
    return handlers[command](ctx, f"cais {command}", argv)


def _running(ctx: Context, name: str) -> object:
    service = ctx.engine.containers
    container = service.refresh(service.store.resolve(name))
    if container.state.status not in ("running", "paused"):
        raise ConflictError(f"container {container.id} is not running")
    return container


def _top(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog, "Display the running processes of a container", f"{prog} CONTAINER [ps OPTIONS]"
    )
    p.add_argument("container")
    p.add_argument("ps_args", nargs="*")
    args = p.parse_args(argv)
    from cais.runtime.model import Container

    container = _running(ctx, args.container)
    assert isinstance(container, Container)
    pids = ctx.engine.containers.runtime(container.config.runtime).pids(container.id)
    ps_args = args.ps_args or ["-o", "uid,pid,ppid,c,stime,tty,time,cmd"]
    proc = subprocess.run(
        ["ps", *ps_args, "-p", ",".join(map(str, pids))],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.splitlines()
    ctx.out.write("\n".join(lines) + "\n")
    return 0


def _stats(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Display a live stream of container resource usage statistics",
        f"{prog} [OPTIONS] [CONTAINER...]",
    )
    p.add_argument("containers", nargs="*")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers")
    p.add_argument("--no-stream", action="store_true", help="Print the first result and exit")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    args = p.parse_args(argv)
    from cais.runtime import cgroups
    from cais.runtime.host import cpu_count

    service = ctx.engine.containers
    if args.containers:
        targets = [service.refresh(service.store.resolve(n)) for n in args.containers]
    else:
        targets = [service.refresh(c) for c in service.store.all()]
        if not args.all:
            targets = [c for c in targets if c.state.status in ("running", "paused")]
    cpus = cpu_count()
    previous = {
        c.id: cgroups.usage(ctx.settings.cgroup_of(c.id, c.config.cgroup_parent), c.state.pid)
        for c in targets
        if c.state.pid
    }
    while True:
        time.sleep(0.5)
        rows = []
        for c in targets:
            now = (
                cgroups.usage(ctx.settings.cgroup_of(c.id, c.config.cgroup_parent), c.state.pid)
                if c.state.pid
                else None
            )
            before = previous.get(c.id)
            if now is None or before is None:
                rows.append(
                    {
                        "ID": c.short_id,
                        "Name": c.name,
                        "CPUPerc": "--",
                        "MemUsage": "-- / --",
                        "MemPerc": "--",
                        "NetIO": "--",
                        "BlockIO": "--",
                        "PIDs": "--",
                    }
                )
                continue
            mem_pct = 100.0 * now.memory / now.memory_limit if now.memory_limit else 0.0
            rows.append(
                {
                    "ID": c.id if args.no_trunc else c.short_id,
                    "Name": c.name,
                    "CPUPerc": f"{cgroups.cpu_percent(before, now, cpus):.2f}%",
                    "MemUsage": f"{_binary(now.memory)} / {_binary(now.memory_limit)}",
                    "MemPerc": f"{mem_pct:.2f}%",
                    "NetIO": f"{human_size(now.net_rx)} / {human_size(now.net_tx)}",
                    "BlockIO": f"{human_size(now.block_read)} / {human_size(now.block_write)}",
                    "PIDs": str(now.pids),
                }
            )
            previous[c.id] = now
        headers = [
            ("ID", "CONTAINER ID"),
            ("Name", "NAME"),
            ("CPUPerc", "CPU %"),
            ("MemUsage", "MEM USAGE / LIMIT"),
            ("MemPerc", "MEM %"),
            ("NetIO", "NET I/O"),
            ("BlockIO", "BLOCK I/O"),
            ("PIDs", "PIDS"),
        ]
        if not args.no_stream:
            ctx.out.write("\033[2J\033[H")
        if not print_formatted(ctx.out, args.format, rows, headers):
            table(ctx.out, [h for _, h in headers], [[r[k] for k, _ in headers] for r in rows])
        ctx.out.flush()
        if args.no_stream:
            return 0


def _binary(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.4g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1024
    return f"{size}B"


def _cp(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Copy files/folders between a container and the local filesystem",
        f"{prog} [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
        f"       {prog} [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    )
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument(
        "-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)"
    )
    p.add_argument(
        "-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress progress output")
    args = p.parse_args(argv)
    from cais.runtime.copy import copy_in, copy_out

    service = ctx.engine.containers
    src_c, _, src_path = (
        args.src.partition(":") if _is_container_path(args.src) else ("", "", args.src)
    )
    dst_c, _, dst_path = (
        args.dest.partition(":") if _is_container_path(args.dest) else ("", "", args.dest)
    )
    if bool(src_c) == bool(dst_c):
        raise InvalidArgumentError(
            "copying between containers is not supported; one side must be a local path"
            if src_c
            else "must specify at least one container source"
        )
    if src_c:
        container = service.store.resolve(src_c)
        data = copy_out(service, container, src_path, dst_path)
        if data is not None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return 0
    container = service.store.resolve(dst_c)
    source: str | bytes = sys.stdin.buffer.read() if src_path == "-" else src_path
    copy_in(service, container, source, dst_path)
    return 0


def _is_container_path(arg: str) -> bool:
    head, sep, _ = arg.partition(":")
    return bool(sep) and "/" not in head and not arg.startswith(".")


def _diff(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Inspect changes to files or directories on a container's filesystem",
        f"{prog} CONTAINER",
    )
    p.add_argument("container")
    args = p.parse_args(argv)
    from cais.runtime.changes import changes

    service = ctx.engine.containers
    for kind, path in changes(service, service.store.resolve(args.container)):
        ctx.out.write(f"{kind} {path}\n")
    return 0


def _commit(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Create a new image from a container's changes",
        f"{prog} [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    )
    p.add_argument("container")
    p.add_argument("reference", nargs="?")
    p.add_argument("-a", "--author", default="", help="Author")
    p.add_argument(
        "-c", "--change", action="append", help="Apply Dockerfile instruction to the created image"
    )
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument(
        "-p", "--pause", default="true", help="Pause container during commit (default true)"
    )
    args = p.parse_args(argv)
    from cais.oci.reference import parse_reference
    from cais.runtime.changes import commit

    service = ctx.engine.containers
    names = [parse_reference(args.reference)] if args.reference else []
    image = commit(
        service,
        service.store.resolve(args.container),
        names=names,
        message=args.message,
        author=args.author,
        change=args.change,
        pause=args.pause.lower() != "false",
    )
    ctx.out.write(f"{image.id}\n")
    return 0


def _port(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "List port mappings or a specific mapping for the container",
        f"{prog} CONTAINER [PRIVATE_PORT[/PROTO]]",
    )
    p.add_argument("container")
    p.add_argument("port", nargs="?")
    args = p.parse_args(argv)
    from cais.cli.ports import port_lines

    service = ctx.engine.containers
    container = service.refresh(service.store.resolve(args.container))
    lines = port_lines(ctx.engine, container, args.port)
    if args.port and not lines:
        raise CaisError(f"No public port '{args.port}' published for {container.name}")
    for line in lines:
        ctx.out.write(line + "\n")
    return 0
