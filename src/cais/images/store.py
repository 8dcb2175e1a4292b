"""Image records: which manifests are images, and which names point at them.

Tables (owned here): ``images`` (one row per image ID) and ``image_names`` (tags and repo
digests → image ID). A name points at exactly one image; moving a tag is one UPDATE.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from cais.content.store import ContentStore
from cais.errors import ConflictError, InvalidArgumentError, NotFoundError
from cais.oci import mediatypes as mt
from cais.oci.config import ImageConfig
from cais.oci.digest import Digest
from cais.oci.manifest import Manifest, ManifestError, parse_manifest
from cais.oci.reference import Reference, ReferenceError, parse_reference
from cais.state.sqlite import Database

MAX_MANIFEST_BYTES = 4 << 20
MAX_CONFIG_BYTES = 8 << 20

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        manifest TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        created TEXT NOT NULL,
        added REAL NOT NULL,
        intermediate INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS image_names (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        added REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS image_names_image ON image_names(image_id)",
)


class ImageNotFoundError(NotFoundError):
    pass


@dataclass(frozen=True)
class Image:
    """An image as the store knows it."""

    id: Digest
    manifest_digest: Digest
    media_type: str
    config: ImageConfig
    size: int
    created: str
    added: float
    tags: tuple[Reference, ...] = ()
    repo_digests: tuple[Reference, ...] = ()
    intermediate: bool = False

    @property
    def short_id(self) -> str:
        return self.id.short

    @property
    def dangling(self) -> bool:
        return not self.tags


class ImageStore:
    """Image records over a content store (which holds manifests, configs and layers)."""

    def __init__(self, db: Database, content: ContentStore) -> None:
        self.db = db
        self.content = content

    def _schema(self) -> None:
        self.db.ensure_schema("images", _SCHEMA)

    # reading manifests from content

    def read_manifest(self, digest: Digest) -> Manifest:
        data = self.content.read(digest, max_size=MAX_MANIFEST_BYTES)
        parsed = parse_manifest(data)
        if not isinstance(parsed, Manifest):
            raise ManifestError(f"{digest} is an index, not an image manifest")
        return parsed

    def read_config(self, digest: Digest) -> ImageConfig:
        return ImageConfig.from_bytes(self.content.read(digest, max_size=MAX_CONFIG_BYTES))

    def validate(self, manifest: Manifest) -> ImageConfig:
        """Check that a manifest is a complete image: config and layers present and sound."""
        if manifest.config.media_type not in mt.CONFIGS:
            raise ManifestError(f"unknown config media type {manifest.config.media_type!r}")
        for layer in manifest.layers:
            if mt.layer_compression(layer.media_type) is None:
                raise ManifestError(f"unknown layer media type {layer.media_type!r}")
        for desc in (manifest.config, *manifest.layers):
            info = self.content.info(desc.digest)
            if info is None:
                raise ManifestError(f"manifest names blob {desc.digest}, which is missing")
            if info.size != desc.size:
                raise ManifestError(
                    f"blob {desc.digest} is {info.size} bytes, the manifest says {desc.size}"
                )
        config = self.read_config(manifest.config.digest)
        if len(config.diff_ids) != len(manifest.layers):
            raise ManifestError(
                f"config lists {len(config.diff_ids)} layers, manifest has {len(manifest.layers)}"
            )
        return config

    # records

    def add(
        self,
        manifest_digest: Digest,
        manifest: Manifest,
        config: ImageConfig,
        *,
        size: int,
        names: Iterable[Reference] = (),
        intermediate: bool = False,
    ) -> Image:
        """Record an image (validated and unpacked by the caller) and point ``names`` at it."""
        self._schema()
        image_id = manifest.config.digest
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO images (id, manifest, media_type, size, created, added, intermediate)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " manifest = excluded.manifest, media_type = excluded.media_type,"
                " size = excluded.size, intermediate = min(intermediate, excluded.intermediate)",
                (
                    str(image_id),
                    str(manifest_digest),
                    manifest.media_type,
                    size,
                    config.created,
                    now,
                    int(intermediate),
                ),
            )
            for name in names:
                self._point(conn, name, image_id, now)
        return self.get(image_id)

    @staticmethod
    def _point(conn: object, name: Reference, image_id: Digest, now: float) -> None:
        kind = "digest" if name.digest and not name.tag else "tag"
        conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO image_names (name, image_id, kind, added) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET image_id = excluded.image_id, added = excluded.added",
            (str(name), str(image_id), kind, now),
        )

    def tag(self, image_id: Digest, name: Reference) -> None:
        self._schema()
        if name.digest is not None:
            raise InvalidArgumentError(f"refusing to create a tag with a digest reference: {name}")
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone():
                raise ImageNotFoundError(f"no such image: {image_id}")
            self._point(conn, name, image_id, time.time())

    def untag(self, name: Reference) -> bool:
        self._schema()
        return self.db.execute("DELETE FROM image_names WHERE name = ?", (str(name),)) > 0

    def delete(self, image_id: Digest) -> None:
        self._schema()
        self.db.execute("DELETE FROM images WHERE id = ?", (str(image_id),))

    def _names(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for row in self.db.query("SELECT name, image_id, kind FROM image_names ORDER BY added"):
            out.setdefault(row["image_id"], []).append((row["name"], row["kind"]))
        return out

    def _image(self, row: object, names: list[tuple[str, str]]) -> Image:
        r = row  # sqlite3.Row
        tags = tuple(parse_reference(n) for n, kind in names if kind == "tag")
        digests = tuple(parse_reference(n) for n, kind in names if kind == "digest")
        image_id = Digest.parse(r["id"])  # type: ignore[index]
        return Image(
            id=image_id,
            manifest_digest=Digest.parse(r["manifest"]),  # type: ignore[index]
            media_type=r["media_type"],  # type: ignore[index]
            config=self.read_config(image_id),
            size=r["size"],  # type: ignore[index]
            created=r["created"],  # type: ignore[index]
            added=r["added"],  # type: ignore[index]
            tags=tags,
            repo_digests=digests,
            intermediate=bool(r["intermediate"]),  # type: ignore[index]
        )

    def get(self, image_id: Digest) -> Image:
        self._schema()
        row = self.db.query_one("SELECT * FROM images WHERE id = ?", (str(image_id),))
        if row is None:
            raise ImageNotFoundError(f"no such image: {image_id}")
        names = self.db.query(
            "SELECT name, kind FROM image_names WHERE image_id = ? ORDER BY added",
            (str(image_id),),
        )
        return self._image(row, [(n["name"], n["kind"]) for n in names])

    def all(self) -> list[Image]:
        self._schema()
        names = self._names()
        rows = self.db.query("SELECT * FROM images ORDER BY added DESC")
        return [self._image(row, names.get(row["id"], [])) for row in rows]

    def ids(self) -> list[Digest]:
        self._schema()
        return [Digest.parse(r["id"]) for r in self.db.query("SELECT id FROM images")]

    def manifests(self) -> list[Digest]:
        self._schema()
        return [Digest.parse(r["manifest"]) for r in self.db.query("SELECT manifest FROM images")]

    def lookup_name(self, name: Reference) -> Digest | None:
        self._schema()
        row = self.db.query_one("SELECT image_id FROM image_names WHERE name = ?", (str(name),))
        return Digest.parse(row["image_id"]) if row else None

    def resolve(self, text: str) -> Image:
        """Find an image by full ID, name, ``name@digest`` or unique ID prefix (as Docker)."""
        self._schema()
        candidate = text.removeprefix("sha256:")
        if len(candidate) == 64 and _is_hex(candidate):
            return self.get(Digest("sha256", candidate))
        try:
            ref: Reference | None = parse_reference(text)
        except ReferenceError:
            ref = None
        if ref is not None:
            image_id = self.lookup_name(ref)
            if image_id is not None:
                return self.get(image_id)
            if ref.digest is not None:
                for image in self.all():
                    if image.manifest_digest == ref.digest and any(
                        r.repository == ref.repository for r in (*image.tags, *image.repo_digests)
                    ):
                        return image
        found = self._resolve_id(candidate)
        if found is None:
            raise ImageNotFoundError(f"no such image: {text}")
        return self.get(found)

    def _resolve_id(self, prefix: str) -> Digest | None:
        if not (1 <= len(prefix) <= 64) or not _is_hex(prefix):
            return None
        rows = self.db.query("SELECT id FROM images WHERE id LIKE ?", (f"sha256:{prefix}%",))
        if len(rows) > 1:
            raise ConflictError(f"image ID prefix {prefix!r} is ambiguous")
        return Digest.parse(rows[0]["id"]) if rows else None


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
