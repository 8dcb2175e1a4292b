from __future__ import annotations

from pathlib import Path

import pytest

from cais.aws.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    CredentialStore,
)
from cais.errors import InvalidArgumentError, NotFoundError
from cais.state.sqlite import Database


def test_default_key_is_stored_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "cais.db")
    store = CredentialStore(db)
    store.ensure_default()
    key = store.get(DEFAULT_ACCESS_KEY_ID)
    assert key is not None
    assert (key.secret_access_key, key.account_id, key.status) == (
        DEFAULT_SECRET_ACCESS_KEY,
        "000000000000",
        "Active",
    )
    store.delete(DEFAULT_ACCESS_KEY_ID)
    CredentialStore(Database(tmp_path / "cais.db")).ensure_default()
    assert store.get(DEFAULT_ACCESS_KEY_ID) is None, "a deleted default key must stay deleted"


def test_create_list_delete(tmp_path: Path) -> None:
    store = CredentialStore(Database(tmp_path / "cais.db"))
    a = store.create(user_name="alice")
    b = store.create(user_name="bob", account_id="111122223333")
    assert a.access_key_id.startswith("AKIA") and len(a.access_key_id) == 20
    assert len(a.secret_access_key) == 40 and a.secret_access_key != b.secret_access_key
    assert [k.access_key_id for k in store.list(user_name="bob")] == [b.access_key_id]
    assert store.get(b.access_key_id) == b
    store.delete(a.access_key_id)
    assert store.get(a.access_key_id) is None
    with pytest.raises(NotFoundError):
        store.delete(a.access_key_id)


@pytest.mark.parametrize("account", ["12345", "abcdefabcdef"])
def test_bad_account_is_refused(tmp_path: Path, account: str) -> None:
    store = CredentialStore(Database(tmp_path / "cais.db"))
    with pytest.raises(InvalidArgumentError):
        store.create(account_id=account)
    assert store.list() == []
