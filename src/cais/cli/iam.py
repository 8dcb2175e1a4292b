"""``cais iam``: the access keys the AWS-compatible APIs of ``cais up`` accept.

Output is shaped like ``aws iam``'s, so scripts that read one read the other.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cais.cli.context import Context, parser
from cais.cli.output import print_json

if TYPE_CHECKING:
    from cais.aws.credentials import AccessKey, CredentialStore

_HELP = """Usage:  cais iam COMMAND

Manage the access keys of cais's AWS-compatible APIs (SigV4)

Commands:
  create-access-key   Create an access key pair (the secret is shown only now)
  list-access-keys    List access keys
  update-access-key   Make an access key Active or Inactive
  delete-access-key   Delete an access key

The local default key pair (AKIACAISLOCALDEFAULT) exists until you delete it.
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        ctx.out.write(_HELP)
        return 0
    sub, rest = argv[0], argv[1:]
    handlers = {
        "create-access-key": _create,
        "list-access-keys": _list,
        "update-access-key": _update,
        "delete-access-key": _delete,
    }
    handler = handlers.get(sub)
    if handler is None:
        ctx.err.write(f"cais iam: unknown command {sub!r}\nSee 'cais iam --help'.\n")
        return 125
    return handler(ctx, rest)


def _store(ctx: Context) -> CredentialStore:
    from cais.aws.credentials import CredentialStore

    store = CredentialStore(ctx.engine.db)
    store.ensure_default()
    return store


def _create(ctx: Context, argv: list[str]) -> int:
    from cais.aws.credentials import DEFAULT_ACCOUNT_ID, DEFAULT_USER_NAME

    p = parser("cais iam create-access-key", "Create an access key pair")
    p.add_argument("--user", "--user-name", dest="user", default=DEFAULT_USER_NAME)
    p.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="12-digit account id")
    args = p.parse_args(argv)
    key = _store(ctx).create(user_name=args.user, account_id=args.account_id)
    meta = _metadata(key)
    created = meta.pop("CreateDate")
    access_key = {**meta, "SecretAccessKey": key.secret_access_key, "CreateDate": created}
    print_json(ctx.out, {"AccessKey": access_key})
    return 0


def _list(ctx: Context, argv: list[str]) -> int:
    p = parser("cais iam list-access-keys", "List access keys")
    p.add_argument("--user", "--user-name", dest="user")
    args = p.parse_args(argv)
    keys = _store(ctx).list(user_name=args.user)
    print_json(ctx.out, {"AccessKeyMetadata": [_metadata(k) for k in keys]})
    return 0


def _update(ctx: Context, argv: list[str]) -> int:
    p = parser("cais iam update-access-key", "Make an access key Active or Inactive")
    p.add_argument("key_id", nargs="?")
    p.add_argument("--access-key-id", dest="key_flag")
    p.add_argument("--status", required=True, choices=["Active", "Inactive"])
    args = p.parse_args(argv)
    key_id = args.key_flag or args.key_id
    if not key_id:
        p.error("an access key id is required")
    _store(ctx).set_status(key_id, args.status)
    return 0


def _delete(ctx: Context, argv: list[str]) -> int:
    p = parser("cais iam delete-access-key", "Delete an access key")
    p.add_argument("key_id", nargs="?")
    p.add_argument("--access-key-id", dest="key_flag")
    args = p.parse_args(argv)
    key_id = args.key_flag or args.key_id
    if not key_id:
        p.error("an access key id is required")
    _store(ctx).delete(key_id)
    return 0


def _metadata(key: AccessKey) -> dict[str, str]:
    created = dt.datetime.fromtimestamp(key.created_at, tz=dt.UTC)
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": created.isoformat(timespec="seconds"),
    }
