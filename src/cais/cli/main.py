"""Entry point: global options, then dispatch to the module that owns the command.

Only the module of the command being run is imported, so ``cais --help`` and ``cais run``
never pay for the registry server or the AWS layer.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

# command → (module, one-line help); the module has ``main(ctx, command, argv) -> int``
COMMANDS: dict[str, tuple[str, str]] = {
    "images": ("cais.cli.image", "List images"),
    "image": ("cais.cli.image", "Manage images"),
    "tag": ("cais.cli.image", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "rmi": ("cais.cli.image", "Remove one or more images"),
    "history": ("cais.cli.image", "Show the history of an image"),
    "save": ("cais.cli.image", "Save one or more images to a tar archive"),
    "load": ("cais.cli.image", "Load an image from a tar archive or STDIN"),
    "import": ("cais.cli.image", "Import the contents from a tarball to create an image"),
    "pull": ("cais.cli.distribution", "Download an image from a registry"),
    "push": ("cais.cli.distribution", "Upload an image to a registry"),
    "login": ("cais.cli.distribution", "Log in to a registry"),
    "logout": ("cais.cli.distribution", "Log out from a registry"),
    "build": ("cais.cli.build", "Build an image from a Dockerfile"),
    "builder": ("cais.cli.build", "Manage builds (prune the build cache)"),
    "run": ("cais.cli.run", "Create and run a new container from an image"),
    "create": ("cais.cli.run", "Create a new container"),
    "ps": ("cais.cli.container", "List containers"),
    "start": ("cais.cli.container", "Start one or more stopped containers"),
    "stop": ("cais.cli.container", "Stop one or more running containers"),
    "restart": ("cais.cli.container", "Restart one or more containers"),
    "kill": ("cais.cli.container", "Kill one or more running containers"),
    "rm": ("cais.cli.container", "Remove one or more containers"),
    "logs": ("cais.cli.container", "Fetch the logs of a container"),
    "exec": ("cais.cli.container", "Execute a command in a running container"),
    "wait": ("cais.cli.container", "Block until containers stop, then print exit codes"),
    "pause": ("cais.cli.container", "Pause all processes within one or more containers"),
    "unpause": ("cais.cli.container", "Unpause all processes within one or more containers"),
    "rename": ("cais.cli.container", "Rename a container"),
    "attach": ("cais.cli.container", "Attach to a running container"),
    "top": ("cais.cli.container_extra", "Display the running processes of a container"),
    "stats": ("cais.cli.container_extra", "Display container resource usage statistics"),
    "cp": ("cais.cli.container_extra", "Copy files between a container and the host"),
    "diff": ("cais.cli.container_extra", "Inspect changes to a container's filesystem"),
    "commit": ("cais.cli.container_extra", "Create a new image from a container's changes"),
    "port": ("cais.cli.container_extra", "List port mappings of a container"),
    "container": ("cais.cli.container", "Manage containers"),
    "volume": ("cais.cli.volume", "Manage volumes"),
    "network": ("cais.cli.network", "Manage networks"),
    "inspect": ("cais.cli.inspect", "Return low-level information on cais objects"),
    "info": ("cais.cli.system", "Display system-wide information"),
    "version": ("cais.cli.system", "Show the cais version information"),
    "system": ("cais.cli.system", "Manage cais (df, info, prune)"),
    "registry": ("cais.cli.registry", "Run or maintain an OCI registry (serve, gc)"),
    "iam": ("cais.cli.iam", "Manage access keys for the AWS-compatible APIs"),
    "up": ("cais.cli.up", "Run the platform: registry and AWS-compatible APIs on one port"),
    "ecr": ("cais.cli.ecr", "Maintain ECR repositories (run lifecycle policies now)"),
    "ecs": ("cais.cli.ecs", "ECS join tokens for agents, and registry secrets for tasks"),
    "agent": ("cais.cli.agent", "Join a cluster as a container instance (ECS agent)"),
}

_GLOBAL_WITH_VALUE = {"--root", "--runroot", "--runtime", "--log-level"}


class GlobalOptions:
    """Options given before the command (a plain class: ``--help`` must not pay for more)."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.runroot: str | None = None
        self.runtime: str | None = None
        self.log_level = "warning"


USAGE = """Usage:  cais [OPTIONS] COMMAND

A self-hosted container platform: engine, registry and ECS-compatible orchestrator

Options:
      --root string       Root of cais's state (default /var/lib/cais, env CAIS_ROOT)
      --runroot string    Root of run-time state (default /run/cais, env CAIS_RUNROOT)
      --runtime string    OCI runtime: crun or runc (default crun, env CAIS_RUNTIME)
      --log-level string  debug, info, warning or error (default warning)
  -v, --version           Print version information and quit
  -h, --help              Print this help

Commands:
"""


def _usage() -> str:
    width = max(len(c) for c in COMMANDS) + 2
    lines = [f"  {name.ljust(width)}{text}" for name, (_, text) in COMMANDS.items()]
    return (
        USAGE
        + "\n".join(lines)
        + "\n\nRun 'cais COMMAND --help' for more information on a command.\n"
    )


def _split_globals(argv: Sequence[str]) -> tuple[GlobalOptions, list[str]] | int:
    opts = GlobalOptions()
    i = 0
    args = list(argv)
    while i < len(args):
        token = args[i]
        if not token.startswith("-") or token == "-":
            break
        name, eq, value = token.partition("=")
        if name in _GLOBAL_WITH_VALUE:
            if not eq:
                if i + 1 >= len(args):
                    sys.stderr.write(f"cais: flag needs an argument: {name}\n")
                    return 125
                value = args[i + 1]
                i += 1
            setattr(opts, name[2:].replace("-", "_"), value)
        elif token in ("-h", "--help"):
            sys.stdout.write(_usage())
            return 0
        elif token in ("-v", "--version"):
            from cais import __version__

            sys.stdout.write(f"cais version {__version__}\n")
            return 0
        else:
            sys.stderr.write(f"cais: unknown flag: {token}\nSee 'cais --help'.\n")
            return 125
        i += 1
    return opts, args[i:]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = _split_globals(argv)
    if isinstance(split, int):
        return split
    opts, rest = split
    if not rest:
        sys.stdout.write(_usage())
        return 0
    command, *args = rest
    entry = COMMANDS.get(command)
    if entry is None:
        sys.stderr.write(f"cais: '{command}' is not a cais command.\nSee 'cais --help'\n")
        return 125
    from cais.cli.context import Context

    ctx = Context.create(opts.root, opts.runroot, opts.runtime, opts.log_level)
    module = importlib.import_module(entry[0])
    try:
        code: int = module.main(ctx, command, args)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        from cais.errors import CaisError

        if isinstance(exc, CaisError):
            sys.stderr.write(f"Error: {exc}\n")
            return exc.exit_code
        raise
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
