"""`cais run` network flags that Docker refuses or ignores, refused or ignored the same way
before anything is created."""

from __future__ import annotations

import pytest

from helpers import Cli


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--network-alias", "api"], "network-scoped alias is supported only for containers in"),
        (["--ip", "10.1.2.3"], "user specified IP address is supported on user defined networks"),
        (["--network", "host", "--ip", "10.1.2.3"], "user specified IP address is supported"),
        (["--network", "container:db", "-p", "80"], "conflicting options: port publishing"),
        (["--network", "container:db", "-h", "web"], "conflicting options: hostname"),
        (["--network", "container:db", "--dns", "9.9.9.9"], "conflicting options: dns"),
        (
            ["--network", "container:db", "--add-host", "a:10.0.0.1"],
            "conflicting options: custom host-to-IP mapping",
        ),
    ],
)
def test_refused_like_docker_and_nothing_is_created(
    cli: Cli, flags: list[str], message: str
) -> None:
    refused = cli("run", *flags, "busybox", "true", check=False)
    assert refused.code == 125
    assert message in refused.err
    assert cli("ps", "-aq").out == ""
