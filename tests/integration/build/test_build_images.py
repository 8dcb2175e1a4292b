"""Builds of real Dockerfiles: files, config, history, layers, the cache, intermediates."""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Callable

from buildsupport import BuildKit, Built

from cais.engine import Engine
from cais.oci import mediatypes as mt

APP = """\
FROM busybox
ARG VERSION=1
ENV APP_HOME=/srv/app GREETING="hello world"
WORKDIR $APP_HOME
COPY app/ ./
RUN echo "version $VERSION" > version && echo built
RUN echo "$GREETING" > greeting
EXPOSE 8080
CMD ["cat", "/srv/app/version"]
"""
APP_FILES: dict[str, str | bytes] = {"app/main.sh": "echo main\n", "app/lib/util.sh": "echo u\n"}


def step_states(built: Built) -> dict[str, str]:
    """Each step's text → CACHED or DONE, from the plain progress output."""
    titles: dict[str, str] = {}
    states: dict[str, str] = {}
    for line in built.output.splitlines():
        match = re.match(r"#(\d+) \[[^\]]+\] (.*)$", line)
        if match:
            titles[match.group(1)] = match.group(2)
            continue
        match = re.match(r"#(\d+) (CACHED|DONE)", line)
        if match and not titles[match.group(1)].startswith("FROM "):
            states[titles[match.group(1)]] = match.group(2)
    return states


def test_build_runs_and_describes_the_image(
    kit: BuildKit, run_image: Callable[..., str], engine: Engine
) -> None:
    built = kit(APP, APP_FILES, tags=("app:1",))
    assert run_image("app:1") == "version 1\n"
    image = engine.image_store.resolve("app:1")
    assert image.id == built.image.id
    cfg = image.config.config
    assert cfg.working_dir == "/srv/app"
    assert "APP_HOME=/srv/app" in cfg.env and "GREETING=hello world" in cfg.env
    assert not any(e.startswith("VERSION=") for e in cfg.env)  # ARG values stay out
    assert cfg.exposed_ports == ("8080/tcp",)
    assert cfg.cmd == ("cat", "/srv/app/version")
    files = kit.files(image, "/srv/app")
    assert files["main.sh"][0] == "file" and files["lib/util.sh"][4] == "echo u\n"
    assert files["greeting"][4] == "hello world\n"
    history = image.config.history
    texts = [h.created_by for h in history[1:]]
    assert texts[0] == "ARG VERSION=1"
    assert texts[2] == "WORKDIR /srv/app"
    assert re.match(r"COPY dir:[0-9a-f]{64} in /srv/app/$", texts[3])
    assert texts[4] == 'RUN |1 VERSION=1 /bin/sh -c echo "version $VERSION" > version && echo built'
    empty = [h.empty_layer for h in history[1:]]
    assert empty == [True, True, False, False, False, False, True, True]
    assert len(image.config.diff_ids) == 1 + empty.count(False)
    assert "#6 0." in built.output and " built" in built.output  # RUN output streamed


def test_unchanged_rebuild_is_all_cached_and_the_same_image(kit: BuildKit) -> None:
    first = kit(APP, APP_FILES)
    again = kit(APP)
    assert again.image.id == first.image.id
    assert set(step_states(again).values()) == {"CACHED"}
    assert again.result.cached == again.result.steps == 8


def test_changed_source_file_misses_from_the_copy(kit: BuildKit) -> None:
    first = kit(APP, APP_FILES)
    second = kit(APP, {"app/main.sh": "echo changed\n"})
    states = step_states(second)
    assert states["WORKDIR $APP_HOME"] == "CACHED"
    assert states["COPY app/ ./"] == "DONE"
    assert states['RUN echo "$GREETING" > greeting'] == "DONE"
    assert second.image.id != first.image.id


def test_changed_mode_misses(kit: BuildKit) -> None:
    kit(APP, APP_FILES)
    os.chmod(kit.context / "app" / "main.sh", 0o755)
    states = step_states(kit(APP))
    assert states["COPY app/ ./"] == "DONE"
    assert states['ENV APP_HOME=/srv/app GREETING="hello world"'] == "CACHED"


ARG_USE = """\
FROM busybox
ARG V
COPY f /f
ENV E=static
RUN echo "v=$V" > /v
"""


