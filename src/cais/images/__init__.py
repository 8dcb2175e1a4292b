"""The image store: names → manifests, unpacking into snapshots, archives, base images.

Words: an image's *ID* is the digest of its config (as Docker's); its *manifest* is the
local manifest that names the config and layers; *tags* are references with a tag; *repo
digests* are ``repository@manifest-digest`` references it was pulled or loaded under.
"""

from cais.images.store import Image, ImageStore

__all__ = ["Image", "ImageStore"]
