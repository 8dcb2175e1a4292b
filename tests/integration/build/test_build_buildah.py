"""Same result as buildah: for each Dockerfile, the image cais builds and the one
``buildah bud --format docker`` builds from the same context have the same files (paths,
content, modes, owners, symlinks) and the same config fields.

buildah runs in its own store with its own runroot; cais's busybox is exported with
``cais save`` and pulled into that store as ``docker-archive:``. VOLUME paths are ones that
exist (buildah makes the directories of VOLUME, Docker does not). buildah 1.28 has no
heredocs (those cases are in test_build_stages.py, against written expectations), and
it wraps a shell-form CMD/ENTRYPOINT in ``/bin/sh -c`` even after SHELL, where Docker
(and cais) use the SHELL: the cases put SHELL after CMD.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from buildsupport import BuildKit, FileEntry, walk

from anchors import Podman
from cais.engine import Engine
from cais.images.archive import save
from cais.images.bootstrap import bootstrap
from cais.oci.reference import parse_reference
from cais.settings import Settings

pytestmark = pytest.mark.interop

CONFIG_FIELDS = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Volumes",
    "Healthcheck",
    "StopSignal",
    "OnBuild",
)


class Buildah:
    """buildah in a private store (``tests/anchors.py``'s conventions)."""

    def __init__(self, store: Podman) -> None:
        self.store = store

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            [*self.store.args("buildah"), *args],
            capture_output=True,
            text=True,
            env=self.store.env(),
            cwd=cwd,
            check=False,
            timeout=600,
        )
        if proc.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def bud(self, context: Path, tag: str, *extra: str) -> None:
        self(
            "bud",
            "--format",
            "docker",
            "--isolation",
            "oci",
            "--network",
            "none",
            "-q",
            "-t",
            tag,
            *extra,
            str(context),
        )

    def files(self, image: str) -> dict[str, FileEntry]:
        container = self("from", "--pull=never", image).strip()
        try:
            root = Path(self("mount", container).strip())
            try:
                return walk(root)
            finally:
                self("umount", container)
        finally:
            self("rm", container)

    def config(self, image: str) -> dict[str, Any]:
        doc = json.loads(self("inspect", "--type", "image", image))
        config: dict[str, Any] = doc["Docker"]["config"]
        return config


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    base = tmp_path_factory.mktemp("buildah")
    store = Podman.create(base / "store")
    tool = Buildah(store)
    engine = Engine(Settings(root=base / "cais", runroot=base / "cais-run"))
    try:
        image = bootstrap(engine.images, "busybox")
        archive = base / "busybox.tar"
        with open(archive, "wb") as out:
            save(engine.images, [(image, [parse_reference("busybox")])], out)
        tool("pull", f"docker-archive:{archive}")
        yield tool
    finally:
        engine.close()
        with contextlib.suppress(Exception):
            tool("rm", "--all")
        store.reset()


