"""A container's configuration: the image's defaults, overridden by what the user asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cais.errors import InvalidArgumentError
from cais.oci.runtime_spec import Resources
from cais.runtime.flags import merge_env, parse_signal
from cais.runtime.model import ContainerConfig, HealthCheck, MountRequest, RestartPolicy

if TYPE_CHECKING:
    from cais.images.store import Image

NS = 1_000_000_000
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RunOptions:
    """What ``cais run``/``create`` flags and the ECS agent can ask for."""

    command: tuple[str, ...] = ()
    entrypoint: str | None = None  # "" clears the image's entrypoint
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str | None = None
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str = ""
    stop_timeout: int | None = None
    healthcheck: HealthCheck | None = None
    no_healthcheck: bool = False
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    init: bool = False
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    seccomp: str = ""
    resources: Resources = field(default_factory=Resources)
    mounts: tuple[MountRequest, ...] = ()
    network: str = "bridge"
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    runtime: str = "crun"
    publish: tuple[str, ...] = ()
    publish_all: bool = False
    network_aliases: tuple[str, ...] = ()
    ip: str = ""
    log_size_max: int = 0
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name as "nofile", soft, hard)
    cgroup_parent: str = ""


def configure(image: Image, image_name: str, opts: RunOptions) -> ContainerConfig:
    """Merge the image config and the options the way ``docker run`` does."""
    img = image.config.config
    if opts.entrypoint is not None:
        entrypoint: tuple[str, ...] = (opts.entrypoint,) if opts.entrypoint else ()
        cmd = opts.command  # a new entrypoint drops the image's CMD
    else:
        entrypoint = img.entrypoint or ()
        cmd = opts.command or img.cmd or ()
    args = (*entrypoint, *cmd)
    if not args:
        raise InvalidArgumentError("no command specified")
    env = merge_env(img.env or (DEFAULT_PATH,), list(opts.env))
    if not any(e.startswith("PATH=") for e in env):
        env = (DEFAULT_PATH, *env)
    if opts.tty and not any(e.startswith("TERM=") for e in env):
        env = (*env, "TERM=xterm")
    if opts.hostname:
        env = (*env, f"HOSTNAME={opts.hostname}")
    health = None
    if not opts.no_healthcheck:
        health = opts.healthcheck or _image_health(image)
    mounts = list(opts.mounts)
    taken = {m.target for m in mounts}
    for volume in img.volumes:
        if volume not in taken:
            mounts.append(MountRequest("volume", volume, anonymous=True))
    return ContainerConfig(
        image=image_name,
        image_id=str(image.id),
        args=args,
        env=env,
        working_dir=opts.working_dir or img.working_dir or "/",
        user=img.user if opts.user is None else opts.user,
        hostname=opts.hostname,
        labels={**img.labels, **opts.labels},
        tty=opts.tty,
        stdin_open=opts.stdin_open,
        entrypoint=entrypoint or None,
        cmd=cmd or None,
        stop_signal=parse_signal(opts.stop_signal or img.stop_signal or "SIGTERM"),
        stop_timeout=10 if opts.stop_timeout is None else opts.stop_timeout,
        healthcheck=health,
        restart=opts.restart,
        auto_remove=opts.auto_remove,
        init=opts.init,
        read_only=opts.read_only,
        privileged=opts.privileged,
        cap_add=opts.cap_add,
        cap_drop=opts.cap_drop,
        no_new_privileges=opts.no_new_privileges,
        seccomp=opts.seccomp,
        resources=opts.resources,
        mounts=tuple(mounts),
        network=opts.network,
        dns=opts.dns,
        dns_search=opts.dns_search,
        extra_hosts=opts.extra_hosts,
        runtime=opts.runtime,
        log_size_max=opts.log_size_max,
        ulimits=opts.ulimits,
        cgroup_parent=opts.cgroup_parent,
        exposed_ports=img.exposed_ports,
        publish=opts.publish,
        publish_all=opts.publish_all,
        network_aliases=opts.network_aliases,
        ip=opts.ip,
    )


def _image_health(image: Image) -> HealthCheck | None:
    hc = image.config.config.healthcheck
    if hc is None or not hc.test or hc.test[0] == "NONE":
        return None
    return HealthCheck(
        test=hc.test,
        interval=(hc.interval_ns or 30 * NS) / NS,
        timeout=(hc.timeout_ns or 30 * NS) / NS,
        start_period=hc.start_period_ns / NS,
        retries=hc.retries or 3,
    )
