"""Content-addressable blob store: verified ingest, atomic commit, leases, garbage collection.

Words: a *blob* is immutable bytes named by their digest; a *writer* streams bytes in and
commits them under the expected digest (or nothing becomes visible); a *lease* holds blobs
that work in progress needs, so that garbage collection leaves them alone.
"""

from cais.content.store import (
    BlobInfo,
    BlobWriter,
    ContentStore,
    DigestMismatchError,
    Lease,
    LocalContentStore,
    SizeMismatchError,
)

__all__ = [
    "BlobInfo",
    "BlobWriter",
    "ContentStore",
    "DigestMismatchError",
    "Lease",
    "LocalContentStore",
    "SizeMismatchError",
]
