"""``cais info``, ``cais version`` and ``cais system df|info``."""

from __future__ import annotations

import json
import platform

from cais.cli.context import Context, parser
from cais.cli.output import human_size, render_template

_SYSTEM_HELP = """Usage:  cais system COMMAND

Manage cais

Commands:
  df          Show cais disk usage
  info        Display system-wide information
  forkserver  Show or stop the fork server that starts commands fast (status|stop)
  monitor     Show or stop the per-host container monitor (status|stop)
  reset       Remove every container, image, volume and network of this root
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if command == "system":
        if not argv or argv[0] in ("-h", "--help"):
            ctx.out.write(_SYSTEM_HELP)
            return 0
        sub, argv = argv[0], argv[1:]
        if sub == "df":
            from cais.cli.system_df import df

            return df(ctx, argv)
        if sub == "info":
            return _info(ctx, "cais system info", argv)
        if sub == "monitor":
            return _monitor(ctx, argv)
        if sub == "forkserver":
            return _forkserver(ctx, argv)
        if sub == "reset":
            return _reset(ctx, argv)
        ctx.err.write(f"cais system: unknown command {sub!r}\nSee 'cais system --help'.\n")
        return 125
    if command == "version":
        return _version(ctx, argv)
    return _info(ctx, "cais info", argv)


def _version(ctx: Context, argv: list[str]) -> int:
    p = parser("cais version", "Show the cais version information")
    p.add_argument("-f", "--format")
    args = p.parse_args(argv)
    from cais import __version__

    doc = {
        "Version": __version__,
        "PythonVersion": platform.python_version(),
        "Os": "linux",
        "Arch": platform.machine(),
    }
    if args.format:
        ctx.out.write(render_template(args.format, doc) + "\n")
        return 0
    ctx.out.write(
        f"cais version {__version__}\n Python: {doc['PythonVersion']}\n"
        f" OS/Arch: linux/{doc['Arch']}\n"
    )
    return 0


def info_document(ctx: Context) -> dict[str, object]:
    from cais import __version__
    from cais.runtime.host import cgroup_layout, cpu_count, memory_total, os_release, tool_version
    from cais.runtime.hostprep import previous_actions

    engine = ctx.engine
    layout = cgroup_layout()
    actions = list(previous_actions(ctx.settings.runroot))
    if (
        not actions
        and ctx.settings.runtime == "crun"
        and layout.mode == "hybrid"
        and layout.v2_controllers
    ):
        actions = [
            f"at the first container start: mount {', '.join(layout.v2_controllers)} "
            "as cgroup v1 hierarchies (crun refuses controllers left on the v2 mount)"
        ]
    runtimes = {name: tool_version(name) for name in ("crun", "runc")}
    images = engine.image_store.all()
    profile = ctx.settings.seccomp_profile
    seccomp = str(profile) if profile.exists() else "none"
    return {
        "ClientVersion": __version__,
        "Images": len(images),
        "Containers": len(engine.container_store.all()),
        "ContainersRunning": len(engine.container_store.with_status("running")),
        "Driver": "overlay",
        "DefaultRuntime": ctx.settings.runtime,
        "Runtimes": {k: {"Version": v} for k, v in runtimes.items() if v},
        "Conmon": tool_version("conmon"),
        "CgroupVersion": str(layout.version),
        "CgroupMode": layout.mode,
        "CgroupV1Controllers": list(layout.v1_controllers),
        "CgroupV2Controllers": list(layout.v2_controllers),
        "HostPreparation": actions or ["nothing needed"],
        "SeccompProfile": seccomp,
        "SecurityOptions": [f"name=seccomp,profile={profile}"] if seccomp != "none" else [],
        "KernelVersion": platform.release(),
        "OperatingSystem": os_release(),
        "Architecture": platform.machine(),
        "NCPU": cpu_count(),
        "MemTotal": memory_total(),
        "CaisRootDir": str(ctx.settings.root),
        "RunRootDir": str(ctx.settings.runroot),
        "Python": platform.python_version(),
        "ForkServer": _fork_server_state(ctx),
    }


def _fork_server_state(ctx: Context) -> str:
    import os

    from cais.cli import forkserver, launch

    if not launch.enabled(dict(os.environ)):
        return "disabled (CAIS_FORK_SERVER)"
    if not forkserver.peer_pidfd_works():
        return "unavailable (needs Linux 6.5 or later: SO_PEERPIDFD)"
    return "running" if forkserver.is_running(ctx.settings.runroot) else "starts on demand"


def _info(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Display system-wide information")
    p.add_argument("-f", "--format", help="'json' or a Go-like template")
    args = p.parse_args(argv)
    doc = info_document(ctx)
    if args.format == "json":
        ctx.out.write(json.dumps(doc) + "\n")
        return 0
    if args.format:
        ctx.out.write(render_template(args.format, doc) + "\n")
        return 0
    runtimes = doc["Runtimes"]
    assert isinstance(runtimes, dict)
    lines = [
        f"Client: cais {doc['ClientVersion']} (Python {doc['Python']})",
        "",
        "Engine:",
        f" Images: {doc['Images']}",
        f" Containers: {doc['Containers']} (running: {doc['ContainersRunning']})",
        f" Storage Driver: {doc['Driver']}",
        f" Cgroup Version: {doc['CgroupVersion']} ({doc['CgroupMode']})",
        f"  v1 controllers: {' '.join(doc['CgroupV1Controllers']) or '-'}",  # type: ignore[arg-type]
        f"  v2 controllers: {' '.join(doc['CgroupV2Controllers']) or '-'}",  # type: ignore[arg-type]
        " Runtimes: " + ", ".join(f"{k} ({v['Version']})" for k, v in runtimes.items()),
        f" Default Runtime: {doc['DefaultRuntime']}",
        " Host Preparation: " + "; ".join(doc["HostPreparation"]),  # type: ignore[arg-type]
        f" Conmon: {doc['Conmon'] or 'not installed'}",
        f" Seccomp Profile: {doc['SeccompProfile']}"
        + ("" if doc["SeccompProfile"] != "none" else f" ({ctx.settings.seccomp_profile} missing)"),
        f" Kernel Version: {doc['KernelVersion']}",
        f" Operating System: {doc['OperatingSystem']}",
        f" Architecture: {doc['Architecture']}",
        f" CPUs: {doc['NCPU']}",
        f" Total Memory: {human_size(float(doc['MemTotal']))}",  # type: ignore[arg-type]
        f" Cais Root Dir: {doc['CaisRootDir']}",
        f" Run Root Dir: {doc['RunRootDir']}",
        f" Fork Server: {doc['ForkServer']}",
    ]
    ctx.out.write("\n".join(lines) + "\n")
    return 0


def _monitor(ctx: Context, argv: list[str]) -> int:
    p = parser(
        "cais system monitor",
        "The monitor restarts containers by their policy, runs "
        "health checks and cleans up after exits; it starts on demand and ends when idle",
    )
    p.add_argument("action", choices=["status", "stop"], nargs="?", default="status")
    args = p.parse_args(argv)
    from cais.runtime import monitor

    if args.action == "stop":
        monitor.stop(ctx.settings)
    ctx.out.write(("running" if monitor.is_running(ctx.settings) else "not running") + "\n")
    return 0


def _forkserver(ctx: Context, argv: list[str]) -> int:
    p = parser(
        "cais system forkserver",
        "The fork server keeps cais loaded so that commands start fast; the cais command "
        "starts it on demand, it ends after CAIS_FORK_SERVER_IDLE seconds (600) without "
        "a command, and CAIS_FORK_SERVER=0 turns it off",
    )
    p.add_argument("action", choices=["status", "stop"], nargs="?", default="status")
    args = p.parse_args(argv)
    from cais.cli import forkserver

    if args.action == "stop":
        forkserver.stop(ctx.settings.runroot)
    running = forkserver.is_running(ctx.settings.runroot)
    ctx.out.write(("running" if running else "not running") + "\n")
    return 0


def _reset(ctx: Context, argv: list[str]) -> int:
    p = parser(
        "cais system reset",
        "Remove every container, image, volume and network of this "
        "cais root, and the host resources (bridges, firewall rules) they hold",
    )
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv)
    if not args.force:
        ctx.out.write(
            f"WARNING! This will remove everything under {ctx.settings.root}.\n"
            "Are you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        import sys

        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    from cais.system import reset

    reset(ctx.engine)
    return 0
