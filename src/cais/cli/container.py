"""Container commands: ps, start, stop, kill, restart, rm, logs, inspect, wait, pause,
unpause, rename, attach, exec, and the ``container`` noun that groups them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from cais.cli.context import Context, parser
from cais.cli.output import print_formatted, print_json, render_template, table
from cais.errors import CaisError

_GROUP_HELP = """Usage:  cais container COMMAND

Manage containers

Commands:
  attach      Attach to a running container's output (and input)
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  exec        Execute a command in a running container
  inspect     Display detailed information on one or more containers
  kill        Kill one or more running containers
  logs        Fetch the logs of a container
  ls          List containers
  pause       Pause all processes within one or more containers
  port        List port mappings of a container
  prune       Remove all stopped containers
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  run         Create and run a new container from an image
  start       Start one or more stopped containers
  stats       Display a live stream of container resource usage statistics
  stop        Stop one or more running containers
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  wait        Block until one or more containers stop, then print their exit codes
"""

_ALIASES = {"ls": "ps", "list": "ps", "remove": "rm"}


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if command == "container":
        if not argv or argv[0] in ("-h", "--help"):
            ctx.out.write(_GROUP_HELP)
            return 0
        sub = _ALIASES.get(argv[0], argv[0])
        if sub in ("run", "create"):
            from cais.cli import run

            return run.main(ctx, sub, argv[1:])
        if sub in ("top", "stats", "cp", "diff", "commit", "port"):
            from cais.cli import container_extra

            return container_extra.main(ctx, sub, argv[1:])
        handler = _HANDLERS.get(sub)
        if handler is None:
            ctx.err.write(
                f"cais container: unknown command {argv[0]!r}\nSee 'cais container --help'.\n"
            )
            return 125
        return handler(ctx, f"cais container {argv[0]}", argv[1:])
    return _HANDLERS[command](ctx, f"cais {command}", argv)


def _each(
    ctx: Context, names: list[str], action: Callable[[str], object], *, echo: bool = True
) -> int:
    failed = False
    for name in names:
        try:
            action(name)
            if echo:
                ctx.out.write(f"{name}\n")
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    return 1 if failed else 0


def _ps(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "List containers", f"{prog} [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-f", "--filter", action="append", help="Filter output based on conditions")
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    args = p.parse_args(argv)
    from cais.cli.container_views import ps_row
    from cais.cli.ports import ports_text

    engine = ctx.engine
    service = engine.containers
    filters = _filters(args.filter)
    containers = [service.refresh(c) for c in engine.container_store.all()]
    if args.latest:
        args.last = 1
    if args.last >= 0:
        containers = containers[: args.last]
    elif not args.all and not any(k == "status" for k, _ in filters):
        containers = [
            c for c in containers if c.state.status in ("running", "paused", "restarting")
        ]
    containers = [c for c in containers if _matches(c, filters)]
    if args.quiet:
        for c in containers:
            ctx.out.write((c.id if args.no_trunc else c.short_id) + "\n")
        return 0
    rows = [ps_row(c, no_trunc=args.no_trunc, ports=ports_text(engine, c)) for c in containers]
    headers = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
    ]
    if args.size or (args.format and "{{.Size}}" in args.format.replace(" ", "")):
        from cais.cli.container_views import size_text

        for row, c in zip(rows, containers, strict=True):
            row["Size"] = size_text(engine, c)
        if args.size:
            headers.append(("Size", "SIZE"))
    if print_formatted(ctx.out, args.format, rows, headers):
        return 0
    table(ctx.out, [h for _, h in headers], [[str(r[k]) for k, _ in headers] for r in rows])
    return 0


def _filters(values: list[str] | None) -> list[tuple[str, str]]:
    from cais.errors import InvalidArgumentError

    out = []
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq:
            raise InvalidArgumentError(f"bad format of filter (expected name=value): {value}")
        out.append((key.lower(), val))
    return out


def _matches(c: object, filters: list[tuple[str, str]]) -> bool:
    from cais.runtime.model import Container

    assert isinstance(c, Container)
    for key, value in filters:
        if key == "status" and c.state.status != value:
            return False
        if key == "name" and value not in c.name:
            return False
        if key == "id" and not c.id.startswith(value):
            return False
        if key == "label":
            name, eq, want = value.partition("=")
            if name not in c.config.labels or (eq and c.config.labels[name] != want):
                return False
        if key == "exited" and (c.state.status != "exited" or str(c.state.exit_code) != value):
            return False
        if (
            key == "ancestor"
            and value not in (c.config.image, c.config.image_id)
            and not c.config.image_id.removeprefix("sha256:").startswith(value)
        ):
            return False
        if key == "health" and (c.state.health is None or c.state.health.status != value):
            return False
        if key not in ("status", "name", "id", "label", "exited", "ancestor", "health"):
            raise CaisError(f"invalid filter '{key}'")
    return True


def _start(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Start one or more stopped containers", f"{prog} [OPTIONS] CONTAINER...")
    p.add_argument("containers", nargs="+")
    p.add_argument(
        "-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals"
    )
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    p.add_argument(
        "--detach-keys",
        default=None,
        help="Override the key sequence for detaching a container (default ctrl-p,ctrl-q)",
    )
    args = p.parse_args(argv)
    service = ctx.engine.containers
    if args.attach:
        from cais.runtime.attach import parse_detach_keys, run_attached

        keys = parse_detach_keys(args.detach_keys)
        container = service.store.resolve(args.containers[0])
        final = run_attached(service, container, stdin=args.interactive, detach_keys=keys)
        return 0 if final is None else final.state.exit_code
    return _each(ctx, args.containers, service.start)


def _stop(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Stop one or more running containers", f"{prog} [OPTIONS] CONTAINER...")
    p.add_argument("containers", nargs="+")
    p.add_argument(
        "-t",
        "--time",
        "--timeout",
        type=int,
        dest="time",
        help="Seconds to wait before killing the container",
    )
    args = p.parse_args(argv)
    service = ctx.engine.containers
    return _each(ctx, args.containers, lambda n: service.stop(n, timeout=args.time))


def _restart(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Restart one or more containers", f"{prog} [OPTIONS] CONTAINER...")
    p.add_argument("containers", nargs="+")
    p.add_argument(
        "-t",
        "--time",
        "--timeout",
        type=int,
        dest="time",
        help="Seconds to wait before killing the container",
    )
    args = p.parse_args(argv)
    service = ctx.engine.containers
    return _each(ctx, args.containers, lambda n: service.restart(n, timeout=args.time))


def _kill(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Kill one or more running containers", f"{prog} [OPTIONS] CONTAINER...")
    p.add_argument("containers", nargs="+")
    p.add_argument("-s", "--signal", default="KILL", help="Signal to send to the container")
    args = p.parse_args(argv)
    from cais.runtime.flags import parse_signal

    sig = parse_signal(args.signal)
    service = ctx.engine.containers
    return _each(ctx, args.containers, lambda n: service.kill(n, sig))


def _rm(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove one or more containers", f"{prog} [OPTIONS] CONTAINER...")
    p.add_argument("containers", nargs="+")
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="Force the removal of a running container (uses SIGKILL)",
    )
    p.add_argument(
        "-v",
        "--volumes",
        action="store_true",
        help="Remove anonymous volumes associated with the container",
    )
    args = p.parse_args(argv)
    service = ctx.engine.containers
    return _each(
        ctx, args.containers, lambda n: service.remove(n, force=args.force, volumes=args.volumes)
    )


def _prune(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove all stopped containers", f"{prog} [OPTIONS]")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv)
    if not args.force:
        ctx.out.write(
            "WARNING! This will remove all stopped containers.\n"
            "Are you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    service = ctx.engine.containers
    removed = []
    for stored in ctx.engine.container_store.all():
        c = service.refresh(stored)
        if c.state.status in ("exited", "created", "dead"):
            service.remove(c.id)
            removed.append(c.id)
    if removed:
        ctx.out.write("Deleted Containers:\n" + "".join(f"{cid}\n" for cid in removed) + "\n")
    ctx.out.write("Total reclaimed space: 0B\n")
    return 0


def _logs(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Fetch the logs of a container", f"{prog} [OPTIONS] CONTAINER")
    p.add_argument("container")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("-n", "--tail", default="all", help="Number of lines to show from the end")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--since", help="Show logs since timestamp or relative (e.g. 42m)")
    p.add_argument("--until", help="Show logs before a timestamp or relative")
    p.add_argument("--details", action="store_true", help="Accepted for compatibility")
    args = p.parse_args(argv)
    from cais.errors import InvalidArgumentError
    from cais.runtime import logs

    service = ctx.engine.containers
    container = service.refresh(service.store.resolve(args.container))
    path = service.log_path(container.id)
    tail = None
    if args.tail != "all":
        if not args.tail.lstrip("-").isdigit():
            raise InvalidArgumentError(f'invalid value for "tail": {args.tail}')
        tail = max(int(args.tail), 0) if int(args.tail) >= 0 else None
    since = logs.parse_since(args.since) if args.since else None
    until = logs.parse_since(args.until) if args.until else None
    start = logs.size(path)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def emit(line: logs.LogLine) -> None:
        target = err if line.stream == "stderr" else out
        prefix = (line.time + " ").encode() if args.timestamps else b""
        target.write(prefix + line.text + (b"" if line.partial else b"\n"))

    for line in logs.read(path, tail=tail, since=since, until=until):
        emit(line)
    out.flush()
    err.flush()
    if args.follow:

        def done() -> bool:
            try:
                return service.refresh(service.store.get(container.id)).state.status not in (
                    "running",
                    "paused",
                    "restarting",
                )
            except CaisError:
                return True

        for line in logs.follow(path, start=start, done=done):
            emit(line)
            out.flush()
            err.flush()
    return 0


def _inspect(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Display detailed information on one or more containers",
        f"{prog} [OPTIONS] CONTAINER [CONTAINER...]",
    )
    p.add_argument("containers", nargs="+")
    p.add_argument("-f", "--format", help="Format the output using a Go-like template")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    args = p.parse_args(argv)
    from cais.cli.container_views import inspect_document

    docs, failed = [], False
    for name in args.containers:
        try:
            c = ctx.engine.containers.refresh(ctx.engine.container_store.resolve(name))
            doc = inspect_document(ctx.engine, c)
            if args.size:
                from cais.cli.container_views import sizes

                doc["SizeRw"], doc["SizeRootFs"] = sizes(ctx.engine, c)
            docs.append(doc)
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    if args.format:
        for doc in docs:
            ctx.out.write(render_template(args.format, doc) + "\n")
    else:
        print_json(ctx.out, docs)
    return 1 if failed else 0


def _wait(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Block until one or more containers stop, then print their exit codes",
        f"{prog} CONTAINER [CONTAINER...]",
    )
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    service = ctx.engine.containers
    failed = False
    for name in args.containers:
        try:
            c = service.wait(name)
            ctx.out.write(f"{c.state.exit_code}\n")
            ctx.out.flush()
        except CaisError as exc:
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    return 1 if failed else 0


def _pause(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Pause all processes within one or more containers",
        f"{prog} CONTAINER [CONTAINER...]",
    )
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    return _each(ctx, args.containers, ctx.engine.containers.pause)


def _unpause(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Unpause all processes within one or more containers",
        f"{prog} CONTAINER [CONTAINER...]",
    )
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    return _each(ctx, args.containers, ctx.engine.containers.unpause)


def _rename(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Rename a container", f"{prog} CONTAINER NEW_NAME")
    p.add_argument("container")
    p.add_argument("name")
    args = p.parse_args(argv)
    from cais.runtime.flags import check_container_name

    ctx.engine.containers.rename(args.container, check_container_name(args.name))
    return 0


def _attach(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Attach local standard input, output, and error streams to a running container",
        f"{prog} [OPTIONS] CONTAINER",
    )
    p.add_argument("container")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", help="Proxy all received signals")
    p.add_argument(
        "--detach-keys",
        default=None,
        help="Override the key sequence for detaching a container (default ctrl-p,ctrl-q)",
    )
    args = p.parse_args(argv)
    from cais.runtime.attach import attach, parse_detach_keys

    service = ctx.engine.containers
    container = service.refresh(service.store.resolve(args.container))
    if container.state.status not in ("running", "paused"):
        raise CaisError("You cannot attach to a stopped container, start it first")
    keys = parse_detach_keys(args.detach_keys)
    final = attach(
        service,
        container,
        stdin=container.config.stdin_open and not args.no_stdin,
        sig_proxy=args.sig_proxy.lower() != "false",
        detach_keys=keys,
    )
    return 0 if final is None else final.state.exit_code


def _exec(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Execute a command in a running container",
        f"{prog} [OPTIONS] CONTAINER COMMAND [ARG...]",
    )
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode")
    p.add_argument("-e", "--env", action="append", help="Set environment variables")
    p.add_argument("--env-file", action="append", help="Read in a file of environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", default="", help="Username or UID")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("--privileged", action="store_true", help="Accepted for compatibility")
    args = p.parse_args(argv)
    from cais.errors import InvalidArgumentError
    from cais.runtime.exec import exec_in
    from cais.runtime.flags import parse_env

    if not args.command:
        raise InvalidArgumentError(f"{prog} requires at least 2 arguments")

    return exec_in(
        ctx.engine.containers,
        args.container,
        tuple(args.command),
        env=tuple(parse_env(args.env, args.env_file)),
        user=args.user,
        cwd=args.workdir,
        tty=args.tty,
        stdin=args.interactive,
        detach=args.detach,
    )


_HANDLERS: dict[str, Callable[[Context, str, list[str]], int]] = {
    "ps": _ps,
    "start": _start,
    "stop": _stop,
    "restart": _restart,
    "kill": _kill,
    "rm": _rm,
    "logs": _logs,
    "inspect": _inspect,
    "wait": _wait,
    "pause": _pause,
    "unpause": _unpause,
    "rename": _rename,
    "attach": _attach,
    "exec": _exec,
    "prune": _prune,
}
