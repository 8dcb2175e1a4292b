from __future__ import annotations

import pytest

from cais.oci.digest import Digest, DigestError
from cais.oci.reference import ReferenceError, parse_reference

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:v2", "docker.io/user/app:v2", "user/app:v2"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        ("quay.io/x/y", "quay.io/x/y:latest", "quay.io/x/y:latest"),
        (
            "127.0.0.1:8080/team/svc:1.0",
            "127.0.0.1:8080/team/svc:1.0",
            "127.0.0.1:8080/team/svc:1.0",
        ),
        (
            f"busybox@sha256:{HEX}",
            f"docker.io/library/busybox@sha256:{HEX}",
            f"busybox@sha256:{HEX}",
        ),
        (f"reg:5000/a:t@sha256:{HEX}", f"reg:5000/a:t@sha256:{HEX}", f"reg:5000/a:t@sha256:{HEX}"),
        ("[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app:x"),
        ("my-app_1.x__y", "docker.io/library/my-app_1.x__y:latest", "my-app_1.x__y:latest"),
    ],
)
def test_normalisation(text: str, full: str, familiar: str) -> None:
    ref = parse_reference(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_digest_reference_has_no_default_tag() -> None:
    ref = parse_reference(f"busybox@sha256:{HEX}")
    assert ref.tag is None
    assert ref.digest == Digest("sha256", HEX)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("busy box", "whitespace"),
        ("busybox:", "invalid tag"),
        ("busybox:-bad", "invalid tag"),
        ("a//b", "not a valid repository"),
        ("app@sha256:1234", "digest"),
        ("app@md5:" + "a" * 32, "unsupported digest algorithm"),
        (":tag", "no repository"),
        ("-app", "not a valid repository"),
        ("x" * 300, "longer than"),
    ],
)
def test_invalid_references_say_why(text: str, needle: str) -> None:
    with pytest.raises(ReferenceError) as exc:
        parse_reference(text)
    assert needle in str(exc.value)


def test_digests() -> None:
    digest = Digest.from_bytes(b"hello")
    assert str(digest) == (
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )
    assert Digest.parse(str(digest)) == digest
    sha512 = Digest.from_bytes(b"hello", "sha512")
    assert Digest.parse(str(sha512)).algorithm == "sha512"
    for bad in ("sha256:" + "A" * 64, "sha256:abc", "nohex", "sha1:" + "a" * 40):
        with pytest.raises(DigestError):
            Digest.parse(bad)
