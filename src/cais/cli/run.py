"""``cais run`` and ``cais create``: Docker's flags, turned into RunOptions."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cais.cli.context import Context, parser
from cais.errors import CaisError, InvalidArgumentError

if TYPE_CHECKING:
    from cais.images.store import Image


def add_run_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("image")
    a("command", nargs=argparse.REMAINDER)
    a("--name", help="Assign a name to the container")
    a("-e", "--env", action="append", help="Set environment variables")
    a("--env-file", action="append", help="Read in a file of environment variables")
    a("-w", "--workdir", default="", help="Working directory inside the container")
    a("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    a("--entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    a("-h", "--hostname", default="", help="Container host name")
    a("--help", action="help", help="Print usage")
    a("-v", "--volume", action="append", help="Bind mount a volume (HOST:CTR[:ro], NAME:CTR)")
    a("--mount", action="append", help="Attach a filesystem mount to the container")
    a("--tmpfs", action="append", help="Mount a tmpfs directory")
    a("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    a("-m", "--memory", help="Memory limit")
    a("--memory-swap", help="Swap limit equal to memory plus swap: '-1' for unlimited")
    a("--memory-reservation", help="Memory soft limit")
    a("--cpus", help="Number of CPUs")
    a("--cpu-shares", "-c", type=int, help="CPU shares (relative weight)")
    a("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--pids-limit", type=int, help="Tune container pids limit (-1 for unlimited)")
    a("--restart", default="no", help="Restart policy to apply when a container exits")
    a("--health-cmd", help="Command to run to check health")
    a("--health-interval", help="Time between running the check (ms|s|m|h)")
    a("--health-timeout", help="Maximum time to allow one check to run (ms|s|m|h)")
    a("--health-retries", type=int, help="Consecutive failures needed to report unhealthy")
    a("--health-start-period", help="Start period for the container to initialize")
    a("--no-healthcheck", action="store_true", help="Disable any container-specified HEALTHCHECK")
    a("--stop-signal", default="", help="Signal to stop the container")
    a("--stop-timeout", type=int, help="Timeout (in seconds) to stop a container")
    a(
        "--init",
        action="store_true",
        help="Run an init inside the container that forwards signals and reaps processes",
    )
    a("-l", "--label", action="append", help="Set meta data on a container")
    a("--cap-add", action="append", help="Add Linux capabilities")
    a("--cap-drop", action="append", help="Drop Linux capabilities")
    a("--privileged", action="store_true", help="Give extended privileges to this container")
    a("--security-opt", action="append", help="Security Options")
    a("--network", "--net", default=None, help="Connect a container to a network")
    a("--network-alias", action="append", help="Add network-scoped alias for the container")
    a("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    a("--cgroup-parent", default="", help="Optional parent cgroup for the container")
    a("--dns", action="append", help="Set custom DNS servers")
    a("--dns-search", action="append", help="Set custom DNS search domains")
    a("--add-host", action="append", help="Add a custom host-to-IP mapping (host:ip)")
    a("-p", "--publish", action="append", help="Publish a container's port(s) to the host")
    a("-P", "--publish-all", action="store_true", help="Publish all exposed ports to random ports")
    a("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    a("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    a("--runtime", default=None, help="Runtime to use for this container (crun or runc)")
    a("--log-opt", action="append", help="Log driver options (max-size=SIZE)")
    a("--platform", help="Accepted for compatibility")
    a(
        "--pull",
        default="missing",
        choices=["always", "missing", "never"],
        help="Pull image before running",
    )
    a("-q", "--quiet", action="store_true", help="Suppress the pull output")


def options_from(ctx: Context, args: argparse.Namespace) -> object:
    from cais.oci.runtime_spec import Resources
    from cais.runtime import flags
    from cais.runtime.configure import RunOptions
    from cais.runtime.model import HealthCheck

    memory = flags.parse_memory(args.memory) if args.memory else None
    swap = None
    if args.memory_swap:
        swap = (
            -1 if args.memory_swap == "-1" else flags.parse_bytes(args.memory_swap, "--memory-swap")
        )
    quota = period = None
    if args.cpus:
        quota, period = flags.parse_cpus(args.cpus) or (None, None)
    if args.pids_limit is not None and args.pids_limit == 0:
        raise InvalidArgumentError("invalid --pids-limit 0: use -1 for unlimited")
    resources = Resources(
        memory=memory,
        memory_swap=swap,
        memory_reservation=flags.parse_bytes(args.memory_reservation, "--memory-reservation")
        if args.memory_reservation
        else None,
        cpu_shares=args.cpu_shares,
        cpu_quota=quota,
        cpu_period=period,
        cpuset_cpus=args.cpuset_cpus,
        pids_limit=args.pids_limit if args.pids_limit and args.pids_limit > 0 else None,
    )
    health = None
    if args.health_cmd:
        health = HealthCheck(
            test=("CMD-SHELL", args.health_cmd),
            interval=flags.parse_duration(args.health_interval, "--health-interval")
            if args.health_interval
            else 30.0,
            timeout=flags.parse_duration(args.health_timeout, "--health-timeout")
            if args.health_timeout
            else 30.0,
            start_period=flags.parse_duration(args.health_start_period, "--health-start-period")
            if args.health_start_period
            else 0.0,
            retries=args.health_retries if args.health_retries is not None else 3,
        )
    mounts = [flags.parse_volume(v) for v in args.volume or []]
    mounts += [flags.parse_mount(m) for m in args.mount or []]
    mounts += [flags.parse_tmpfs(t) for t in args.tmpfs or []]
    for m in mounts:
        if m.type == "bind":
            import os

            if not os.path.exists(m.source):
                raise InvalidArgumentError(
                    f'invalid mount config for type "bind": bind source path does not '
                    f"exist: {m.source}"
                )
    nnp, seccomp = flags.parse_security_opts(args.security_opt)
    labels = {}
    for item in args.label or []:
        key, _, value = item.partition("=")
        labels[key] = value
    log_size = 0
    for opt in args.log_opt or []:
        key, _, value = opt.partition("=")
        if key == "max-size":
            log_size = flags.parse_bytes(value, "--log-opt max-size")
        else:
            raise InvalidArgumentError(f"unknown log opt '{key}' for the k8s-file log driver")
    network = args.network or "bridge"
    publish = tuple(args.publish or ())
    if network.startswith("container:"):
        _check_shared_network(args)
    if network in ("bridge", "default", "host", "none"):
        if args.network_alias:
            raise InvalidArgumentError(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        if args.ip:
            raise InvalidArgumentError(
                "user specified IP address is supported on user defined networks only"
            )
    if network == "host" and (publish or args.publish_all):
        print(
            "WARNING: Published ports are discarded when using host network mode", file=sys.stderr
        )
        publish = ()
    if args.name:
        flags.check_container_name(args.name)
    return RunOptions(
        command=tuple(args.command),
        entrypoint=args.entrypoint,
        env=tuple(flags.parse_env(args.env, args.env_file)),
        working_dir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        labels=labels,
        tty=args.tty,
        stdin_open=args.interactive,
        stop_signal=flags.parse_signal(args.stop_signal) if args.stop_signal else "",
        stop_timeout=args.stop_timeout,
        healthcheck=health,
        no_healthcheck=args.no_healthcheck,
        restart=flags.parse_restart(args.restart),
        auto_remove=getattr(args, "rm", False),
        init=args.init,
        read_only=args.read_only,
        privileged=args.privileged,
        cap_add=flags.parse_capabilities(args.cap_add),
        cap_drop=flags.parse_capabilities(args.cap_drop),
        no_new_privileges=nnp,
        seccomp=seccomp,
        resources=resources,
        mounts=tuple(mounts),
        network=network,
        dns=tuple(args.dns or ()),
        dns_search=tuple(args.dns_search or ()),
        extra_hosts=tuple(args.add_host or ()),
        runtime=args.runtime or ctx.settings.runtime,
        publish=publish,
        publish_all=args.publish_all and network != "host",
        network_aliases=tuple(args.network_alias or ()),
        ip=args.ip,
        log_size_max=log_size,
        cgroup_parent=args.cgroup_parent,
    )


def _check_shared_network(args: argparse.Namespace) -> None:
    """``--network container:NAME`` takes that container's network, names and files: the
    options that would change them conflict (Docker's messages)."""
    conflicts = (
        (args.hostname, "hostname and the network mode"),
        (args.dns, "dns and the network mode"),
        (args.add_host, "custom host-to-IP mapping and the network mode"),
        (args.publish or args.publish_all, "port publishing and the container type network mode"),
    )
    for given, what in conflicts:
        if given:
            raise InvalidArgumentError(f"conflicting options: {what}")


def _create(ctx: Context, args: argparse.Namespace) -> object:
    from cais.runtime.configure import RunOptions, configure

    opts = options_from(ctx, args)
    assert isinstance(opts, RunOptions)
    if opts.auto_remove and opts.restart.name != "no":
        raise InvalidArgumentError("Conflicting options: --restart and --rm")
    engine = ctx.engine
    image = _image(ctx, args)
    config = configure(image, args.image, opts)
    return engine.containers.create(config, name=args.name)


def _image(ctx: Context, args: argparse.Namespace) -> Image:
    """The image to run: local, or pulled as ``--pull`` says (Docker's output on stderr)."""
    from cais.images.store import ImageNotFoundError

    if args.pull != "always":
        try:
            return ctx.engine.image_store.resolve(args.image)
        except ImageNotFoundError:
            if args.pull == "never":
                raise
    from cais.cli.distribution import pull_image
    from cais.oci.reference import ReferenceError, parse_reference

    try:
        ref = parse_reference(args.image)
    except ReferenceError:
        raise ImageNotFoundError(f"no such image: {args.image}") from None
    if args.pull != "always" and not args.quiet:
        ctx.err.write(f"Unable to find image '{ref.familiar()}' locally\n")
    return pull_image(
        ctx, str(ref), out=ctx.err, quiet=False, silent=args.quiet, platform=args.platform
    )


def main(ctx: Context, command: str, argv: list[str]) -> int:
    prog = "cais container " + command if command.startswith("container") else f"cais {command}"
    p = parser(
        prog,
        "Create and run a new container from an image"
        if command == "run"
        else "Create a new container",
        f"{prog} [OPTIONS] IMAGE [COMMAND] [ARG...]",
        add_help=False,
    )
    add_run_flags(p)
    if command == "run":
        p.add_argument(
            "-d",
            "--detach",
            action="store_true",
            help="Run container in background and print container ID",
        )
        p.add_argument(
            "--rm", action="store_true", help="Automatically remove the container when it exits"
        )
        p.add_argument(
            "--sig-proxy",
            default="true",
            help="Proxy received signals to the process (default true)",
        )
        p.add_argument(
            "--detach-keys",
            help="Override the key sequence for detaching a container (default ctrl-p,ctrl-q)",
        )
    else:
        p.add_argument(
            "--rm", action="store_true", help="Automatically remove the container when it exits"
        )
    args = p.parse_args(argv)
    from cais.runtime.attach import parse_detach_keys

    try:  # checked before anything is made
        keys = parse_detach_keys(getattr(args, "detach_keys", None))
    except CaisError as exc:
        exc.exit_code = 125
        raise
    try:
        container = _create(ctx, args)
    except CaisError as exc:
        exc.exit_code = 125 if exc.exit_code == 1 else exc.exit_code
        raise
    from cais.runtime.model import Container

    assert isinstance(container, Container)
    service = ctx.engine.containers
    if command == "create":
        ctx.out.write(container.id + "\n")
        return 0
    if args.detach:
        try:
            service.start(container.id)
        except CaisError as exc:
            _start_failed(exc)
            raise
        ctx.out.write(container.id + "\n")
        return 0
    from cais.runtime.attach import run_attached

    try:
        final = run_attached(
            service,
            container,
            stdin=args.interactive,
            sig_proxy=args.sig_proxy.lower() != "false",
            detach_keys=keys,
        )
    except CaisError as exc:
        _start_failed(exc)
        if container.config.auto_remove:
            import contextlib

            with contextlib.suppress(CaisError):
                service.remove(container.id, force=True, volumes=True)
        raise
    sys.stdout.flush()
    if final is None:
        return 0  # detached: the container runs on
    return final.state.exit_code


def _start_failed(exc: CaisError) -> None:
    """Docker's exit codes when the command cannot run: 127 not found, 126 not executable."""
    from cais.runtime.conmon import ContainerStartError

    if isinstance(exc, ContainerStartError):
        text = str(exc).lower()
        if "not found" in text or "no such file" in text:
            exc.exit_code = 127
        elif "permission denied" in text or "not executable" in text:
            exc.exit_code = 126
        else:
            exc.exit_code = 125
    elif exc.exit_code == 1:
        exc.exit_code = 125
