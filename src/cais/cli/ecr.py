"""``cais ecr``: ECR maintenance on the cais root, without a running ``cais up``."""

from __future__ import annotations

import json

from cais.cli.context import Context, parser

_HELP = """Usage:  cais ecr COMMAND

Maintain the ECR repositories of this cais root (the API itself is served by 'cais up')

Commands:
  run-lifecycle   Carry out lifecycle policies now (every repository, or those named)
"""


def main(ctx: Context, command: str, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        ctx.out.write(_HELP)
        return 0
    sub, rest = argv[0], argv[1:]
    if sub == "run-lifecycle":
        return _run_lifecycle(ctx, rest)
    ctx.err.write(f"cais ecr: unknown command {sub!r}\nSee 'cais ecr --help'.\n")
    return 125


def _run_lifecycle(ctx: Context, argv: list[str]) -> int:
    p = parser("cais ecr run-lifecycle", "Carry out ECR lifecycle policies now")
    p.add_argument(
        "--repository", action="append", metavar="NAME", help="only this repository (repeatable)"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args(argv)
    from cais.aws.credentials import CredentialStore
    from cais.ecr import open_ecr
    from cais.registry import open_driver

    db = ctx.engine.db
    ecr = open_ecr(
        db,
        open_driver(f"fs:{ctx.settings.root / 'registry'}"),
        registry_host="localhost",
        keys=CredentialStore(db),
    )
    runs = ecr.run_lifecycle(args.repository)
    if args.format == "json":
        doc = [
            {
                "Repository": run.repository,
                "Expired": [
                    {"Digest": x.digest, "Tags": list(x.tags), "RulePriority": x.rule_priority}
                    for x in run.expired
                ],
            }
            for run in runs
        ]
        ctx.out.write(json.dumps(doc) + "\n")
        return 0
    for run in runs:
        for x in run.expired:
            tags = ",".join(x.tags) or "<untagged>"
            ctx.out.write(
                f"expired {run.repository}@{x.digest} ({tags}) by rule {x.rule_priority}\n"
            )
    total = sum(len(run.expired) for run in runs)
    ctx.out.write(f"{len(runs)} repositories with a lifecycle policy, {total} images expired\n")
    return 0
