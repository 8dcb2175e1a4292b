"""``cais network create|ls|inspect|rm|prune|connect|disconnect``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cais.cli.context import Context, parser
from cais.cli.output import print_formatted, print_json, render_template, table
from cais.errors import CaisError

if TYPE_CHECKING:
    from cais.network.model import Network

_HELP = """Usage:  cais network COMMAND

Manage networks

Commands:
  connect     Connect a container to a network
  create      Create a network
  disconnect  Disconnect a container from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks
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
        "connect": _connect,
        "disconnect": _disconnect,
    }
    if sub not in handlers:
        ctx.err.write(f"cais network: unknown command {sub!r}\nSee 'cais network --help'.\n")
        return 125
    return handlers[sub](ctx, f"cais network {sub}", rest)


# the modes ``--network host|none`` as Docker lists them: networks nobody creates or removes
PREDEFINED_DRIVERS = {"host": "host", "none": "null"}


def predefined(ctx: Context, name: str) -> Network:
    """``host`` or ``none`` as a network value (ID stable per cais root, as Docker's per daemon)."""
    import hashlib

    from cais.network.model import Network

    bridge = ctx.engine.networks.default()
    seed = f"{ctx.settings.root}/{name}".encode()
    return Network(
        id=hashlib.sha256(seed).hexdigest(),
        name=name,
        subnet="",
        gateway="",
        bridge="",
        created=bridge.created,
        driver=PREDEFINED_DRIVERS[name],
    )


def _all_networks(ctx: Context) -> list[Network]:
    engine = ctx.engine
    engine.networks.default()
    networks = [*engine.networks.store.all(), *(predefined(ctx, n) for n in PREDEFINED_DRIVERS)]
    return sorted(networks, key=lambda n: n.name)  # Docker lists them by name


def resolve_network(ctx: Context, name: str) -> Network:
    for candidate in PREDEFINED_DRIVERS:
        network = predefined(ctx, candidate)
        if name == candidate or (len(name) >= 3 and network.id.startswith(name)):
            return network
    return ctx.engine.networks.resolve(name)


def document(ctx: Context, network: Network) -> dict[str, Any]:
    engine = ctx.engine
    builtin = network.name in PREDEFINED_DRIVERS
    containers: dict[str, dict[str, str]] = {}
    if builtin:  # ``host``/``none``: the containers in that mode, without addresses
        for c in engine.container_store.all():
            if c.config.network == network.name:
                containers[c.id] = {
                    "Name": c.name,
                    "EndpointID": "",
                    "MacAddress": "",
                    "IPv4Address": "",
                }
    for endpoint in [] if builtin else engine.networks.store.endpoints(network=network.name):
        found = engine.container_store.find(endpoint.container_id)
        if found is None:
            continue
        containers[found.id] = {
            "Name": found.name,
            "EndpointID": "",
            "MacAddress": endpoint.mac,
            "IPv4Address": f"{endpoint.ip}/{endpoint.prefix}",
            "IPv6Address": "",
        }
    doc: dict[str, Any] = {
        "Name": network.name,
        "Id": network.id,
        "Created": datetime.fromtimestamp(network.created, UTC).isoformat(),
        "Scope": "local",
        "Driver": network.driver,
        "EnableIPv6": False,
        "IPAM": {
            "Driver": "default",
            "Options": None if builtin else {},
            "Config": [] if builtin else [{"Subnet": network.subnet, "Gateway": network.gateway}],
        },
        "Internal": network.internal,
        "Attachable": False,
        "Ingress": False,
        "Containers": containers,
        "Options": {} if builtin else {"com.docker.network.bridge.name": network.bridge},
        "Labels": dict(network.labels),
    }
    if not builtin:
        doc["CNIConfigFile"] = "generated at attach time (bridge, portmap, firewall)"
    return doc


