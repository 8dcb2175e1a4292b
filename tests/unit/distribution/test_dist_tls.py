"""HTTPS registries are verified against the system's CAs plus certs.d/<registry>/*.crt, as
podman and Docker do: a registry whose certificate a private CA signed is trusted once that
CA is in certs.d for that registry, and refused before."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cais.distribution.client import RegistryClient
from cais.distribution.tls import tls_context

HOST = "127.0.0.2"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A private CA and a server certificate it signed for 127.0.0.2."""
    ca_key, ca, key, csr = (tmp_path / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=cais test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
            "-keyout", str(key), "-out", str(csr))  # fmt: skip
    (tmp_path / "san.ext").write_text(f"subjectAltName=IP:{HOST}\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(tmp_path / "san.ext"),
            "-out", str(tmp_path / "srv.pem"))  # fmt: skip
    return tmp_path


class V2(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_registry(pki: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((HOST, 0), V2)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki / "srv.pem"), str(pki / "srv.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{HOST}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def get_v2(registry: str, context: ssl.SSLContext) -> int:
    with httpx.Client(verify=context, trust_env=False) as client:
        return client.get(f"https://{registry}/v2/").status_code


def test_a_private_ca_in_certs_d_is_trusted_for_its_registry_only(
    https_registry: str, pki: Path, tmp_path: Path
) -> None:
    certs_d = tmp_path / "certs.d"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get_v2(https_registry, tls_context(https_registry, [certs_d]))
    (certs_d / https_registry).mkdir(parents=True)
    (certs_d / https_registry / "ca.crt").write_bytes((pki / "ca.pem").read_bytes())
    assert get_v2(https_registry, tls_context(https_registry, [certs_d])) == 200
    # another registry's directory does not make this one trusted
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get_v2(https_registry, tls_context("elsewhere:5000", [certs_d]))


def test_the_client_verifies_remote_registries_with_that_context(pki: Path, tmp_path: Path) -> None:
    certs_d = tmp_path / "certs.d"
    (certs_d / "registry.example:5000").mkdir(parents=True)
    (certs_d / "registry.example:5000" / "ca.crt").write_bytes((pki / "ca.pem").read_bytes())
    with RegistryClient("registry.example:5000", cert_dirs=[certs_d]) as client:
        assert client.tls is not None
        subjects = [dict(x[0] for x in ca["subject"]) for ca in client.tls.get_ca_certs()]
        assert {"commonName": "cais test CA"} in subjects
    # loopback registries are plain HTTP and --tls-verify=false checks nothing
    with RegistryClient("localhost:5000", cert_dirs=[certs_d]) as client:
        assert client.tls is None
    with RegistryClient("registry.example:5000", tls_verify=False) as client:
        assert client.tls is None
