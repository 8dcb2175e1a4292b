"""``cais ecs``: join tokens and registry secrets through the real entry point, and a token
made by the CLI lets an agent join a running control plane."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_harness import control_plane

from cais.ecs import Scope, SqliteEcsStore
from cais.state.sqlite import Database
from ecs_fake_agent import AgentHttpError, FakeAgent


def test_join_tokens_made_by_the_cli_let_agents_join(cli: Any) -> None:
    made = json.loads(cli("ecs", "create-join-token", "--cluster", "web", "--format", "json").out)
    assert made["Token"].startswith("caisjoin1.") and made["Cluster"] == "web"
    plain = cli("ecs", "create-join-token", "--description", "rack 2").out.strip()
    listed = json.loads(cli("ecs", "list-join-tokens").out)["JoinTokens"]
    assert [t["Cluster"] for t in listed] == ["web", None]
    assert listed[1]["Description"] == "rack 2"
    assert plain not in json.dumps(listed)  # tokens are shown once, never listed
    local = cli("ecs", "local-join-token").out.strip()
    assert local == cli("ecs", "local-join-token").out.strip()

    with control_plane(cli.settings) as plane:
        assert plane.token == local  # cais up's own agent token is the same one
        plane.client().create_cluster(clusterName="web")
        assert (
            "container-instance/web/"
            in FakeAgent(plane.url, made["Token"]).register().container_instance_arn
        )
        cli("ecs", "delete-join-token", made["Id"])
        with pytest.raises(AgentHttpError) as caught:
            FakeAgent(plane.url, made["Token"]).register()
        assert caught.value.status == 401
    assert cli("ecs", "delete-join-token", made["Id"], check=False).code == 1


def test_secrets(cli: Any) -> None:
    created = json.loads(
        cli(
            "ecs", "create-secret", "hub", "--username", "u", "--password-stdin", input=b"p4ss\n"
        ).out
    )
    assert created == {
        "Name": "hub",
        "ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:hub",
    }
    store = SqliteEcsStore(Database(cli.settings.database))
    assert json.loads(store.secret(Scope("000000000000", "us-east-1"), "hub") or "") == {
        "username": "u",
        "password": "p4ss",
    }
    assert json.loads(cli("ecs", "list-secrets").out)["Secrets"] == [created]
    cli("ecs", "delete-secret", "hub")
    assert json.loads(cli("ecs", "list-secrets").out)["Secrets"] == []
    assert cli("ecs", "create-secret", "x", "--username", "u", check=False).code == 125
    assert cli("ecs", "frobnicate", check=False).code == 125
