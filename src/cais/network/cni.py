"""Running CNI plugins (the spec's ADD/DEL/CHECK), as libcni does for a conflist.

Plugins are executables in ``/usr/lib/cni`` (Debian's containernetworking-plugins): each
gets its config on stdin (with ``prevResult`` from the plugin before it) and the request in
``CNI_*`` environment variables, and answers with a JSON result or a JSON error.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cais.errors import CaisError

CNI_VERSION = "1.0.0"
PLUGIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


class CniError(CaisError):
    """A plugin failed; the message is the plugin's own."""


@dataclass(frozen=True)
class CniRequest:
    container_id: str
    netns: str
    ifname: str
    args: Mapping[str, str] = field(default_factory=dict)
    runtime_config: Mapping[str, Any] = field(default_factory=dict)


def plugin_path(kind: str, dirs: Sequence[str] = PLUGIN_DIRS) -> str:
    for d in dirs:
        path = Path(d) / kind
        if path.exists():
            return str(path)
    raise CniError(
        f"CNI plugin {kind!r} not found in {', '.join(dirs)} "
        "(Debian package containernetworking-plugins)"
    )


def _env(command: str, request: CniRequest) -> dict[str, str]:
    args = ";".join(["IgnoreUnknown=1", *(f"{k}={v}" for k, v in request.args.items())])
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": request.container_id,
        "CNI_NETNS": request.netns,
        "CNI_IFNAME": request.ifname,
        "CNI_PATH": ":".join(PLUGIN_DIRS),
        "CNI_ARGS": args,
    }


def invoke(command: str, conf: Mapping[str, Any], request: CniRequest) -> dict[str, Any]:
    """Run one plugin; returns its result (empty for DEL/CHECK)."""
    proc = subprocess.run(
        [plugin_path(str(conf["type"]))],
        input=json.dumps(conf).encode(),
        env=_env(command, request),
        capture_output=True,
        check=False,
    )
    text = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        message = text or proc.stderr.decode(errors="replace").strip()
        try:
            doc = json.loads(message)
            message = str(doc.get("msg") or message)
            if doc.get("details"):
                message += f": {doc['details']}"
        except ValueError:
            pass
        raise CniError(f"CNI {conf['type']} {command}: {message}")
    if not text:
        return {}
    result: dict[str, Any] = json.loads(text)
    return result


def _plugin_conf(
    conflist: Mapping[str, Any],
    plugin: Mapping[str, Any],
    request: CniRequest,
    prev: dict[str, Any] | None,
) -> dict[str, Any]:
    conf = {
        "cniVersion": conflist.get("cniVersion", CNI_VERSION),
        "name": conflist["name"],
        **plugin,
    }
    capabilities = plugin.get("capabilities") or {}
    runtime = {k: v for k, v in request.runtime_config.items() if capabilities.get(k)}
    if runtime:
        conf["runtimeConfig"] = runtime
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def add(conflist: Mapping[str, Any], request: CniRequest) -> dict[str, Any]:
    """ADD through every plugin in order; on failure, DEL what was added, then raise."""
    result: dict[str, Any] | None = None
    done: list[Mapping[str, Any]] = []
    try:
        for plugin in conflist["plugins"]:
            out = invoke("ADD", _plugin_conf(conflist, plugin, request, result), request)
            done.append(plugin)
            result = out or result
    except CniError:
        delete(conflist, request, result, plugins=done)
        raise
    return result or {}


def delete(
    conflist: Mapping[str, Any],
    request: CniRequest,
    prev: dict[str, Any] | None,
    *,
    plugins: Sequence[Mapping[str, Any]] | None = None,
) -> list[str]:
    """DEL in reverse order with the cached ADD result; returns the errors (best effort)."""
    errors = []
    for plugin in reversed(list(plugins if plugins is not None else conflist["plugins"])):
        try:
            invoke("DEL", _plugin_conf(conflist, plugin, request, prev), request)
        except CniError as exc:
            errors.append(str(exc))
    return errors


ALL_PLUGINS = ("bridge", "portmap", "firewall")


def bridge_conflist(
    *,
    name: str,
    bridge: str,
    subnet: str,
    gateway: str,
    internal: bool,
    ipam_dir: Path,
    plugins: Sequence[str] = ALL_PLUGINS,
) -> dict[str, Any]:
    """The conflist of a cais bridge network: bridge (host-local IPAM) → portmap → firewall.

    ``plugins`` picks the ones an endpoint needs (portmap only with published ports, the
    firewall only where the host's FORWARD policy would drop container traffic): each
    plugin costs tens of milliseconds per ADD and DEL.
    """
    ipam: dict[str, Any] = {
        "type": "host-local",
        "ranges": [[{"subnet": subnet, "gateway": gateway}]],
        "dataDir": str(ipam_dir),
    }
    if not internal:
        ipam["routes"] = [{"dst": "0.0.0.0/0"}]
    every: list[dict[str, Any]] = [
        {
            "type": "bridge",
            "bridge": bridge,
            "isGateway": True,
            "ipMasq": not internal,
            "hairpinMode": True,
            "ipam": ipam,
        },
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        {"type": "firewall", "backend": "iptables"},
    ]
    chosen = [p for p in every if p["type"] in plugins]
    return {"cniVersion": CNI_VERSION, "name": name, "plugins": chosen}


def loopback_conflist() -> dict[str, Any]:
    return {"cniVersion": CNI_VERSION, "name": "cais-loopback", "plugins": [{"type": "loopback"}]}
