"""Access scopes (``repository:<name>:pull,push``) and who may have them.

A *scope* names a resource and the actions asked for on it; an :class:`AccessPolicy` says
which of those actions a user is granted. Actions on repositories are ``pull``, ``push``
and ``delete``; the catalog is ``registry:catalog:*``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cais.errors import InvalidArgumentError

PULL, PUSH, DELETE = "pull", "push", "delete"
CATALOG_ACTION = "*"


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        return cls("repository", name, frozenset(actions))

    @classmethod
    def catalog(cls) -> Scope:
        return cls("registry", "catalog", frozenset({CATALOG_ACTION}))

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """``type:name:actions``; the name may hold colons (``registry:catalog:*``)."""
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2 and kind and name):
            return None
        return cls(kind, name, frozenset(a for a in actions.split(",") if a))

    def covered_by(self, granted: frozenset[str]) -> bool:
        return self.actions <= granted or "*" in granted

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


class AccessPolicy(Protocol):
    def granted(self, user: str, scope: Scope) -> frozenset[str]:
        """The actions of ``scope`` that ``user`` may have (a subset, maybe empty)."""
        ...


class AllowAll:
    """Every authenticated user may do everything."""

    def granted(self, user: str, scope: Scope) -> frozenset[str]:
        return scope.actions


@dataclass(frozen=True)
class AclPolicy:
    """Per-user rules: repository-name glob → actions; ``"_catalog"`` grants the catalog.

    Read from JSON as ``{"alice": {"*": ["pull", "push", "delete"]},
    "bob": {"team/*": ["pull"]}}``; a user with no rules gets nothing.
    """

    rules: Mapping[str, Mapping[str, frozenset[str]]]

    @classmethod
    def load(cls, path: Path) -> AclPolicy:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(f"cannot read access rules {path}: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidArgumentError(f"access rules {path}: expected an object of users")
        rules = {
            str(user): {str(glob): frozenset(map(str, acts)) for glob, acts in entries.items()}
            for user, entries in doc.items()
            if isinstance(entries, dict)
        }
        return cls(rules)

    def granted(self, user: str, scope: Scope) -> frozenset[str]:
        allowed: set[str] = set()
        for glob, actions in self.rules.get(user, {}).items():
            if scope.type == "registry" and scope.name == "catalog":
                if glob in ("_catalog", "*"):
                    allowed |= scope.actions
            elif scope.type == "repository" and fnmatch.fnmatchcase(scope.name, glob):
                allowed |= actions if "*" not in actions else scope.actions
        return frozenset(allowed) & scope.actions
