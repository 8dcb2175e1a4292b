"""Snapshots: the filesystems containers and layers are built on.

Words (as containerd's): a *key* names an active (writable) snapshot or a view; a *name*
names a committed (immutable) one; every snapshot but the first has a *parent*. Committed
snapshots of image layers are named by the layer's chain ID and shared by every image that
has that layer. A snapshotter returns :class:`Mount` lists and never mounts anything itself;
the runtime mounts them.

Importing a layer: ``prepare("extract-<chainid>", parent)`` → apply the tar into the active
snapshot's upper directory → ``commit("<chainid>", "extract-<chainid>")``.
"""

from cais.snapshots.types import Kind, Mount, SnapshotError, SnapshotInfo, Snapshotter, Usage

__all__ = ["Kind", "Mount", "SnapshotError", "SnapshotInfo", "Snapshotter", "Usage"]