def _labels(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _create(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Create a network", f"{prog} [OPTIONS] NETWORK")
    p.add_argument("name")
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    p.add_argument("--subnet", help="Subnet in CIDR format that represents a network segment")
    p.add_argument("--gateway", help="IPv4 Gateway for the master subnet")
    p.add_argument(
        "--internal", action="store_true", help="Restrict external access to the network"
    )
    p.add_argument("--label", action="append", help="Set metadata on a network")
    args = p.parse_args(argv)
    network = ctx.engine.networks.create(
        args.name,
        subnet=args.subnet,
        gateway=args.gateway,
        internal=args.internal,
        labels=_labels(args.label),
        driver=args.driver,
    )
    ctx.out.write(network.id + "\n")
    return 0


def _ls(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "List networks", f"{prog} [OPTIONS]")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        help="Provide filter values (name, label, id, driver, type=custom|builtin)",
    )
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    args = p.parse_args(argv)
    networks = _all_networks(ctx)
    builtin = ("bridge", *PREDEFINED_DRIVERS)
    for f in args.filter or []:
        key, _, value = f.partition("=")
        if key == "name":
            networks = [n for n in networks if value in n.name]
        elif key == "id":
            networks = [n for n in networks if n.id.startswith(value)]
        elif key == "driver":
            networks = [n for n in networks if n.driver == value]
        elif key == "label":
            k, eq, v = value.partition("=")
            networks = [n for n in networks if k in n.labels and (not eq or n.labels[k] == v)]
        elif key == "type" and value in ("custom", "builtin"):
            networks = [n for n in networks if (n.name in builtin) == (value == "builtin")]
        else:
            raise CaisError(f"invalid filter '{key}'")
    rows = [
        {
            "ID": n.id if args.no_trunc else n.id[:12],
            "Name": n.name,
            "Driver": n.driver,
            "Scope": "local",
            "Internal": str(n.internal).lower(),
            "Labels": ",".join(f"{k}={v}" for k, v in n.labels.items()),
        }
        for n in networks
    ]
    if args.quiet:
        for row in rows:
            ctx.out.write(row["ID"] + "\n")
        return 0
    headers = [("ID", "NETWORK ID"), ("Name", "NAME"), ("Driver", "DRIVER"), ("Scope", "SCOPE")]
    if print_formatted(ctx.out, args.format, rows, headers):
        return 0
    table(ctx.out, [h for _, h in headers], [[r[k] for k, _ in headers] for r in rows])
    return 0


def _inspect(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(
        prog,
        "Display detailed information on one or more networks",
        f"{prog} [OPTIONS] NETWORK [NETWORK...]",
    )
    p.add_argument("networks", nargs="+")
    p.add_argument("-f", "--format", help="Format the output using a Go-like template")
    args = p.parse_args(argv)
    docs, failed = [], False
    for name in args.networks:
        try:
            docs.append(document(ctx, resolve_network(ctx, name)))
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
    p = parser(prog, "Remove one or more networks", f"{prog} NETWORK [NETWORK...]")
    p.add_argument("networks", nargs="+")
    p.add_argument(
        "-f", "--force", action="store_true", help="Do not error if the network does not exist"
    )
    args = p.parse_args(argv)
    failed = False
    for name in args.networks:
        try:
            if name in ("bridge", "host", "none"):
                raise CaisError(f"{name} is a pre-defined network and cannot be removed")
            ctx.engine.networks.remove(name)
            ctx.out.write(name + "\n")
        except CaisError as exc:
            if args.force and "not found" in str(exc):
                continue
            ctx.err.write(f"Error: {exc}\n")
            failed = True
    return 1 if failed else 0


def _prune(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Remove all unused networks", f"{prog} [OPTIONS]")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv)
    if not args.force:
        ctx.out.write(
            "WARNING! This will remove all custom networks not used by at least one "
            "container.\nAre you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = ctx.engine.networks.prune()
    if removed:
        ctx.out.write("Deleted Networks:\n" + "".join(f"{n}\n" for n in removed))
    return 0


def _connect(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Connect a container to a network", f"{prog} [OPTIONS] NETWORK CONTAINER")
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("--alias", action="append", help="Add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    args = p.parse_args(argv)
    engine = ctx.engine
    container = engine.containers.refresh(engine.container_store.resolve(args.container))
    with engine.containers.lock(container.id):
        engine.networks.connect(
            container, args.network, aliases=tuple(args.alias or ()), ip=args.ip
        )
    return 0


def _disconnect(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Disconnect a container from a network", f"{prog} [OPTIONS] NETWORK CONTAINER")
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="Force the container to disconnect from a network",
    )
    args = p.parse_args(argv)
    engine = ctx.engine
    container = engine.containers.refresh(engine.container_store.resolve(args.container))
    with engine.containers.lock(container.id):
        engine.networks.disconnect(container, args.network)
    return 0
