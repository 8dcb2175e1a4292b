"""Multi-stage builds, --target, COPY --from, heredocs, ADD, and errors that name the line."""

from __future__ import annotations

import gzip
import http.server
import io
import tarfile
import threading
from collections.abc import Callable, Iterator

import pytest
from buildsupport import BuildKit, leftovers

from cais.build.errors import BuildStepError, DockerfileError, RunFailedError
from cais.engine import Engine
from cais.errors import CaisError

STAGES = """\
FROM busybox AS builder
RUN mkdir /out && echo artifact > /out/app && chown 33:33 /out/app

FROM busybox AS broken
RUN echo "this stage is never needed" && exit 1

FROM builder AS tester
RUN test -f /out/app && echo tested > /out/test-report

FROM busybox
COPY --from=builder /out/app /usr/local/bin/app
COPY --from=0 /out /out-by-index/
CMD ["cat", "/usr/local/bin/app"]
"""


def test_unneeded_stages_are_not_built(kit: BuildKit, run_image: Callable[..., str]) -> None:
    built = kit(STAGES, tags=("multi:1",))
    assert "never needed" not in built.output
    assert "[broken" not in built.output and "[tester" not in built.output
    assert run_image("multi:1") == "artifact\n"
    files = kit.files(built.image)
    assert files["usr/local/bin/app"][2:4] == (33, 33)  # owners come along from a stage
    assert files["out-by-index/app"][4] == "artifact\n"
    assert "out" not in files  # the builder's layers are not in the final image
    busybox_layers = 1
    assert len(built.image.config.diff_ids) == busybox_layers + 2


def test_target(kit: BuildKit) -> None:
    built = kit(STAGES, target="tester")
    assert "[tester" in built.output and "[stage-3" not in built.output
    assert kit.files(built.image, "/out")["test-report"][4] == "tested\n"
    with pytest.raises(CaisError, match="target stage 'nope' could not be found"):
        kit(STAGES, target="nope")


def test_copy_from_an_image_and_global_args(kit: BuildKit, engine: Engine) -> None:
    kit("FROM busybox\nRUN echo from-image > /marker\n", tags=("source:1",))
    built = kit(
        """\
ARG SRC=source:1
ARG BASE=busybox
FROM ${BASE}
ARG SRC
COPY --from=source:1 /marker /copied
RUN echo "$SRC" > /src-arg
"""
    )
    files = kit.files(built.image)
    assert files["copied"][4] == "from-image\n"
    assert files["src-arg"][4] == "source:1\n"


def test_copy_from_a_later_stage_is_refused(kit: BuildKit) -> None:
    with pytest.raises(BuildStepError, match=r"Dockerfile:2: .*needs to be defined before"):
        kit("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n", target="a")


def test_heredocs_against_written_expectations(kit: BuildKit) -> None:
    built = kit(
        """\
FROM busybox
ARG NAME=world
RUN <<EOF
echo "hello $NAME" > /greeting
echo line two >> /greeting
EOF
RUN <<-'SCRIPT'
	#!/bin/sh
	echo "script at $0" > /script-path
	SCRIPT
RUN cat <<EOF1 > /one && cat <<EOF2 > /two
first
EOF1
second
EOF2
COPY <<EOF /etc/app.conf
name=$NAME
EOF
COPY <<"RAW" <<CONF /heredocs/
raw $NAME
RAW
conf $NAME
CONF
"""
    )
    files = kit.files(built.image)
    assert files["greeting"][4] == "hello world\nline two\n"
    assert files["script-path"][4] == "script at /dev/pipes/SCRIPT\n"
    assert files["one"][4] == "first\n" and files["two"][4] == "second\n"
    assert files["etc/app.conf"][4] == "name=world\n"
    assert files["heredocs/RAW"][4] == "raw $NAME\n"
    assert files["heredocs/CONF"][4] == "conf world\n"
    assert files["etc/app.conf"][1] == 0o644
    assert "dev/pipes" not in {p[:9] for p in files}


@pytest.fixture
def web() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving two files."""
    payload = {"/tool.sh": b"#!/bin/sh\necho tool\n", "/data.tar.gz": _tar_gz({"x": b"x"})}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = payload.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(body)

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


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o640, 7, 8
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def test_add_urls_and_archives(kit: BuildKit, web: str) -> None:
    (kit.context / "local.tar.gz").write_bytes(_tar_gz({"dir/inside": b"unpacked"}))
    built = kit(
        f"""\
