"""``cais build`` and ``cais builder prune`` through the real entry point."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from cais.engine import Engine
from cais.settings import Settings
from helpers import Cli

DOCKERFILE = 'FROM busybox\nARG WHO=nobody\nRUN echo "hi $WHO" > /hi\nCMD ["cat", "/hi"]\n'


def test_quiet_prints_only_the_id_and_iidfile(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    iid = tmp_path / "iid"
    result = ccli("build", "-q", "-t", "hello:1", "--iidfile", str(iid), str(tmp_path))
    assert result.out.startswith("sha256:") and len(result.out.strip()) == 71
    assert result.err == ""
    assert iid.read_text() == result.out.strip()
    assert ccli("run", "--rm", "hello:1").out == "hi nobody\n"


def test_progress_build_args_labels_and_file(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    other = tmp_path / "web.Dockerfile"
    other.write_text(DOCKERFILE)
    result = ccli(
        "build",
        "--progress=plain",
        "-f",
        str(other),
        "--build-arg",
        "WHO=cais",
        "--build-arg",
        "UNUSED=1",
        "--label",
        "team=infra",
        "-t",
        "hello:2",
        str(tmp_path / "ctx"),
    )
    assert result.out == ""
    assert '#3 [stage-0 3/4] RUN echo "hi $WHO" > /hi' in result.err
    assert "#3 DONE" in result.err
    assert "build-args ['UNUSED'] were not consumed" in result.err
    assert "naming to docker.io/library/hello:2 done" in result.err
    assert ccli("run", "--rm", "hello:2").out == "hi cais\n"
    labels = ccli("image", "inspect", "hello:2", "--format", "{{json .Config.Labels}}").out
    assert '"team": "infra"' in labels or '"team":"infra"' in labels
    again = ccli(
        "build",
        "--progress=plain",
        "-f",
        str(other),
        "--build-arg",
        "WHO=cais",
        str(tmp_path / "ctx"),
    )
    assert again.err.count("CACHED") == 3


def test_dockerfile_and_context_on_stdin(ccli: Cli) -> None:
    result = ccli("build", "-q", "-", input=b"FROM busybox\nRUN echo stdin > /s\n")
    image = result.out.strip()
    assert ccli("run", "--rm", image, "cat", "/s").out == "stdin\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"Dockerfile": b"FROM busybox\nCOPY f /f\n", "f": b"from tar\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    image = ccli("build", "-q", "-", input=buf.getvalue()).out.strip()
    assert ccli("run", "--rm", image, "cat", "/f").out == "from tar\n"


def test_errors_exit_non_zero_and_name_the_line(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    result = ccli("build", "-t", "bad:1", str(tmp_path), check=False)
    assert result.code == 1
    assert "Error: Dockerfile:2: RUN exited with code 7" in result.err
    assert "bad" not in ccli("images").out
    missing = ccli("build", str(tmp_path / "nope"), check=False)
    assert missing.code == 125 and "not found" in missing.err


def _output(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _net_state(settings: Settings) -> dict[str, list[str]]:
    """What a RUN's network could leave on the host: namespaces under the run root, veths
    on the default bridge, address leases, firewall rules naming its subnet."""
    engine = Engine(settings)
    try:
        network = engine.networks.default()
        leases = engine.networks.ipam_dir / network.name
        prefix = network.subnet.rsplit(".", 1)[0] + "."
        netns_dir = settings.runroot / "netns"
        links = _output("ip", "-o", "link")
        rules = _output("iptables-save")
        return {
            "netns": sorted(os.listdir(netns_dir)) if netns_dir.exists() else [],
            "veths": [ln for ln in links.splitlines() if f"master {network.bridge} " in ln],
            "leases": sorted(p.name for p in leases.glob("[0-9]*")) if leases.exists() else [],
            "rules": sorted(ln for ln in rules.splitlines() if prefix in ln),
            "subnet": [network.subnet],
        }
    finally:
        engine.close()


def test_network_modes(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN ip -o addr | awk '$3 == \"inet\" {print $2, $4}' | sort > /addrs\n"
    )

    def addresses(*flags: str) -> dict[str, str]:
        image = ccli("build", "-q", *flags, str(tmp_path)).out.strip()
        out = ccli("run", "--rm", "--network", "none", image, "cat", "/addrs").out
        return dict(line.split() for line in out.splitlines())

    ccli("run", "--rm", "busybox", "true")  # the default network exists before the build
    before = _net_state(ccli.settings)
    # RUN is on the default bridge network, as Docker's and buildah's (and cais run's)
    default = addresses()
    assert sorted(default) == ["eth0", "lo"]
    assert default["eth0"].startswith(before["subnet"][0].rsplit(".", 1)[0] + ".")
    assert _net_state(ccli.settings) == before  # given back when the step ended
    assert sorted(addresses("--network", "none")) == ["lo"]
    assert sorted(addresses("--no-cache", "--network", "bridge")) == ["eth0", "lo"]
    assert len(addresses("--network", "host")) > 1
    ccli("network", "create", "build-net")
    assert sorted(addresses("--network", "build-net")) == ["eth0", "lo"]
    assert _net_state(ccli.settings) == before
    missing = ccli("build", "--network", "nope", str(tmp_path), check=False)
    assert missing.code == 125 and "network 'nope' not found" in missing.err


def test_images_hide_intermediates_and_builder_prune(ccli: Cli, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    ccli("build", "-q", "-t", "pruned:1", str(tmp_path))
    listed = ccli("images", "-q").out.split()
    everything = ccli("images", "-a", "-q").out.split()
    assert len(listed) == 2 and len(everything) == 4
    result = ccli("builder", "prune", "-f")
    assert "Deleted build cache objects: 2" in result.out
    assert len(ccli("images", "-a", "-q").out.split()) == 2
    assert ccli("run", "--rm", "pruned:1").out == "hi nobody\n"
    rebuilt = ccli("build", "--progress=plain", "-t", "pruned:1", str(tmp_path))
    assert "CACHED" not in rebuilt.err


def test_from_pulls_a_missing_base_image(ccli: Cli, tmp_path: Path) -> None:
    from cais.engine import Engine
    from cais.settings import Settings
    from helpers import cleanup_engine
    from integration.distribution.dist_servers import start_cais_registry

    server = start_cais_registry(tmp_path / "registry")
    settings = Settings(root=tmp_path / "fresh" / "root", runroot=tmp_path / "fresh" / "run")
    fresh = Cli(settings)
    try:
        ref = f"{server.host}/base/busybox:1"
        ccli("push", "busybox", ref)
        context = tmp_path / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {ref}\nRUN echo pulled > /p\n")
        never = fresh("build", "--pull", "never", str(context), check=False)
        assert never.code == 1 and f'base image "{ref}": not found locally' in never.err
        built = fresh("build", "-q", "-t", "pulled:1", str(context))
        assert fresh("run", "--rm", "pulled:1", "cat", "/p").out == "pulled\n"
        assert fresh("images", "-q").out.split() != []
        assert built.out.startswith("sha256:")
    finally:
        server.stop()
        engine = Engine(settings)
        cleanup_engine(engine)
        engine.close()
