"""Docker-shaped views of images: ``images`` rows, ``image inspect`` documents, history."""

from __future__ import annotations

import fnmatch
from datetime import UTC
from typing import TYPE_CHECKING, Any

from cais.cli.output import ago, human_size
from cais.errors import CaisError, InvalidArgumentError, NotFoundError
from cais.oci.config import chain_ids, parse_rfc3339

if TYPE_CHECKING:
    from cais.engine import Engine
    from cais.images.store import Image


def created_epoch(image: Image) -> float:
    moment = parse_rfc3339(image.created)
    return moment.timestamp() if moment else image.added


def created_at(image: Image) -> str:
    moment = parse_rfc3339(image.created)
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def image_rows(image: Image, *, digests: bool, no_trunc: bool) -> list[dict[str, Any]]:
    """One row per tag (or a single ``<none>`` row), with Docker's JSON keys."""
    base = {
        "Containers": "N/A",
        "CreatedAt": created_at(image),
        "CreatedSince": ago(created_epoch(image)),
        "ID": str(image.id) if no_trunc else image.short_id,
        "SharedSize": "N/A",
        "Size": human_size(image.size),
        "UniqueSize": "N/A",
        "VirtualSize": human_size(image.size),
    }
    rows = []
    for tag in image.tags:
        digest = next(
            (str(d.digest) for d in image.repo_digests if d.repository == tag.repository), "<none>"
        )
        rows.append(
            {
                **base,
                "Repository": tag.familiar_repository,
                "Tag": tag.tag or "<none>",
                "Digest": digest,
            }
        )
    tagged_repos = {t.repository for t in image.tags}
    for ref in image.repo_digests:
        if ref.repository not in tagged_repos:
            rows.append(
                {
                    **base,
                    "Repository": ref.familiar_repository,
                    "Tag": "<none>",
                    "Digest": str(ref.digest),
                }
            )
    if not rows:
        rows.append({**base, "Repository": "<none>", "Tag": "<none>", "Digest": "<none>"})
    if not digests:
        for row in rows:
            row.setdefault("Digest", "<none>")
    return rows


def matches_filters(engine: Engine, image: Image, filters: list[tuple[str, str]]) -> bool:
    for key, value in filters:
        if key == "dangling":
            if value not in ("true", "false", "1", "0"):
                raise InvalidArgumentError(f"invalid filter 'dangling={value}'")
            if image.dangling != (value in ("true", "1")):
                return False
        elif key == "label":
            name, eq, want = value.partition("=")
            labels = image.config.config.labels
            if name not in labels or (eq and labels[name] != want):
                return False
        elif key in ("before", "since"):
            other = engine.image_store.resolve(value)
            mine, theirs = created_epoch(image), created_epoch(other)
            if (key == "before" and not mine < theirs) or (key == "since" and not mine > theirs):
                return False
        elif key == "reference":
            names = [t.familiar() for t in image.tags] + [t.familiar_repository for t in image.tags]
            if not any(fnmatch.fnmatchcase(n, value) for n in names):
                return False
        else:
            raise CaisError(f"invalid filter '{key}'")
    return True


def parse_filters(values: list[str] | None) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq:
            raise InvalidArgumentError(f"bad format of filter (expected name=value): {value}")
        out.append((key.strip().lower(), val))
    return out


def inspect_document(engine: Engine, image: Image) -> dict[str, Any]:
    """``image inspect``'s document, with Docker's field names."""
    cfg = image.config
    c = cfg.config
    container_config: dict[str, Any] = {
        "Hostname": "",
        "Domainname": "",
        "User": c.user,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": list(c.env) or None,
        "Cmd": list(c.cmd) if c.cmd is not None else None,
        "Image": "",
        "Volumes": {v: {} for v in c.volumes} or None,
        "WorkingDir": c.working_dir,
        "Entrypoint": list(c.entrypoint) if c.entrypoint is not None else None,
        "OnBuild": list(c.on_build) or None,
        "Labels": dict(c.labels) or None,
    }
    if c.exposed_ports:
        container_config["ExposedPorts"] = {p: {} for p in c.exposed_ports}
    if c.healthcheck is not None:
        container_config["Healthcheck"] = c.healthcheck.to_json()
    if c.stop_signal:
        container_config["StopSignal"] = c.stop_signal
    if c.shell is not None:
        container_config["Shell"] = list(c.shell)
    chain = chain_ids(cfg.diff_ids)
    snap = engine.snapshotter
    lower = []
    for chain_id in reversed(chain):
        try:
            lower.append(str(snap.directory(str(chain_id))))
        except NotFoundError:
            continue
    return {
        "Id": str(image.id),
        "RepoTags": [t.familiar() for t in image.tags],
        "RepoDigests": [d.familiar() for d in image.repo_digests],
        "Parent": "",
        "Comment": cfg.history[-1].comment if cfg.history else "",
        "Created": image.created,
        "DockerVersion": "",
        "Author": cfg.author,
        "Config": container_config,
        "Architecture": cfg.architecture,
        **({"Variant": cfg.variant} if cfg.variant else {}),
        "Os": cfg.os,
        "Size": image.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {"LowerDir": ":".join(lower[1:])} | ({"UpperDir": lower[0]} if lower else {}),
        },
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in cfg.diff_ids]},
        "Metadata": {"LastTagTime": ""},
        "History": [h.to_json() for h in cfg.history],
        "ManifestDigest": str(image.manifest_digest),
        "ManifestMediaType": image.media_type,
    }


def history_rows(
    engine: Engine, image: Image, *, no_trunc: bool, human: bool
) -> list[dict[str, Any]]:
    sizes = engine.images.layer_sizes(image.config)
    rows = []
    layer = 0
    history = image.config.history or ()
    for entry in history:
        size = 0
        if not entry.empty_layer and layer < len(sizes):
            size = sizes[layer]
            layer += 1
        moment = parse_rfc3339(entry.created)
        created_by = entry.created_by
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append(
            {
                "ID": "<missing>",
                "CreatedAt": moment.isoformat() if moment else "",
                "CreatedSince": ago(moment.timestamp()) if moment else "N/A",
                "CreatedBy": created_by,
                "Size": human_size(size) if human else str(size),
                "Comment": entry.comment,
            }
        )
    rows.reverse()
    if rows:
        rows[0]["ID"] = str(image.id) if no_trunc else image.short_id
    return rows
