"""The base of every error cais shows to a user.

A CaisError's message is one line that names what was wrong; the CLI prints it as
``Error: <message>`` and exits with ``exit_code``.
"""

from __future__ import annotations


class CaisError(Exception):
    """An error meant for the user: its message is shown as is."""

    exit_code: int = 1


class NotFoundError(CaisError):
    """Something the user named does not exist."""


class ConflictError(CaisError):
    """The request clashes with the current state (a name in use, a dependent object)."""


class InvalidArgumentError(CaisError):
    """A value given by the user is malformed or out of range."""

    exit_code = 125
