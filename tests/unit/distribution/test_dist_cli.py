"""The commands as a user runs them: cais push / pull / login / logout against cais's registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cais.settings import Settings
from distribution.fakeregistry import docker_archive, layer_tar
from distribution.liveregistry import serve
from helpers import Cli


def other_cli(tmp_path: Path, name: str) -> Cli:
    return Cli(Settings(root=tmp_path / name / "root", runroot=tmp_path / name / "run"))


def load_app(cli: Cli, tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    archive.write_bytes(docker_archive("app:v1", [layer_tar({"hello.txt": b"hi\n"})]))
    cli("load", "-i", str(archive))


def test_push_then_pull_prints_what_docker_prints(cli: Cli, tmp_path: Path) -> None:
    load_app(cli, tmp_path)
    with serve(tmp_path) as live:
        ref = f"{live.host}/team/app:v1"
        pushed = cli("push", "app:v1", ref)
        lines = pushed.out.splitlines()
        assert lines[0] == f"The push refers to repository [{live.host}/team/app]"
        assert any(line.endswith(": Pushed") for line in lines)
        tag, _, digest, _, size = lines[-1].split(" ")
        assert tag == "v1:" and digest.startswith("sha256:") and int(size) > 0

        puller = other_cli(tmp_path, "b")
        pulled = puller("pull", ref)
        lines = pulled.out.splitlines()
        assert lines[0] == "v1: Pulling from team/app"
        assert any(line.endswith(": Pull complete") for line in lines)
        assert lines[-3:] == [
            f"Digest: {digest}",
            f"Status: Downloaded newer image for {ref}",
            ref,
        ]
        inspected = json.loads(puller("image", "inspect", ref).out)[0]
        assert inspected["RepoDigests"] == [f"{live.host}/team/app@{digest}"]
        again = puller("pull", ref).out.splitlines()
        assert again[-2] == f"Status: Image is up to date for {ref}"
        assert any(line.endswith(": Already exists") for line in again)
        assert puller("pull", "-q", ref).out == ref + "\n"

        cli("tag", "app:v1", f"{live.host}/team/app:v2")
        retagged = cli("push", f"{live.host}/team/app:v2").out.splitlines()  # NAME[:TAG] form
        assert any(line.endswith(": Layer already exists") for line in retagged)
        assert retagged[-1].startswith(f"v2: digest: {digest} size: ")

        missing = puller("pull", f"{live.host}/team/app:nope", check=False)
        assert missing.code == 1
        assert missing.err.startswith(
            f"Error: manifest for {live.host}/team/app:nope not found: manifest unknown"
        )
        assert len(missing.err.splitlines()) == 1


def test_login_push_logout_with_token_auth(cli: Cli, tmp_path: Path) -> None:
    load_app(cli, tmp_path)
    authfile = str(tmp_path / "auth.json")
    with serve(tmp_path, "token") as live:
        ref = f"{live.host}/team/app:v1"
        denied = cli("push", "--authfile", authfile, "app:v1", ref, check=False)
        assert denied.code == 1 and "unauthorized" in denied.err
        bad = cli(
            "login",
            "--authfile",
            authfile,
            "-u",
            "alice",
            "--password-stdin",
            live.host,
            input=b"wrong\n",
            check=False,
        )
        assert bad.code == 1 and "unauthorized" in bad.err and not Path(authfile).exists()
        good = cli(
            "login",
            "--authfile",
            authfile,
            "-u",
            "alice",
            "--password-stdin",
            live.host,
            input=b"secret\n",
        )
        assert good.out == "Login Succeeded\n"
        cli("push", "--authfile", authfile, "app:v1", ref)
        out = cli("logout", "--authfile", authfile, live.host).out
        assert out == f"Removed login credentials for {live.host}\n"
        again = cli("logout", "--authfile", authfile, live.host, check=False)
        assert again.code == 1 and f"not logged in to {live.host}" in again.err
        assert cli("pull", "--creds", "alice:secret", ref).out.endswith(ref + "\n")


def test_the_cli_entry_point_does_not_import_the_client() -> None:
    code = (
        "import sys, cais.cli.main; "
        "names = ('httpx', 'rich', 'cais.distribution.client'); "
        "print(sorted(m for m in names if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands(cli: Cli) -> None:
    usage = cli("--help").out
    for command in ("pull", "push", "login", "logout"):
        assert f"\n  {command} " in usage
