"""Certificate checks as podman and Docker make them for a registry over HTTPS.

The system's trusted CAs (``/etc/ssl/certs`` on Debian, which is where a private CA is
installed with ``update-ca-certificates``), plus, for one registry ``HOST[:PORT]``, any
``*.crt`` CA file and ``*.cert``/``*.key`` client pair in ``certs.d/HOST[:PORT]/`` of
``/etc/containers`` or ``/etc/docker``.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

CERT_DIRS = (Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d"))


def tls_context(registry: str, cert_dirs: Sequence[Path] = CERT_DIRS) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for base in cert_dirs:
        directory = base / registry
        if not directory.is_dir():
            continue
        for ca in sorted(directory.glob("*.crt")):
            context.load_verify_locations(cafile=str(ca))
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if key.is_file():
                context.load_cert_chain(str(cert), str(key))
    return context
