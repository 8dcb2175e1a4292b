"""What every command gets: settings, an engine built on first use, and the output streams."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn, TextIO

from cais.settings import Settings

if TYPE_CHECKING:
    from cais.engine import Engine


@dataclass
class Context:
    settings: Settings
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _engine: Engine | None = None

    @classmethod
    def create(
        cls, root: str | None, runroot: str | None, runtime: str | None, log_level: str
    ) -> Context:
        if log_level.lower() != "warning":
            import logging

            logging.basicConfig(
                level=getattr(logging, log_level.upper(), logging.WARNING),
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        return cls(Settings.load(root=root, runroot=runroot, runtime=runtime))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from cais.engine import Engine

            self._engine = Engine(self.settings)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


class CommandParser(argparse.ArgumentParser):
    """argparse with Docker's error shape: ``cais: <message>`` + a hint, exit code 125."""

    def error(self, message: str) -> NoReturn:
        self.exit(125, f"{self.prog}: {message}\nSee '{self.prog} --help'.\n")


def parser(
    prog: str, description: str, usage: str | None = None, *, add_help: bool = True
) -> CommandParser:
    return CommandParser(prog=prog, description=description, usage=usage, add_help=add_help)
