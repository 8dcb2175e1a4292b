"""``python -m bench [suite …]``: run the named benchmark suites (all by default)."""

from __future__ import annotations

import importlib
import sys

SUITES = [
    "images",
    "runtime",
    "network",
    "build",
    "distribution",
    "registry",
    "ecr",
    "scheduler",
    "aws_logs",
    "ecs",
    "agent",
    "ecs_runtask",
]


def main(argv: list[str]) -> int:
    chosen = argv or SUITES
    for name in chosen:
        if name not in SUITES:
            print(f"unknown suite {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        # each suite parses its own options: none here (sys.argv names the suites)
        importlib.import_module(f"bench.{name}").main([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
