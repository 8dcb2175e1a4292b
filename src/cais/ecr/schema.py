"""ECR's tables in the cais root's database.

The registry's storage holds the manifests and blobs themselves; these tables hold what ECR
adds to them (repositories and their settings, policies, push and pull times, tags as ECR
lists them), kept in step by the registry's hooks. Images are keyed by (repository, digest)
so DescribeImages pages by digest with an index; tags point at an image and go with it.
"""

from __future__ import annotations

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ecr_repositories (
        name TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        created_at REAL NOT NULL,
        tag_mutability TEXT NOT NULL,
        mutability_filters TEXT NOT NULL DEFAULT '[]',
        scan_on_push INTEGER NOT NULL DEFAULT 0,
        encryption_type TEXT NOT NULL,
        kms_key TEXT,
        policy TEXT,
        lifecycle_policy TEXT,
        lifecycle_evaluated_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS ecr_repositories_by_account ON ecr_repositories (account, name)",
    """CREATE TABLE IF NOT EXISTS ecr_repository_tags (
        repository TEXT NOT NULL REFERENCES ecr_repositories(name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (repository, key)
    )""",
    """CREATE TABLE IF NOT EXISTS ecr_images (
        repository TEXT NOT NULL REFERENCES ecr_repositories(name) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        media_type TEXT NOT NULL,
        artifact_media_type TEXT,
        size INTEGER NOT NULL,
        pushed_at REAL NOT NULL,
        last_pull REAL,
        subject TEXT,
        PRIMARY KEY (repository, digest)
    )""",
    """CREATE TABLE IF NOT EXISTS ecr_image_tags (
        repository TEXT NOT NULL,
        tag TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (repository, tag),
        FOREIGN KEY (repository, digest) REFERENCES ecr_images(repository, digest)
            ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS ecr_image_tags_by_digest ON ecr_image_tags (repository, digest)",
    """CREATE TABLE IF NOT EXISTS ecr_image_children (
        repository TEXT NOT NULL,
        parent TEXT NOT NULL,
        child TEXT NOT NULL,
        PRIMARY KEY (repository, parent, child),
        FOREIGN KEY (repository, parent) REFERENCES ecr_images(repository, digest)
            ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS ecr_image_children_by_child ON ecr_image_children "
    "(repository, child)",
    """CREATE TABLE IF NOT EXISTS ecr_lifecycle_previews (
        repository TEXT PRIMARY KEY REFERENCES ecr_repositories(name) ON DELETE CASCADE,
        policy TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        results TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS ecr_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
