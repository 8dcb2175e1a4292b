"""``cais registry serve`` and ``cais registry gc``: run or maintain an OCI registry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cais.cli.context import Context, parser
from cais.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cais.registry.auth import Authenticator

_HELP = """Usage:  cais registry COMMAND

Run or maintain an OCI registry

Commands:
  serve       Serve the OCI Distribution API
  gc          Delete blobs no manifest references
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        ctx.out.write(_HELP)
        return 0
    sub, rest = argv[0], argv[1:]
    if sub == "serve":
        return _serve(ctx, rest)
    if sub == "gc":
        return _gc(ctx, rest)
    ctx.err.write(f"cais registry: unknown command {sub!r}\nSee 'cais registry --help'.\n")
    return 125


def _default_storage(ctx: Context) -> str:
    return f"fs:{ctx.settings.root / 'registry'}"


def _parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgumentError(f"invalid --addr {addr!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def _make_auth(ctx: Context, spec: str, acl: str | None, token_key: str | None) -> Authenticator:
    from pathlib import Path

    from cais.registry.auth import BasicAuth, Htpasswd, NoAuth, TokenAuth
    from cais.registry.scopes import AccessPolicy, AclPolicy, AllowAll

    policy: AccessPolicy = AclPolicy.load(Path(acl)) if acl else AllowAll()
    kind, _, arg = spec.partition(":")
    if kind == "none" and not arg:
        return NoAuth()
    if kind == "htpasswd" and arg:
        return BasicAuth(Htpasswd(Path(arg)), policy=policy)
    if kind == "token":
        users = Htpasswd(Path(arg) if arg else ctx.settings.root / "registry.htpasswd")
        secret = Path(token_key).read_bytes().strip() if token_key else None
        return TokenAuth(users, policy=policy, secret=secret)
    raise InvalidArgumentError(
        f"invalid --auth {spec!r}: expected none, htpasswd:/path or token[:/path/htpasswd]"
    )


def _serve(ctx: Context, argv: list[str]) -> int:
    p = parser("cais registry serve", "Serve the OCI Distribution API")
    p.add_argument("--addr", default="127.0.0.1:5000", help="HOST:PORT (port 0: any free)")
    p.add_argument("--storage", help="fs:/path or memory (default fs:<root>/registry)")
    p.add_argument("--auth", default="none", help="none, htpasswd:/path or token[:/path]")
    p.add_argument("--acl", help="JSON access rules per user (default: users may do all)")
    p.add_argument("--token-key", help="file with the HMAC secret for tokens")
    p.add_argument("--no-delete", action="store_true", help="refuse blob and manifest deletes")
    args = p.parse_args(argv)
    host, port = _parse_addr(args.addr)
    from cais.registry import Registry, open_driver

    registry = Registry(
        open_driver(args.storage or _default_storage(ctx)), allow_delete=not args.no_delete
    )
    auth = _make_auth(ctx, args.auth, args.acl, args.token_key)
    from cais.registry.server import serve

    serve(registry, auth=auth, host=host, port=port, announce=ctx.out)
    return 0


def _gc(ctx: Context, argv: list[str]) -> int:
    p = parser("cais registry gc", "Delete blobs no manifest references")
    p.add_argument("--storage", help="fs:/path (default fs:<root>/registry)")
    p.add_argument("--dry-run", action="store_true", help="only report what would go")
    p.add_argument(
        "--grace", type=float, default=3600.0, help="keep blobs written in the last N seconds"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args(argv)
    from cais.registry import Registry, open_driver
    from cais.registry.gc import collect_garbage

    registry = Registry(open_driver(args.storage or _default_storage(ctx)))
    report = collect_garbage(registry, dry_run=args.dry_run, grace=args.grace)
    if args.format == "json":
        ctx.out.write(
            json.dumps(
                {
                    "Manifests": report.manifests,
                    "BlobsKept": report.blobs_kept,
                    "BlobsDeleted": list(report.blobs_deleted),
                    "BytesFreed": report.bytes_freed,
                    "UploadsDeleted": report.uploads_deleted,
                    "DryRun": report.dry_run,
                }
            )
            + "\n"
        )
        return 0
    verb = "would delete" if report.dry_run else "deleted"
    for digest in report.blobs_deleted:
        ctx.out.write(f"{verb} {digest}\n")
    ctx.out.write(
        f"{report.manifests} manifests, {report.blobs_kept} blobs kept, "
        f"{len(report.blobs_deleted)} {verb} ({report.bytes_freed} bytes), "
        f"{report.uploads_deleted} abandoned uploads removed\n"
    )
    return 0
