"""``cais system df``: disk usage of images, containers, local volumes and the build cache,
in Docker's rows (TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE) and its ``-v`` sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cais.cli.context import Context, parser
from cais.cli.output import human_size, print_formatted, table

if TYPE_CHECKING:
    from cais.engine import Engine
    from cais.images.store import Image
    from cais.runtime.model import Container
    from cais.runtime.volumes import Volume

_HEADERS = (
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
)


@dataclass(frozen=True)
class _Usage:
    """What one row of the summary counts, in numbers (rendered by :func:`_row`)."""

    kind: str
    total: int
    active: int
    size: int
    reclaimable: int


def _row(usage: _Usage) -> dict[str, str]:
    reclaim = human_size(usage.reclaimable)
    if usage.size:  # Docker divides in integers: the percentage is rounded down
        reclaim += f" ({min(100, usage.reclaimable * 100 // usage.size)}%)"
    return {
        "Type": usage.kind,
        "TotalCount": str(usage.total),
        "Active": str(usage.active),
        "Size": human_size(usage.size),
        "Reclaimable": reclaim,
    }


def container_size(engine: Engine, container: Container) -> int:
    """Bytes of a container's writable layer (Docker's SizeRw); 0 once it is gone."""
    from cais.errors import NotFoundError
    from cais.runtime.lifecycle import snapshot_key

    try:
        return engine.snapshotter.usage(snapshot_key(container.id)).size
    except NotFoundError:
        return 0


def volume_size(volume: Volume) -> int:
    from cais.snapshots.overlay import disk_usage

    return disk_usage(volume.mountpoint).size


def _image_usages(engine: Engine) -> tuple[_Usage, _Usage]:
    """Images, and the build cache: untagged intermediate images that ``builder prune`` frees.

    Layers shared with a listed image count for the images, not for the cache.
    """
    service = engine.images
    everything = engine.image_store.all()
    cache = [i for i in everything if i.intermediate and not i.tags]
    images = [i for i in everything if not (i.intermediate and not i.tags)]
    used = {i.id for i in everything if service.users(i.id)}
    active = [i for i in images if i.id in used]
    active_cache = [i for i in cache if i.id in used]
    size = service.disk_usage_of(images)
    all_size = service.disk_usage_of(everything)
    kept_by_cache = service.disk_usage_of([*images, *active_cache])
    return (
        _Usage("Images", len(images), len(active), size, size - service.disk_usage_of(active)),
        _Usage(
            "Build Cache",
            len(cache),
            len(active_cache),
            all_size - size,
            all_size - kept_by_cache,
        ),
    )


def df(ctx: Context, argv: list[str]) -> int:
    p = parser("cais system df", "Show cais disk usage")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information")
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-like template")
    args = p.parse_args(argv)
    engine = ctx.engine
    images_usage, cache_usage = _image_usages(engine)
    containers = engine.container_store.all()
    sizes = {c.id: container_size(engine, c) for c in containers}
    volumes = engine.volumes.all()
    links = {v.name: len(engine.volumes.users(v.name)) for v in volumes}
    vsizes = {v.name: volume_size(v) for v in volumes}
    usages = [
        images_usage,
        _Usage(
            "Containers",
            len(containers),
            sum(1 for c in containers if c.state.running),
            sum(sizes.values()),
            sum(sizes[c.id] for c in containers if not c.state.running),
        ),
        _Usage(
            "Local Volumes",
            len(volumes),
            sum(1 for n in links.values() if n),
            sum(vsizes.values()),
            sum(vsizes[v.name] for v in volumes if not links[v.name]),
        ),
        cache_usage,
    ]
    rows = [_row(u) for u in usages]
    if print_formatted(ctx.out, args.format, rows, _HEADERS):
        return 0
    if not args.verbose:
        table(ctx.out, [h for _, h in _HEADERS], [[r[k] for k, _ in _HEADERS] for r in rows])
        return 0
    _verbose_images(ctx, engine, engine.image_store.all())
    _verbose_containers(ctx, containers, sizes)
    ctx.out.write("\nLocal Volumes space usage:\n\n")
    table(
        ctx.out,
        ["VOLUME NAME", "LINKS", "SIZE"],
        [[v.name, str(links[v.name]), human_size(vsizes[v.name])] for v in volumes],
    )
    ctx.out.write(f"\nBuild cache usage: {human_size(cache_usage.size)}\n")
    return 0


def _verbose_images(ctx: Context, engine: Engine, images: list[Image]) -> None:
    from cais.cli.image_views import image_rows

    ctx.out.write("Images space usage:\n\n")
    out_rows = []
    for image in images:
        if image.intermediate and not image.tags:
            continue
        shared = engine.images.shared_size(image, images)
        for row in image_rows(image, digests=False, no_trunc=False):
            out_rows.append(
                [
                    row["Repository"],
                    row["Tag"],
                    row["ID"],
                    row["CreatedSince"],
                    human_size(image.size),
                    human_size(shared),
                    human_size(image.size - shared),
                    str(len(engine.images.users(image.id))),
                ]
            )
    table(
        ctx.out,
        [
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        out_rows,
    )


def _verbose_containers(ctx: Context, containers: list[Container], sizes: dict[str, int]) -> None:
    from cais.cli.container_views import ps_row

    ctx.out.write("\nContainers space usage:\n\n")
    rows: list[list[Any]] = []
    for c in containers:
        row = ps_row(c, no_trunc=False)
        volumes = sum(1 for m in c.config.mounts if m.type == "volume")
        rows.append(
            [
                row["ID"],
                row["Image"],
                row["Command"],
                str(volumes),
                human_size(sizes[c.id]),
                row["RunningFor"],
                row["Status"],
                row["Names"],
            ]
        )
    table(
        ctx.out,
        ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
        rows,
    )
