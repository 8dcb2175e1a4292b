"""``cais ecs``: what the ECS control plane keeps besides its API — join tokens and the
secrets that ``repositoryCredentials`` name. Works on the cais root's database, with or
without a running ``cais up``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from cais.cli.context import Context, parser
from cais.cli.output import print_json
from cais.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from cais.ecs import AgentGateway, Scope, SqliteEcsStore

_HELP = """Usage:  cais ecs COMMAND

Manage what lets machines join ECS clusters, and registry secrets for tasks

Commands:
  create-join-token   Create a token for 'cais agent --join URL --token TOKEN' (shown once)
  list-join-tokens    List join tokens (their IDs; tokens themselves are not kept)
  delete-join-token   Delete a join token: machines cannot join with it any more
  local-join-token    Print the token of cais up's own agent
  create-secret       Store registry credentials for repositoryCredentials
  list-secrets        List stored secrets (names and ARNs)
  delete-secret       Delete a secret
"""

DEFAULT_REGION = "us-east-1"


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        ctx.out.write(_HELP)
        return 0
    sub, rest = argv[0], argv[1:]
    handlers = {
        "create-join-token": _create_token,
        "list-join-tokens": _list_tokens,
        "delete-join-token": _delete_token,
        "local-join-token": _local_token,
        "create-secret": _create_secret,
        "list-secrets": _list_secrets,
        "delete-secret": _delete_secret,
    }
    handler = handlers.get(sub)
    if handler is None:
        ctx.err.write(f"cais ecs: unknown command {sub!r}\nSee 'cais ecs --help'.\n")
        return 125
    return handler(ctx, rest)


def _store(ctx: Context) -> SqliteEcsStore:
    from cais.ecs import SqliteEcsStore

    return SqliteEcsStore(ctx.engine.db)


def _gateway(ctx: Context) -> AgentGateway:
    from cais.ecs import AgentGateway, Ecs, SpecBuilder

    store = _store(ctx)
    return AgentGateway(Ecs(store), SpecBuilder(store))


def _scope(account: str, region: str) -> Scope:
    from cais.ecs import Scope

    if len(account) != 12 or not account.isdigit():
        raise InvalidArgumentError(f"invalid account id {account!r}: 12 digits expected")
    return Scope(account, region)


def _scope_options(p: argparse.ArgumentParser) -> None:
    from cais.aws.credentials import DEFAULT_ACCOUNT_ID

    add = p.add_argument
    add("--account-id", default=DEFAULT_ACCOUNT_ID, help="account (000000000000)")
    add("--region", default=DEFAULT_REGION, help=f"region ({DEFAULT_REGION})")


def _create_token(ctx: Context, argv: list[str]) -> int:
    from cais.cli.up import duration

    p = parser("cais ecs create-join-token", "Create a join token for agents")
    p.add_argument("--cluster", default="", help="only this cluster (default: any cluster)")
    p.add_argument("--description", default="", help="what the token is for")
    p.add_argument("--expires", type=duration, metavar="DURATION", help="e.g. 24h (never)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    _scope_options(p)
    args = p.parse_args(argv)
    secret, token = _gateway(ctx).create_join_token(
        _scope(args.account_id, args.region),
        cluster=args.cluster,
        description=args.description,
        ttl=args.expires,
    )
    if args.format == "json":
        print_json(ctx.out, {"Id": token.id, "Token": secret, "Cluster": token.cluster or None})
    else:
        ctx.out.write(secret + "\n")
    return 0


def _list_tokens(ctx: Context, argv: list[str]) -> int:
    p = parser("cais ecs list-join-tokens", "List join tokens")
    p.parse_args(argv)
    print_json(
        ctx.out,
        {
            "JoinTokens": [
                {
                    "Id": t.id,
                    "Account": t.scope.account,
                    "Region": t.scope.region,
                    "Cluster": t.cluster or None,
                    "Description": t.description,
                    "CreatedAt": t.created_at,
                    "ExpiresAt": t.expires_at,
                }
                for t in _store(ctx).join_tokens()
            ]
        },
    )
    return 0


def _delete_token(ctx: Context, argv: list[str]) -> int:
    p = parser("cais ecs delete-join-token", "Delete a join token")
    p.add_argument("token_id", metavar="ID")
    args = p.parse_args(argv)
    if not _store(ctx).delete_join_token(args.token_id):
        raise NotFoundError(f"no join token {args.token_id!r}")
    return 0


def _local_token(ctx: Context, argv: list[str]) -> int:
    from cais.aws.credentials import DEFAULT_ACCOUNT_ID
    from cais.ecs import Scope

    p = parser("cais ecs local-join-token", "Print the join token of cais up's own agent")
    p.parse_args(argv)
    ctx.out.write(_gateway(ctx).local_token(Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION)) + "\n")
    return 0


def _create_secret(ctx: Context, argv: list[str]) -> int:
    import time

    p = parser("cais ecs create-secret", "Store registry credentials (username and password)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--username", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--password", help="the password (prefer --password-stdin)")
    _scope_options(p)
    args = p.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not password:
        raise InvalidArgumentError("a password is required (--password-stdin or --password)")
    scope = _scope(args.account_id, args.region)
    value = json.dumps({"username": args.username, "password": password})
    _store(ctx).put_secret(scope, args.name, value, now=time.time())
    print_json(ctx.out, {"Name": args.name, "ARN": _secret_arn(scope, args.name)})
    return 0


def _list_secrets(ctx: Context, argv: list[str]) -> int:
    p = parser("cais ecs list-secrets", "List stored secrets")
    _scope_options(p)
    args = p.parse_args(argv)
    scope = _scope(args.account_id, args.region)
    names = _store(ctx).secret_names(scope)
    print_json(ctx.out, {"Secrets": [{"Name": n, "ARN": _secret_arn(scope, n)} for n in names]})
    return 0


def _delete_secret(ctx: Context, argv: list[str]) -> int:
    p = parser("cais ecs delete-secret", "Delete a secret")
    p.add_argument("name", metavar="NAME")
    _scope_options(p)
    args = p.parse_args(argv)
    if not _store(ctx).delete_secret(_scope(args.account_id, args.region), args.name):
        raise NotFoundError(f"no secret {args.name!r}")
    return 0


def _secret_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:secretsmanager:{scope.region}:{scope.account}:secret:{name}"