def test_changed_build_arg_misses_where_first_used(
    kit: BuildKit, run_image: Callable[..., str]
) -> None:
    kit(ARG_USE, {"f": "data\n"}, build_args={"V": "1"})
    second = kit(ARG_USE, build_args={"V": "2"}, tags=("arg:2",))
    assert step_states(second) == {
        "ARG V": "CACHED",
        "COPY f /f": "CACHED",
        "ENV E=static": "CACHED",
        'RUN echo "v=$V" > /v': "DONE",  # RUN sees every ARG in scope
    }
    assert run_image("arg:2", "cat", "/v") == "v=2\n"
    history = [h.created_by for h in second.image.config.history[1:]]
    assert history[0] == "ARG V" and history[-1].startswith("RUN |1 V=2 ")
    # the same arguments again: a hit
    assert set(step_states(kit(ARG_USE, build_args={"V": "2"})).values()) == {"CACHED"}


def test_changed_build_arg_misses_a_step_that_expands_it(kit: BuildKit) -> None:
    dockerfile = "FROM busybox\nARG V=1\nENV E=static\nLABEL v=$V\nWORKDIR /w\n"
    kit(dockerfile)
    second = kit(dockerfile, build_args={"V": "2"})
    assert step_states(second) == {
        "ARG V=1": "CACHED",
        "ENV E=static": "CACHED",
        "LABEL v=$V": "DONE",
        "WORKDIR /w": "DONE",
    }
    assert second.image.config.config.labels["v"] == "2"


def test_changed_earlier_step_misses_every_later_step(kit: BuildKit) -> None:
    kit(APP, APP_FILES)
    changed = APP.replace("EXPOSE 8080", "EXPOSE 9090").replace(
        'RUN echo "$GREETING"', 'RUN echo "$GREETING!"'
    )
    states = step_states(kit(changed))
    order = list(states)
    first_miss = order.index('RUN echo "$GREETING!" > greeting')
    assert all(states[s] == "CACHED" for s in order[:first_miss])
    assert all(states[s] == "DONE" for s in order[first_miss:])


def test_no_cache_builds_everything(kit: BuildKit) -> None:
    kit(APP, APP_FILES)
    states = step_states(kit(APP, no_cache=True))
    assert set(states.values()) == {"DONE"}


def test_intermediate_images_are_hidden(kit: BuildKit, engine: Engine) -> None:
    built = kit(APP, APP_FILES, tags=("app:1",))
    images = engine.image_store.all()
    shown = [i for i in images if not i.intermediate]
    assert {str(t) for i in shown for t in i.tags} == {
        "docker.io/library/app:1",
        "docker.io/library/busybox:latest",
    }
    assert len(images) - len(shown) == 7  # one per step but the last
    assert built.image.intermediate is False


def test_deletions_become_whiteouts_and_layers_are_plain_tars(
    kit: BuildKit, engine: Engine
) -> None:
    built = kit("FROM busybox\nRUN rm /etc/group && rm -r /var/www && touch /new\n")
    manifest = engine.image_store.read_manifest(built.image.manifest_digest)
    layer = manifest.layers[-1]
    assert layer.media_type == mt.DOCKER_LAYER
    with tarfile.open(fileobj=io.BytesIO(engine.content.read(layer.digest))) as tar:
        names = sorted(tar.getnames())
    assert "etc/.wh.group" in names and "var/.wh.www" in names and "new" in names
    files = kit.files(built.image)
    assert "etc/group" not in files and "var/www" not in files and "new" in files
    # the runtime's mount points are not part of the layer
    assert not any(n.startswith(("proc", "sys", "dev", "etc/hosts")) for n in names)


METADATA = """\
FROM busybox
LABEL a=1 "b c"="d e"
MAINTAINER someone
USER www-data
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /etc/passwd
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT echo entry
ONBUILD RUN echo triggered > /tmp/onbuild
"""


