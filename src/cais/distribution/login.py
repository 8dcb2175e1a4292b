"""Login and logout: a credential is saved only after the registry accepted it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cais.distribution.authfile import AuthFile, Credential, StaticCredentials
from cais.distribution.client import RegistryClient
from cais.distribution.hosts import normalise_registry

if TYPE_CHECKING:
    import httpx


def registry_of(text: str) -> str:
    """The registry a user named (``https://host:5000/v2/`` or ``host:5000`` → ``host:5000``)."""
    return normalise_registry(text).split("/", 1)[0]


def verify(
    registry: str,
    credential: Credential,
    *,
    tls_verify: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Raise unless ``registry`` accepts ``credential`` (``/v2/``, through a token if Bearer)."""
    with RegistryClient(
        registry,
        credentials=StaticCredentials.single(credential),
        tls_verify=tls_verify,
        transport=transport,
    ) as client:
        client.check_login()


def login(
    registry: str,
    credential: Credential,
    *,
    auth_file: AuthFile,
    tls_verify: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> None:
    verify(registry, credential, tls_verify=tls_verify, transport=transport)
    auth_file.store(registry, credential)


def logout(registry: str, *, auth_file: AuthFile) -> bool:
    """Forget the credential for ``registry``; False if there was none."""
    return auth_file.remove(registry)