FROM busybox
ADD local.tar.gz /extracted/
ADD --unpack=false local.tar.gz /kept/
ADD {web}/tool.sh /usr/local/bin/
ADD --chmod=755 --chown=33:33 {web}/tool.sh /tools/run
ADD {web}/data.tar.gz /remote/
"""
    )
    files = kit.files(built.image)
    assert files["extracted/dir/inside"][:5] == ("file", 0o640, 7, 8, "unpacked")
    assert files["kept/local.tar.gz"][0] == "file"
    assert files["usr/local/bin/tool.sh"][1] == 0o600  # Docker's mode for downloads
    assert files["tools/run"][1:4] == (0o755, 33, 33)
    assert files["remote/data.tar.gz"][0] == "file"  # remote archives are not unpacked


def test_add_checksum(kit: BuildKit, web: str) -> None:
    with pytest.raises(BuildStepError, match="checksum mismatch"):
        kit(f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {web}/tool.sh /t\n")


# errors: they name the line, tag nothing, leave nothing


def _fails(kit: BuildKit, engine: Engine, dockerfile: str, files: dict[str, str | bytes]) -> str:
    with pytest.raises(CaisError) as info:
        kit(dockerfile, files, tags=("never:tagged",))
    assert engine.image_store.lookup_name(_ref("never:tagged")) is None
    assert leftovers(engine) == []
    return str(info.value)


def _ref(text: str) -> object:
    from cais.oci.reference import parse_reference

    return parse_reference(text)


def test_run_failure_shows_exit_code_and_output(kit: BuildKit, engine: Engine) -> None:
    dockerfile = (
        "FROM busybox\nCOPY a /a\nRUN echo one\nRUN touch /half && echo oops >&2 && exit 3\n"
    )
    with pytest.raises(RunFailedError) as info:
        kit(dockerfile, {"a": "a"}, tags=("never:tagged",))
    err = info.value
    assert str(err).startswith("Dockerfile:4: RUN exited with code 3\n")
    assert err.code == 3 and "oops" in err.output
    assert engine.image_store.lookup_name(_ref("never:tagged")) is None  # type: ignore[arg-type]
    assert leftovers(engine) == []
    # the steps before the failure are cached for the next try
    fixed = kit(dockerfile.replace("exit 3", "true"), tags=("fixed:1",))
    assert fixed.output.count("CACHED") == 2


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM busybox\nRUNN echo\n", "Dockerfile:2: unknown instruction: RUNN"),
        ("FROM busybox\nENV A\n", "Dockerfile:2: ENV must have two arguments"),
        ("RUN echo\n", "Dockerfile:1: no build stage in current context"),
        (
            "FROM busybox\nCOPY missing.txt /\n",
            'Dockerfile:2: COPY failed: "missing.txt" not found',
        ),
        ("FROM busybox\nCOPY ../outside /\n", "Dockerfile:2: COPY failed: forbidden path outside"),
        ("FROM busybox\nCOPY a b /not-a-dir\n", "Dockerfile:2: When using COPY with more than one"),
        ("FROM nothere:1\n", 'Dockerfile:1: base image "nothere:1": not found locally'),
        ("FROM busybox\nUSER nobody-here\nRUN true\n", "Dockerfile:3: RUN could not start"),
        ("FROM busybox\nEXPOSE 80/xtp\n", "Dockerfile:2: invalid proto"),
        ("FROM busybox\nCOPY --chown=nosuchuser a /a\n", "Dockerfile:2: unable to convert"),
        ("FROM busybox\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc"),
    ],
)
def test_errors_name_the_line(kit: BuildKit, engine: Engine, dockerfile: str, message: str) -> None:
    text = _fails(kit, engine, dockerfile, {"a": "a", "b": "b"})
    assert text.startswith(message), text


def test_parse_errors_happen_before_anything_runs(kit: BuildKit, engine: Engine) -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:3"):
        kit("FROM busybox\nRUN touch /x\nBOGUS\n")
    assert engine.container_store.all() == []
    assert len(engine.image_store.all()) == 1  # only busybox: nothing was built
