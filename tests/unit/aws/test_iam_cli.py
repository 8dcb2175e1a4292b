"""``cais iam``: the real entry point, output shaped like ``aws iam``'s."""

from __future__ import annotations

import json
from typing import Any

from cais.aws.credentials import DEFAULT_ACCESS_KEY_ID, CredentialStore
from cais.state.sqlite import Database


def test_create_list_delete_access_key(cli: Any) -> None:
    created = json.loads(cli("iam", "create-access-key", "--user", "ci").out)
    key = created["AccessKey"]
    assert list(key) == ["UserName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate"]
    assert key["UserName"] == "ci" and key["Status"] == "Active"

    listed = json.loads(cli("iam", "list-access-keys").out)["AccessKeyMetadata"]
    ids = {k["AccessKeyId"] for k in listed}
    assert ids == {DEFAULT_ACCESS_KEY_ID, key["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)

    store = CredentialStore(Database(cli.settings.database))
    stored = store.get(key["AccessKeyId"])
    assert stored is not None and stored.secret_access_key == key["SecretAccessKey"]

    cli("iam", "delete-access-key", key["AccessKeyId"])
    assert store.get(key["AccessKeyId"]) is None
    again = cli("iam", "delete-access-key", key["AccessKeyId"], check=False)
    assert again.code == 1
    assert "no such access key" in again.err


def test_update_status_and_bad_usage(cli: Any) -> None:
    cli("iam", "update-access-key", DEFAULT_ACCESS_KEY_ID, "--status", "Inactive")
    listed = json.loads(cli("iam", "list-access-keys").out)["AccessKeyMetadata"]
    assert listed[0]["Status"] == "Inactive"
    assert cli("iam", "create-access-key", "--account-id", "12", check=False).code == 125
    assert cli("iam", "frobnicate", check=False).code == 125
