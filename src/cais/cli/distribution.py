"""``cais pull``, ``cais push``, ``cais login``, ``cais logout``: the registry client's CLI.

The client (httpx, rich) is imported inside the handlers, so other commands never pay for it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from cais.cli.context import Context, parser
from cais.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cais.distribution.authfile import AuthFiles, CredentialSource
    from cais.images.store import Image

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tls-verify",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="Require HTTPS and verify certificates (default true; loopback is always HTTP)",
    )
    p.add_argument(
        "--authfile", help="auth.json to use (default: REGISTRY_AUTH_FILE or <root>/auth.json)"
    )
    p.add_argument("--creds", metavar="USER:PASS", help="Credentials for this command only")


def main(ctx: Context, command: str, argv: list[str]) -> int:
    handler = {"pull": _pull, "push": _push, "login": _login, "logout": _logout}[command]
    return handler(ctx, f"cais {command}", argv)


def _auth_files(ctx: Context, authfile: str | None) -> AuthFiles:
    from cais.distribution.authfile import default_auth_files

    return default_auth_files(root=ctx.settings.root, authfile=authfile)


def _credentials(ctx: Context, args: argparse.Namespace) -> CredentialSource:
    from cais.distribution.authfile import Credential, StaticCredentials

    if args.creds:
        user, sep, password = args.creds.partition(":")
        if not sep or not user:
            raise InvalidArgumentError("invalid --creds: expected USER:PASSWORD")
        return StaticCredentials.single(Credential(user, password))
    return _auth_files(ctx, args.authfile)


def pull_image(
    ctx: Context,
    reference: str,
    *,
    out: TextIO,
    quiet: bool,
    tls_verify: bool = True,
    platform: str | None = None,
    credentials: CredentialSource | None = None,
    silent: bool = False,
) -> Image:
    """Pull with Docker's output on ``out``; shared by ``cais pull`` and ``cais run``.
    ``quiet`` leaves the reference line (``pull -q``), ``silent`` not even that (``run -q``).
    """
    from cais.distribution.progress import progress_for
    from cais.distribution.pull import Puller
    from cais.oci.platform import Platform
    from cais.oci.reference import parse_reference

    ref = parse_reference(reference)
    if credentials is None:
        credentials = _auth_files(ctx, None)
    try:
        wanted = Platform.parse(platform) if platform else None
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    quiet = quiet or silent
    progress = progress_for(out, quiet=quiet)
    try:
        result = Puller(
            ctx.engine,
            credentials=credentials,
            tls_verify=tls_verify,
            platform=wanted,
            progress=progress,
        ).pull(ref)
    finally:
        progress.close()
    if not quiet:
        out.write(f"Digest: {result.digest}\n")
        verb = "Downloaded newer image for" if result.updated else "Image is up to date for"
        out.write(f"Status: {verb} {ref.familiar()}\n")
    if not silent:
        out.write(f"{ref}\n")
    out.flush()
    return result.image


def _pull(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Download an image from a registry", f"{prog} [OPTIONS] NAME[:TAG|@DIGEST]")
    p.add_argument("name")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument(
        "--platform", help="Pull this platform of a multi-arch image (os/arch[/variant])"
    )
    _add_common(p)
    args = p.parse_args(argv)
    pull_image(
        ctx,
        args.name,
        out=ctx.out,
        quiet=args.quiet,
        tls_verify=args.tls_verify,
        platform=args.platform,
        credentials=_credentials(ctx, args),
    )
    return 0


def _push(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Upload an image to a registry", f"{prog} [OPTIONS] IMAGE [DESTINATION]")
    p.add_argument("image")
    p.add_argument("destination", nargs="?")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("--digestfile", help="Write the digest of the pushed manifest to this file")
    _add_common(p)
    args = p.parse_args(argv)
    from cais.distribution.progress import progress_for
    from cais.distribution.push import Pusher

    credentials = _credentials(ctx, args)
    progress = progress_for(ctx.out, quiet=args.quiet)
    try:
        result = Pusher(
            ctx.engine, credentials=credentials, tls_verify=args.tls_verify, progress=progress
        ).push(args.image, args.destination)
    finally:
        progress.close()
    if args.digestfile:
        from pathlib import Path

        Path(args.digestfile).write_text(str(result.digest))
    if args.quiet:
        ctx.out.write(f"{result.reference}\n")
    else:
        ctx.out.write(f"{result.reference.tag}: digest: {result.digest} size: {result.size}\n")
    return 0


def _login(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Log in to a registry", f"{prog} [OPTIONS] [SERVER]")
    p.add_argument("server", nargs="?", default="docker.io")
    p.add_argument("-u", "--username", help="Username")
    p.add_argument("-p", "--password", help="Password")
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    p.add_argument("--tls-verify", type=_bool, nargs="?", const=True, default=True, metavar="BOOL")
    p.add_argument("--authfile", help="auth.json to write (default: <root>/auth.json)")
    args = p.parse_args(argv)
    from cais.distribution.authfile import Credential
    from cais.distribution.login import login, registry_of

    registry = registry_of(args.server)
    if args.password and args.password_stdin:
        raise InvalidArgumentError("--password and --password-stdin are mutually exclusive")
    username = args.username
    password = args.password
    if args.password:
        ctx.err.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    interactive = sys.stdin.isatty()
    if args.password_stdin:
        if not username:
            raise InvalidArgumentError("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if not username:
        if not interactive:
            raise InvalidArgumentError("cannot perform an interactive login from a non-TTY device")
        ctx.out.write("Username: ")
        ctx.out.flush()
        username = sys.stdin.readline().strip()
    if password is None:
        if not interactive:
            raise InvalidArgumentError("cannot perform an interactive login from a non-TTY device")
        import getpass

        password = getpass.getpass("Password: ")
    if not username:
        raise InvalidArgumentError("username is empty")
    files = _auth_files(ctx, args.authfile)
    login(
        registry,
        Credential(username, password),
        auth_file=files.primary,
        tls_verify=args.tls_verify,
    )
    ctx.out.write("Login Succeeded\n")
    return 0


def _logout(ctx: Context, prog: str, argv: list[str]) -> int:
    p = parser(prog, "Log out from a registry", f"{prog} [OPTIONS] [SERVER]")
    p.add_argument("server", nargs="?", default="docker.io")
    p.add_argument("-a", "--all", action="store_true", help="Remove every saved credential")
    p.add_argument("--authfile", help="auth.json to change (default: <root>/auth.json)")
    args = p.parse_args(argv)
    from cais.distribution.errors import DistributionError
    from cais.distribution.login import logout, registry_of

    files = _auth_files(ctx, args.authfile)
    if args.all:
        files.primary.remove_all()
        ctx.out.write("Removed login credentials for all registries\n")
        return 0
    registry = registry_of(args.server)
    if not logout(registry, auth_file=files.primary):
        raise DistributionError(f"not logged in to {registry}")
    ctx.out.write(f"Removed login credentials for {registry}\n")
    return 0