def normalised(config: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for field in CONFIG_FIELDS:
        value = config.get(field)
        if field == "Labels" and value:
            value = {k: v for k, v in value.items() if k != "io.buildah.version"}
        if field == "User" and value == "root":
            value = ""
        if field == "Env" and value:
            # buildah moves a variable ENV sets again to the end; Docker (and cais) keep
            # its place. The variables and their values are what must agree.
            value = sorted(value)
        out[field] = value or None
    return out


def ours(kit: BuildKit, image_id: str) -> dict[str, Any]:
    image = kit.engine.image_store.resolve(image_id)
    return normalised(image.config.to_json()["config"])


def compare(kit: BuildKit, buildah: Buildah, name: str, **options: Any) -> dict[str, FileEntry]:
    """Build the context with both; assert same files and config; return our files."""
    dockerfile = (kit.context / "Dockerfile").read_text()
    built = kit(dockerfile, **options)
    extra: list[str] = []
    for key, value in (options.get("build_args") or {}).items():
        extra += ["--build-arg", f"{key}={value}"]
    if options.get("target"):
        extra += ["--target", options["target"]]
    buildah.bud(kit.context, f"localhost/{name}", *extra)
    mine = kit.files(built.image)
    theirs = buildah.files(f"localhost/{name}")
    if "run" in theirs and "run" not in mine and theirs["run"][0] == "dir":
        del theirs["run"]  # buildah leaves the mount point of its /run/.containerenv
    assert sorted(mine) == sorted(theirs)
    assert {k: v for k, v in mine.items() if v != theirs[k]} == {}
    assert ours(kit, str(built.image.id)) == normalised(buildah.config(f"localhost/{name}"))
    return mine


def test_instructions(kit: BuildKit, buildah: Buildah) -> None:
    os.makedirs(kit.context / "app" / "lib")
    kit.write(
        {
            "Dockerfile": """\
FROM busybox
MAINTAINER maintainer@example.com
ARG VERSION=1.0
ARG UNUSED
ENV APP=/srv/app LEGACY_FORM_VALUE="a b"
ENV LEGACY with spaces
ENV PATH=/srv/app/bin:$PATH
LABEL org.example.version=$VERSION "quoted key"="quoted value"
WORKDIR $APP
COPY app/ ./
COPY top.txt notes.md /srv/docs/
COPY *.txt /srv/glob/
COPY --chown=33:33 app /srv/owned/
COPY --chown=www-data app/lib /srv/named/
COPY --chmod=640 top.txt /srv/modes/
COPY link.txt hard.txt /srv/links/
WORKDIR sub/dir
RUN echo "$VERSION" > version && ln -s version latest && mkdir -p /var/cache/app
RUN ["/bin/sh", "-c", "echo exec form > /srv/app/exec"]
RUN rm -f /etc/group && rm -rf /var/www && mkdir -p /opt/replaced && touch /opt/replaced/x
RUN rm -rf /opt/replaced && mkdir /opt/replaced && echo new > /opt/replaced/y
USER www-data
WORKDIR /home/www
USER root
EXPOSE 8080 53/udp
VOLUME /var/cache/app /srv/app
VOLUME ["/home/www"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD wget -q -O- localhost
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hello
SHELL ["/bin/sh", "-e", "-c"]
RUN echo "shell: $0 $-" > /shell
""",
            "app/main.sh": "#!/bin/sh\necho main\n",
            "app/lib/util.sh": "util\n",
            "top.txt": "top\n",
            "other.txt": "other\n",
            "notes.md": "notes\n",
            "ignored.log": "nope\n",
            ".dockerignore": "*.log\n",
        }
    )
    os.chmod(kit.context / "app" / "main.sh", 0o755)
    os.chmod(kit.context / "app" / "lib", 0o750)
    (kit.context / "link.txt").symlink_to("top.txt")
    os.link(kit.context / "other.txt", kit.context / "hard.txt")
    files = compare(kit, buildah, "instructions", build_args={"VERSION": "2.5"})
    assert files["srv/app/sub/dir/version"][4] == "2.5\n"
    assert files["home/www"][2:4] == (33, 33)


def test_multi_stage(kit: BuildKit, buildah: Buildah) -> None:
    kit.write(
        {
            "Dockerfile": """\
FROM busybox AS build
WORKDIR /build
RUN echo compiled > app && chmod 750 app && chown 33:33 app \\
    && mkdir -p out/nested && touch out/nested/f
FROM busybox AS unused
RUN exit 1
FROM busybox
COPY --from=build /build/app /usr/local/bin/
COPY --from=build /build/out /out
CMD ["/usr/local/bin/app"]
""",
        }
    )
    files = compare(kit, buildah, "stages")
    assert files["usr/local/bin/app"][1:4] == (0o750, 33, 33)
    compare(kit, buildah, "stage-target", target="build")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "remote.txt").write_text("remote\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_add(kit: BuildKit, buildah: Buildah, served: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, mode in (
            ("pkg/bin/tool", b"#!/bin/sh\n", 0o755),
            ("pkg/README", b"r", 0o644),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), mode, 0, 0
            tar.addfile(info, io.BytesIO(data))
    (kit.context / "pkg.tar.gz").write_bytes(buf.getvalue())
    kit.write(
        {
            "plain.txt": "plain\n",
            "Dockerfile": f"""\
FROM busybox
ADD pkg.tar.gz /opt/
ADD plain.txt /opt/plain/
ADD --chown=33:33 --chmod=644 plain.txt /opt/owned.txt
ADD {served}/remote.txt /downloads/
""",
        }
    )
    files = compare(kit, buildah, "add")
    assert files["opt/pkg/bin/tool"][1] == 0o755


def test_onbuild(kit: BuildKit, buildah: Buildah) -> None:
    kit.write(
        {
            "Dockerfile": (
                "FROM busybox\nONBUILD COPY trigger.txt /triggered/\nONBUILD RUN echo ran > /ran\n"
            ),
            "trigger.txt": "t\n",
        }
    )
    parent = kit((kit.context / "Dockerfile").read_text(), tags=("localhost/onbuild-parent",))
    buildah.bud(kit.context, "localhost/onbuild-parent")
    assert parent.image.config.config.on_build
    (kit.context / "Dockerfile").write_text("FROM localhost/onbuild-parent\nRUN cat /ran\n")
    files = compare(kit, buildah, "onbuild-child")
    assert files["triggered/trigger.txt"][4] == "t\n"
