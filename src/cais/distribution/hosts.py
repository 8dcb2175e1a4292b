"""Where a registry named in a reference is reached, and over what.

``docker.io`` is served by ``registry-1.docker.io``; ``localhost``, ``127.0.0.1`` and
``[::1]`` (any port) are spoken to in plain HTTP, as Docker and Podman treat them as
insecure registries; ``--tls-verify=false`` tries HTTPS without checking the certificate,
then plain HTTP. Everything else is HTTPS with verification.
"""

from __future__ import annotations

from dataclasses import dataclass

from cais.oci.reference import DEFAULT_DOMAIN

DOCKER_HUB_API = "registry-1.docker.io"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


def hostname(host: str) -> str:
    """``host[:port]`` without the port (``[::1]:5000`` → ``[::1]``)."""
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_local(host: str) -> bool:
    """Loopback names, on any port: plain HTTP is fine there."""
    name = hostname(host).lower()
    return name in _LOCAL_HOSTS or name.startswith("127.")


def normalise_registry(text: str) -> str:
    """The registry key as ``auth.json`` files use it: ``https://index.docker.io/v1/`` and
    friends become ``docker.io``; a scheme and an API path are dropped.
    """
    value = text.strip()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.rstrip("/")
    for suffix in ("/v1", "/v2"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    host, sep, rest = value.partition("/")
    if host.lower() in _HUB_ALIASES:
        host = DEFAULT_DOMAIN
    return f"{host}{sep}{rest}"


@dataclass(frozen=True)
class Endpoint:
    """How to reach one registry: ``schemes`` are tried in order until one answers."""

    registry: str
    api_host: str
    schemes: tuple[str, ...]
    verify: bool

    def base_url(self, scheme: str) -> str:
        return f"{scheme}://{self.api_host}"


def endpoint_for(registry: str, *, tls_verify: bool = True) -> Endpoint:
    """The endpoint for a reference's domain (``docker.io``, ``host:5000``, ``[::1]:5000``)."""
    api_host = DOCKER_HUB_API if registry == DEFAULT_DOMAIN else registry
    if is_local(registry):
        return Endpoint(registry, api_host, ("http",), verify=False)
    if not tls_verify:
        return Endpoint(registry, api_host, ("https", "http"), verify=False)
    return Endpoint(registry, api_host, ("https",), verify=True)
