"""Registry credentials in the ``auth.json`` format of containers-auth.json(5) (and Docker's
``config.json``): ``{"auths": {"host:port": {"auth": base64("user:password")}}}``.

Which files: an explicit ``--authfile`` or ``REGISTRY_AUTH_FILE`` is the only file read and
written. Otherwise cais writes ``<cais root>/auth.json`` and, when it has no entry there,
also reads what ``podman login`` and ``docker login`` wrote (``$XDG_RUNTIME_DIR/containers/
auth.json``, ``/run/containers/<uid>/auth.json``, ``~/.config/containers/auth.json``,
``~/.docker/config.json``), so a user logged in with either needs no second login.

A key may name a repository or a namespace (``host/team``); the most specific key wins.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cais.distribution.errors import DistributionError
from cais.distribution.hosts import normalise_registry
from cais.fsutil import atomic_write


class AuthFileError(DistributionError):
    """An auth file that is not valid JSON of the expected shape."""


@dataclass(frozen=True)
class Credential:
    """A user name and password (or, for OAuth2 registries, an identity token)."""

    username: str
    password: str
    identity_token: str = ""

    def basic(self) -> str:
        """The ``Authorization`` header value for HTTP Basic."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __repr__(self) -> str:  # never show a secret in a traceback or a log
        return f"Credential(username={self.username!r}, password=***)"


class CredentialSource(Protocol):
    """Where a client gets the credential for a registry (and repository) from."""

    def credential_for(self, registry: str, repository: str = "") -> Credential | None: ...


@dataclass(frozen=True)
class StaticCredentials:
    """Credentials given in code (the ECS agent's ``repositoryCredentials``, an ECR token):
    keyed by registry, or one ``default`` for every registry.
    """

    by_registry: Mapping[str, Credential]
    default: Credential | None = None

    @classmethod
    def single(cls, credential: Credential) -> StaticCredentials:
        return cls({}, credential)

    def credential_for(self, registry: str, repository: str = "") -> Credential | None:
        key = normalise_registry(registry)
        for name, credential in self.by_registry.items():
            if normalise_registry(name) == key:
                return credential
        return self.default


def _lookup_keys(registry: str, repository: str) -> list[str]:
    """``host/a/b/c`` → ``[host/a/b/c, host/a/b, host/a, host]``: most specific first."""
    host = normalise_registry(registry)
    keys = []
    parts = [p for p in repository.split("/") if p]
    while parts:
        keys.append(f"{host}/{'/'.join(parts)}")
        parts.pop()
    keys.append(host)
    return keys


def _decode(entry: Any, where: str) -> Credential | None:
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken")
    identity = token if isinstance(token, str) else ""
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFileError(f"{where}: an auth entry is not base64 of user:password") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise AuthFileError(f"{where}: an auth entry is not base64 of user:password")
        return Credential(user, password, identity)
    if identity:
        return Credential(str(entry.get("username", "<token>")), "", identity)
    return None


class AuthFile:
    """One ``auth.json`` file: read, and written atomically with mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AuthFileError(f"cannot read auth file {self.path}: {exc}") from None
        if not text.strip():
            return {}
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise AuthFileError(f"auth file {self.path} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("auths", {}), dict):
            raise AuthFileError(f'auth file {self.path}: expected {{"auths": {{…}}}}')
        return doc

    def _entries(self) -> dict[str, Any]:
        auths = self._load().get("auths") or {}
        return {normalise_registry(k): v for k, v in auths.items()}

    def credential_for(self, registry: str, repository: str = "") -> Credential | None:
        entries = self._entries()
        for key in _lookup_keys(registry, repository):
            if key in entries:
                return _decode(entries[key], str(self.path))
        return None

    def registries(self) -> list[str]:
        return sorted(self._entries())

    def store(self, registry: str, credential: Credential) -> None:
        """Save (or replace) the entry for ``registry``, keeping every other key of the file."""
        doc = self._load()
        auths = {
            k: v
            for k, v in (doc.get("auths") or {}).items()
            if normalise_registry(k) != normalise_registry(registry)
        }
        raw = f"{credential.username}:{credential.password}".encode()
        auths[normalise_registry(registry)] = {"auth": base64.b64encode(raw).decode()}
        doc["auths"] = auths
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, (json.dumps(doc, indent="\t") + "\n").encode(), mode=0o600)

    def remove(self, registry: str) -> bool:
        """Drop the entry for ``registry``; False if there was none."""
        doc = self._load()
        auths = doc.get("auths") or {}
        kept = {
            k: v for k, v in auths.items() if normalise_registry(k) != normalise_registry(registry)
        }
        if len(kept) == len(auths):
            return False
        doc["auths"] = kept
        atomic_write(self.path, (json.dumps(doc, indent="\t") + "\n").encode(), mode=0o600)
        return True

    def remove_all(self) -> list[str]:
        doc = self._load()
        gone = sorted(normalise_registry(k) for k in doc.get("auths") or {})
        if gone:
            doc["auths"] = {}
            atomic_write(self.path, (json.dumps(doc, indent="\t") + "\n").encode(), mode=0o600)
        return gone


@dataclass(frozen=True)
class AuthFiles:
    """The file cais writes, and the files it reads (that one first)."""

    primary: AuthFile
    fallbacks: tuple[AuthFile, ...] = ()

    def credential_for(self, registry: str, repository: str = "") -> Credential | None:
        for auth_file in (self.primary, *self.fallbacks):
            try:
                found = auth_file.credential_for(registry, repository)
            except AuthFileError:
                if auth_file is self.primary:
                    raise
                continue  # someone else's broken file must not break cais
            if found is not None:
                return found
        return None


def default_auth_files(
    *,
    root: Path,
    authfile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> AuthFiles:
    """The auth files for a cais root: see the module docstring for the order."""
    env = os.environ if environ is None else environ
    explicit = authfile or env.get("REGISTRY_AUTH_FILE")
    if explicit:
        return AuthFiles(AuthFile(Path(explicit)))
    fallbacks: list[Path] = []
    runtime_dir = env.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        fallbacks.append(Path(runtime_dir) / "containers" / "auth.json")
    fallbacks.append(Path(f"/run/containers/{os.getuid()}/auth.json"))
    home = env.get("HOME")
    if home:
        config_home = env.get("XDG_CONFIG_HOME") or f"{home}/.config"
        fallbacks.append(Path(config_home) / "containers" / "auth.json")
        fallbacks.append(Path(home) / ".docker" / "config.json")
    return AuthFiles(AuthFile(root / "auth.json"), tuple(AuthFile(p) for p in fallbacks))
