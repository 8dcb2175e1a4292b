"""The client's edges: which URL it speaks to, and what it refuses."""

from __future__ import annotations

import httpx
import pytest

from cais.distribution import ContentMismatchError, DistributionError, RegistryClient
from cais.distribution.hosts import endpoint_for, is_local
from distribution.fakeregistry import FakeRegistry, layer_tar


def test_endpoints() -> None:
    hub = endpoint_for("docker.io")
    assert hub.api_host == "registry-1.docker.io" and hub.schemes == ("https",) and hub.verify
    for local in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000", "localhost"):
        assert is_local(local) and endpoint_for(local).schemes == ("http",)
    insecure = endpoint_for("reg.example:5000", tls_verify=False)
    assert insecure.schemes == ("https", "http") and not insecure.verify
    assert not is_local("localhost.example.com:5000")


def test_tls_verify_false_falls_back_to_plain_http() -> None:
    fake = FakeRegistry()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.scheme)
        if request.url.scheme == "https":
            raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        return fake.handle(request)

    with RegistryClient(
        "reg.example:5000", tls_verify=False, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.ping() == "http://reg.example:5000"
    assert seen == ["https", "http"]


def test_a_server_that_is_not_a_registry() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="nope"))
    with (
        RegistryClient("web.example", transport=transport) as client,
        pytest.raises(DistributionError, match=r"does not serve the registry API \(GET https"),
    ):
        client.ping()


def test_a_served_digest_that_does_not_match_the_bytes() -> None:
    fake = FakeRegistry()
    digest, _ = fake.add_image("a/b", "v1", [layer_tar({"x": b"x"})])

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        if "/manifests/" in request.url.path:
            response.headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
        return response

    with (
        RegistryClient("registry.test", transport=httpx.MockTransport(handler)) as client,
        pytest.raises(ContentMismatchError, match="expected sha256:0000"),
    ):
        client.get_manifest("a/b", "v1")
    with RegistryClient("registry.test", transport=fake.transport()) as client:
        assert str(client.get_manifest("a/b", "v1").digest) == digest