def test_metadata_instructions(kit: BuildKit, engine: Engine) -> None:
    built = kit(METADATA, labels={"from.cli": "yes"})
    image = built.image
    cfg = image.config.config
    assert cfg.labels == {"a": "1", "b c": "d e", "from.cli": "yes"}
    again = kit(METADATA, labels={"from.cli": "yes"})
    assert again.image.id == image.id  # --label too gives the same image for the same build
    assert image.config.author == "someone"
    assert cfg.user == "www-data"
    assert cfg.volumes == ("/data", "/logs")
    assert cfg.stop_signal == "SIGQUIT"
    assert cfg.healthcheck is not None
    assert cfg.healthcheck.test == ("CMD-SHELL", "test -f /etc/passwd")
    assert (cfg.healthcheck.interval_ns, cfg.healthcheck.retries) == (5 * 10**9, 4)
    assert cfg.shell == ("/bin/sh", "-ec")
    assert cfg.entrypoint == ("/bin/sh", "-ec", "echo entry")
    assert cfg.cmd is None
    assert cfg.on_build == ("RUN echo triggered > /tmp/onbuild",)
    assert all(h.empty_layer for h in image.config.history[1:])
    assert len(image.config.diff_ids) == 1
    # a child triggers the ONBUILD, and does not keep it
    child = kit(f"FROM {image.id}\nRUN cat /tmp/onbuild\n")
    assert "#3 0." in child.output and "triggered" in child.output
    assert child.image.config.config.on_build == ()
    assert "tmp/onbuild" in kit.files(child.image)


def test_workdir_is_created_with_the_user_as_owner(kit: BuildKit) -> None:
    built = kit("FROM busybox\nUSER www-data\nWORKDIR /home/app/data\nWORKDIR rel\nUSER root\n")
    files = kit.files(built.image, "/home/app")
    assert files["data"][:4] == ("dir", 0o755, 33, 33)
    assert files["data/rel"][:4] == ("dir", 0o755, 33, 33)
    assert built.image.config.config.working_dir == "/home/app/data/rel"


def test_dockerignore_applies_to_the_context(kit: BuildKit) -> None:
    built = kit(
        "FROM busybox\nCOPY . /ctx/\n",
        {
            ".dockerignore": "*.log\nsecret/\n!secret/public.txt\nDockerfile\n",
            "Dockerfile": "ignored",
            "keep.txt": "k",
            "debug.log": "d",
            "secret/key": "k",
            "secret/public.txt": "p",
        },
    )
    assert sorted(kit.files(built.image, "/ctx")) == [
        ".dockerignore",
        "keep.txt",
        "secret",
        "secret/public.txt",
    ]


def test_copy_semantics(kit: BuildKit) -> None:
    os.makedirs(kit.context / "dir" / "sub")
    kit.write({"dir/a": "a", "dir/sub/b": "b", "f1": "1", "f2": "2", "owned": "o"})
    os.chown(kit.context / "owned", 1000, 1000)
    (kit.context / "lnk").symlink_to("f1")
    built = kit(
        """\
FROM busybox
COPY dir /copied
COPY dir /existing-parent/
COPY f1 f2 /multi/
COPY f* /glob/
COPY owned /owned
COPY --chown=33:33 dir /chowned/deep/
COPY --chmod=600 f1 /modes/
COPY lnk /followed
WORKDIR /w
COPY f1 relative
"""
    )
    files = kit.files(built.image)
    assert files["copied/a"][4] == "a" and files["copied/sub/b"][4] == "b"
    assert "copied/dir" not in files
    assert "existing-parent/a" in files
    assert {"multi/f1", "multi/f2", "glob/f1", "glob/f2"} <= set(files)
    assert files["owned"][2:4] == (0, 0)
    assert files["chowned"][2:4] == (33, 33) and files["chowned/deep/sub/b"][2:4] == (33, 33)
    assert files["modes/f1"][1] == 0o600
    assert files["followed"][:1] == ("file",) and files["followed"][4] == "1"
    assert files["w/relative"][4] == "1"


def test_proxy_args_reach_run_but_not_history_or_cache(kit: BuildKit) -> None:
    dockerfile = 'FROM busybox\nRUN echo "proxy=$HTTP_PROXY no=$no_proxy" > /proxy\n'
    built = kit(dockerfile, build_args={"HTTP_PROXY": "http://proxy:3128", "no_proxy": "x"})
    assert kit.files(built.image)["proxy"][4] == "proxy=http://proxy:3128 no=x\n"
    assert "proxy:3128" not in built.image.config.history[-1].created_by
    assert built.result.warnings == ()
    again = kit(dockerfile, build_args={"HTTP_PROXY": "http://other:8080"})
    assert again.image.id == built.image.id  # a proxy is not an input of the step
