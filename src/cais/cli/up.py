"""``cais up``: run the platform (OCI registry + AWS-compatible APIs + ECS control plane)."""

from __future__ import annotations

import argparse
import logging
import re
import sys

from cais.cli.context import Context, parser
from cais.errors import InvalidArgumentError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}

_EPILOG = """\
What it serves (default http://127.0.0.1:2247; 2247 spells CAIS on a phone keypad):
  /v2/...   the OCI registry: docker, podman, skopeo push and pull here
  POST /    the AWS JSON APIs: ECR, ECS and CloudWatch Logs (X-Amz-Target)
  /agent/   node agents of the ECS clusters (cais agent --join URL --token TOKEN)
State lives under the cais root (--root / CAIS_ROOT): the database <root>/cais.db and the
registry's blobs in <root>/registry. A restart keeps every repository, image and policy.

Point the aws CLI and boto3 at it (the local default key pair, account 000000000000):
  export AWS_ACCESS_KEY_ID=AKIACAISLOCALDEFAULT
  export AWS_SECRET_ACCESS_KEY=caisLocalDefaultSecretKeyNotForProduction
  export AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url http://127.0.0.1:2247 ecr create-repository --repository-name web
  (or export AWS_ENDPOINT_URL=http://127.0.0.1:2247: aws CLI v2 >= 2.13, boto3 >= 1.28)

  import boto3
  ecr = boto3.client("ecr", endpoint_url="http://127.0.0.1:2247", region_name="us-east-1",
                     aws_access_key_id="AKIACAISLOCALDEFAULT",
                     aws_secret_access_key="caisLocalDefaultSecretKeyNotForProduction")
More keys: cais iam create-access-key [--account-id 12DIGITS].

Repositories and logins:
  repositoryUri is localhost:<port>/<name>. docker treats localhost registries as insecure
  (plain HTTP) with no configuration; podman and skopeo need --tls-verify=false.
  One install is one registry: a repository name is unique across it and belongs to the
  account that created it (registryId; ARN arn:aws:ecr:<region>:<account>:repository/<name>).
  aws --endpoint-url http://127.0.0.1:2247 ecr get-login-password \\
      | podman login -u AWS --password-stdin --tls-verify=false localhost:2247
  podman push --tls-verify=false IMAGE localhost:2247/web:v1
  Logins last 12 hours; without one the registry answers 401. Pushing to a repository
  that was not created first is refused (NAME_UNKNOWN), as ECR does.

ECS (the orchestrator): clusters, task definitions, container instances and tasks.
  aws --endpoint-url http://127.0.0.1:2247 ecs create-cluster --cluster-name web
  Machines join a cluster with a join token (only its digest is kept; shown once):
    cais ecs create-join-token [--cluster NAME] [--expires 24h]
    cais agent --join http://HOST:2247 --token TOKEN [--attribute ecs.availability-zone=a]
  cais up makes one token for its own local agent (cluster default), the same after a
  restart. Agents poll every --agent-heartbeat; one silent for 3 heartbeats is shown
  agentConnected=false and gets no new tasks. A restart of cais up loses no task: agents
  register again with their machine id and report what runs.
  Private images: repositoryCredentials.credentialsParameter names a secret made with
  'cais ecs create-secret NAME' ({"username","password"}); images of this registry are
  pulled with an ECR login for the account that ran the task.
  environmentFiles: arn:aws:s3:::BUCKET/KEY is read from <root>/s3/BUCKET/KEY (cais has
  no S3; copy the .env file there). A missing file fails the task to start.

Lifecycle policies run every --lifecycle-interval, and on demand with
'cais ecr run-lifecycle'; expired images leave the registry (their blobs go at the next
'cais registry gc').
"""


def duration(text: str) -> float:
    """``90``, ``30s``, ``10m`` or ``1h`` in seconds; ``0`` turns a schedule off."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30s, 10m or 1h")
    return float(found[1]) * _UNITS[found[2]]


def main(ctx: Context, command: str, argv: list[str]) -> int:
    from cais.server.compose import DEFAULT_HOST, DEFAULT_PORT

    p = parser("cais up", "Run the platform: OCI registry and AWS-compatible APIs on one port")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0: any free)"
    )
    p.add_argument(
        "--advertise",
        metavar="HOST:PORT",
        help="registry host in repository URIs and logins (default localhost:PORT)",
    )
    p.add_argument(
        "--lifecycle-interval",
        type=duration,
        default=duration("1h"),
        metavar="DURATION",
        help="how often ECR lifecycle policies run (1h; 0 turns it off)",
    )
    p.add_argument(
        "--retention-interval",
        type=duration,
        default=duration("1h"),
        metavar="DURATION",
        help="how often CloudWatch Logs retention runs (1h; 0 turns it off)",
    )
    p.add_argument(
        "--agent-heartbeat",
        type=duration,
        default=duration("20s"),
        metavar="DURATION",
        help="how often ECS agents must poll (20s); 3 missed: agentConnected=false",
    )
    p.add_argument(
        "--no-local-agent",
        action="store_true",
        help="do not run this machine as a container instance (a control plane only)",
    )
    p.add_argument("--quiet", action="store_true", help="no line per request")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise InvalidArgumentError(f"invalid --port {args.port}")
    if args.agent_heartbeat <= 0:
        raise InvalidArgumentError("--agent-heartbeat must be more than 0")
    _configure_logging()

    from cais.server.compose import UpOptions, up

    options = UpOptions(
        host=args.host,
        port=args.port,
        advertise=args.advertise,
        lifecycle_interval=args.lifecycle_interval,
        retention_interval=args.retention_interval,
        access_log=not args.quiet,
        agent_heartbeat=args.agent_heartbeat,
        local_agent=not args.no_local_agent,
    )

    def ready(url: str) -> None:
        ctx.out.write(f"cais up: serving on {url} (root {ctx.settings.root})\n")
        ctx.out.flush()

    up(ctx.settings, options, ready=ready)
    return 0


def _configure_logging() -> None:
    """Request lines and the platform's notices on stderr (unless --log-level set them)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
