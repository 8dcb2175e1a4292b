"""Access keys that cais manages, in the cais root's database.

AWS checks a SigV4 signature with the secret of the key that signed it, so the secret is
kept retrievable, like AWS does; the database lives under the cais root (mode 0700).

A documented default key pair exists so that the local default works with no setup:

    AWS_ACCESS_KEY_ID=AKIACAISLOCALDEFAULT
    AWS_SECRET_ACCESS_KEY=caisLocalDefaultSecretKeyNotForProduction
    account 000000000000

It is stored the first time a database is opened for AWS keys (never again after that, so a
user who deletes it keeps it deleted).
"""

from __future__ import annotations

import secrets
import sqlite3
import string
import time
from dataclasses import dataclass
from typing import Protocol

from cais.errors import ConflictError, InvalidArgumentError, NotFoundError
from cais.state.sqlite import Database

DEFAULT_ACCESS_KEY_ID = "AKIACAISLOCALDEFAULT"
DEFAULT_SECRET_ACCESS_KEY = "caisLocalDefaultSecretKeyNotForProduction"
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_USER_NAME = "default"

ACTIVE = "Active"
INACTIVE = "Inactive"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS aws_access_keys (
        access_key_id TEXT PRIMARY KEY,
        secret_access_key TEXT NOT NULL,
        account_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS aws_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_MAX_USER_NAME = 64


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str
    status: str
    created_at: float

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class KeyLookup(Protocol):
    """What the signature check needs: the key for an access key id, or None."""

    def get(self, access_key_id: str) -> AccessKey | None: ...


class CredentialStore:
    """Access key id → secret, account, user name, status and creation time."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema("aws.credentials", _SCHEMA)

    def ensure_default(self) -> None:
        """Store the documented default key pair, once per database."""
        with self._db.transaction() as conn:
            seeded = conn.execute(
                "SELECT 1 FROM aws_meta WHERE name = 'default_key_seeded'"
            ).fetchone()
            if seeded:
                return
            conn.execute(
                "INSERT OR IGNORE INTO aws_access_keys VALUES (?, ?, ?, ?, ?, ?)",
                (
                    DEFAULT_ACCESS_KEY_ID,
                    DEFAULT_SECRET_ACCESS_KEY,
                    DEFAULT_ACCOUNT_ID,
                    DEFAULT_USER_NAME,
                    ACTIVE,
                    time.time(),
                ),
            )
            conn.execute("INSERT INTO aws_meta VALUES ('default_key_seeded', '1')")

    def get(self, access_key_id: str) -> AccessKey | None:
        row = self._db.query_one(
            "SELECT * FROM aws_access_keys WHERE access_key_id = ?", (access_key_id,)
        )
        return _key(row) if row is not None else None

    def create(
        self, *, user_name: str = DEFAULT_USER_NAME, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> AccessKey:
        """A fresh random key pair for ``user_name`` in ``account_id``."""
        if not user_name or len(user_name) > _MAX_USER_NAME:
            raise InvalidArgumentError(f"invalid user name {user_name!r}")
        if len(account_id) != 12 or not account_id.isdigit():
            raise InvalidArgumentError(f"invalid account id {account_id!r}: 12 digits expected")
        key = AccessKey(
            access_key_id="AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret_access_key="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
            account_id=account_id,
            user_name=user_name,
            status=ACTIVE,
            created_at=time.time(),
        )
        with self._db.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM aws_access_keys WHERE access_key_id = ?", (key.access_key_id,)
            ).fetchone():
                raise ConflictError("access key id collision, try again")
            conn.execute(
                "INSERT INTO aws_access_keys VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key.access_key_id,
                    key.secret_access_key,
                    key.account_id,
                    key.user_name,
                    key.status,
                    key.created_at,
                ),
            )
        return key

    def list(self, *, user_name: str | None = None) -> list[AccessKey]:
        if user_name is None:
            rows = self._db.query("SELECT * FROM aws_access_keys ORDER BY created_at")
        else:
            rows = self._db.query(
                "SELECT * FROM aws_access_keys WHERE user_name = ? ORDER BY created_at",
                (user_name,),
            )
        return [_key(row) for row in rows]

    def set_status(self, access_key_id: str, status: str) -> None:
        if status not in (ACTIVE, INACTIVE):
            raise InvalidArgumentError(f"invalid status {status!r}: Active or Inactive")
        changed = self._db.execute(
            "UPDATE aws_access_keys SET status = ? WHERE access_key_id = ?",
            (status, access_key_id),
        )
        if not changed:
            raise NotFoundError(f"no such access key: {access_key_id}")

    def delete(self, access_key_id: str) -> None:
        changed = self._db.execute(
            "DELETE FROM aws_access_keys WHERE access_key_id = ?", (access_key_id,)
        )
        if not changed:
            raise NotFoundError(f"no such access key: {access_key_id}")


def _key(row: sqlite3.Row) -> AccessKey:
    return AccessKey(
        access_key_id=row["access_key_id"],
        secret_access_key=row["secret_access_key"],
        account_id=row["account_id"],
        user_name=row["user_name"],
        status=row["status"],
        created_at=row["created_at"],
    )
