"""``cais agent --join URL --token TOKEN``: this machine as a container instance of a cluster."""

from __future__ import annotations

import argparse

from cais.cli.context import Context, parser
from cais.errors import InvalidArgumentError

_EPILOG = """\
The agent registers this machine (its cais root: --root / CAIS_ROOT) with the control plane
at URL, then runs the tasks it is given with the cais engine and reports their states.
It runs in the foreground; SIGTERM or SIGINT stop the agent, not its tasks: containers keep
running and the next agent on this root adopts them (same instance ID, kept in
<root>/agent/identity.json). One agent per root.
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    p = parser("cais agent", "Join a cluster as a container instance and run its tasks")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument("--join", required=True, metavar="URL", help="the control plane (cais up)")
    p.add_argument("--token", required=True, help="join token from the control plane")
    p.add_argument("--cluster", default="default", help="cluster to join (default)")
    p.add_argument(
        "--attribute",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a custom attribute for placement constraints (repeatable)",
    )
    p.add_argument("--availability-zone", default="", help="ecs.availability-zone (local)")
    p.add_argument("--instance-type", default="", help="ecs.instance-type (cais.local)")
    p.add_argument("--hostname", default="", help="the name to register (this host's)")
    p.add_argument(
        "--reserved-memory",
        type=int,
        default=None,
        metavar="MIB",
        help="memory left out of what the cluster may place (256)",
    )
    p.add_argument(
        "--image-pull-behavior",
        default="prefer-cached",
        choices=["default", "always", "once", "prefer-cached"],
        help="ECS_IMAGE_PULL_BEHAVIOR: when to pull a task's images (prefer-cached)",
    )
    p.add_argument(
        "--poll-wait", type=float, default=20.0, metavar="SECONDS", help="long-poll length (20)"
    )
    args = p.parse_args(argv)
    from cais.agent.machine import DEFAULT_MEMORY_RESERVE, parse_attribute
    from cais.agent.run import AgentOptions, run_agent

    try:
        extra = tuple(parse_attribute(a) for a in args.attribute)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    options = AgentOptions(
        cluster=args.cluster,
        token=args.token,
        attributes=extra,
        availability_zone=args.availability_zone,
        instance_type=args.instance_type,
        hostname=args.hostname,
        memory_reserve=DEFAULT_MEMORY_RESERVE
        if args.reserved_memory is None
        else args.reserved_memory,
        poll_wait=args.poll_wait,
        runtime=ctx.settings.runtime,
    )
    _logging()
    run_agent(ctx.engine, url=args.join, options=options, pull_behavior=args.image_pull_behavior)
    return 0


def _logging() -> None:
    import logging
    import sys

    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
