"""Container ``environmentFiles``: S3 objects read from a directory of the control plane.

cais has no S3 service, so the objects of bucket ``B`` are the files under
``<cais root>/s3/B/<key>``: a user copies a ``.env`` file there and names it
``arn:aws:s3:::B/<key>``. The files are read when the control plane builds a task's spec,
so agents on other machines need no copy. Their format is ECS's: one ``NAME=VALUE`` per line
(split at the first ``=``, no quote processing), lines starting with ``#`` and blank lines
ignored; anything else is an error that fails the task, as a file that cannot be fetched
does (``ResourceInitializationError: failed to download env files: …``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

S3_DIRECTORY = "s3"  # under the cais root
DOWNLOAD_FAILED = "ResourceInitializationError: failed to download env files: "
MAX_FILE_BYTES = 1 << 20  # a .env file larger than this is surely a mistake

# arn:<partition>:s3:::<bucket>/<key>; bucket names as S3 allows them (lowercase, digits,
# dots and hyphens, 3 to 63 characters)
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$")


class EnvFileError(Exception):
    """A file that cannot be used; the message says which and why (without the prefix)."""


def parse_s3_arn(value: str) -> tuple[str, str] | None:
    """The bucket and key of an S3 object ARN, or None when ``value`` is not one."""
    found = _S3_ARN.match(value)
    if found is None:
        return None
    bucket, key = found[1], found[2]
    if ".." in bucket or any(part in ("", ".", "..") for part in key.split("/")):
        return None  # also keeps a key from leaving its bucket's directory
    return bucket, key


def parse(text: str, arn: str) -> dict[str, str]:
    """The variables of one file, in order; EnvFileError names the first bad line."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name:
            raise EnvFileError(f"env file {arn}: line {number} is not NAME=VALUE: {line[:80]!r}")
        variables[name] = value
    return variables


def merge(environment: Mapping[str, str], files: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """``environment`` wins over every file, and an earlier file over a later one (ECS's
    agent adds a file's variable only when the name is not set yet)."""
    merged = dict(environment)
    for variables in files:
        for name, value in variables.items():
            merged.setdefault(name, value)
    return merged


class S3Directory:
    """Buckets as directories under ``root`` (``<cais root>/s3``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, arn: str) -> dict[str, str]:
        """The variables of the file an ARN names; EnvFileError when it cannot be read."""
        parsed = parse_s3_arn(arn)
        if parsed is None:
            raise EnvFileError(f"unable to parse bucket and key from s3 ARN {arn}")
        bucket, key = parsed
        path = self.root / bucket / key
        try:
            with path.open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            reason = "NoSuchKey" if isinstance(exc, FileNotFoundError) else exc.strerror
            raise EnvFileError(
                f"unable to download env file with key {key} from bucket {bucket}: {reason} "
                f"(cais reads it from {path})"
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise EnvFileError(f"env file {arn} is larger than {MAX_FILE_BYTES} bytes")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise EnvFileError(f"env file {arn} is not UTF-8 text") from None
        return parse(text, arn)
