"""Registries for the client's interop tests, each a subprocess on 127.0.0.1 stopped by PID:
Debian's docker-registry (distribution 2.8; optional htpasswd; its access log kept) and
``cais registry serve`` (optional token auth). Also a throttling TCP proxy (a thread), to
make a download slow enough to kill mid-layer, and raw-API helpers to build images.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

_ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d+) (?P<size>\d+|-)'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    path.write_text(
        "".join(
            f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(5)).decode()}\n"
            for u, p in users.items()
        )
    )
    return path


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def access(self, part: str = "") -> list[tuple[str, str, int, int]]:
        """docker-registry's access log: (method, path, status, bytes) of requests to ``part``."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            found = _ACCESS.search(line)
            if found and part in found["path"]:
                size = found["size"]
                out.append(
                    (
                        found["method"],
                        found["path"],
                        int(found["status"]),
                        int(size) if size != "-" else 0,
                    )
                )
        return out


def start_docker_registry(work: Path, *, htpasswd: Path | None = None) -> Server:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    auth = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {htpasswd}\n" if htpasswd else ""
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'storage'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = work / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(process, port, log)
    try:
        wait_port(port, process)
    except AssertionError:
        server.stop()
        raise AssertionError(f"docker-registry did not start: {log.read_text()}") from None
    return server


def start_cais_registry(work: Path, *args: str) -> Server:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "cais-registry.log"
    env = {**os.environ, "CAIS_ROOT": str(work / "root"), "CAIS_RUNROOT": str(work / "run")}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cais.cli.launch",
                "registry",
                "serve",
                "--addr",
                f"127.0.0.1:{port}",
                "--storage",
                f"fs:{work / 'storage'}",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, port, log)
    try:
        wait_port(port, process)
    except AssertionError:
        server.stop()
        raise AssertionError(f"cais registry did not start: {log.read_text()}") from None
    return server


@dataclass
class ThrottlingProxy:
    """Forwards 127.0.0.1:port to an upstream port, answers at ``rate`` bytes per second."""

    upstream: int
    rate: int
    port: int = 0
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ThrottlingProxy:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self.rate), daemon=True
            ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: int) -> None:
        try:
            while not self._stop.is_set():
                data = source.recv(64 * 1024)
                if not data:
                    break
                sink.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()


# building images with the raw API (no client under test involved)


def _request(
    host: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    name, _, port = host.partition(":")
    conn = http.client.HTTPConnection(name, int(port), timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def put_blob(host: str, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = _request(host, "POST", f"/v2/{repo}/blobs/uploads/")
    assert started.status == 202, started.status
    location = started.headers["Location"]
    path = location.split("://", 1)[-1]
    path = path[path.index("/") :] if not location.startswith("/") else location
    sep = "&" if "?" in path else "?"
    done = _request(
        host,
        "PUT",
        f"{path}{sep}digest={digest}",
        data,
        {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
    )
    assert done.status == 201, done.status
    return digest


def put_manifest(host: str, repo: str, ref: str, doc: dict[str, object], media_type: str) -> str:
    data = json.dumps(doc).encode()
    response = _request(
        host, "PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type}
    )
    assert response.status == 201, response.status
    return "sha256:" + hashlib.sha256(data).hexdigest()
