"""The usual wiring: a dispatcher whose signatures are checked against a cais root's keys."""

from __future__ import annotations

from concurrent.futures import Executor

from cais.aws.credentials import CredentialStore
from cais.aws.dispatch import DEFAULT_MAX_BODY_BYTES, Dispatcher
from cais.aws.models import ServiceModels
from cais.aws.sigv4 import SigV4Verifier
from cais.state.sqlite import Database


def edge_dispatcher(
    db: Database,
    *,
    models: ServiceModels | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    executor: Executor | None = None,
) -> Dispatcher:
    """A :class:`Dispatcher` for ``cais up``: SigV4 against ``db``'s access keys.

    The documented default key pair is stored on the first call for a database.
    """
    keys = CredentialStore(db)
    keys.ensure_default()
    return Dispatcher(
        authenticator=SigV4Verifier(keys),
        models=models,
        max_body_bytes=max_body_bytes,
        executor=executor,
    )
