"""Where the registry keeps everything in a storage driver: the whole tree in one picture.

::

    /blobs/<alg>/<hex[:2]>/<hex>/data              the bytes of a blob or manifest, stored
                                                   once and shared by every repository
    /repositories/<name>/                          <name> may have several components
        _layers/<alg>/<hex>/link                   "<alg>:<hex>": this repository may serve
                                                   the blob (written on upload or mount)
        _manifests/revisions/<alg>/<hex>/link      {"mediaType","digest","size"} of a
                                                   manifest pushed to this repository
        _manifests/tags/<tag>/current/link         "<alg>:<hex>": what the tag points at
        _referrers/<alg>/<subject-hex>/<alg>/<hex>/link
                                                   the descriptor (with artifactType and
                                                   annotations) of a manifest whose
                                                   subject is <subject>
        _uploads/<uuid>/data                       bytes received so far (never served)
        _uploads/<uuid>/startedat                  when the upload began (ISO 8601)

Names, tags and upload ids are validated before they reach a path, and repository name
components cannot start with ``_``, so ``_layers`` and friends never clash with a name.
A blob becomes visible only by ``move`` of a verified upload to its ``data`` path, so a
reader never sees a half-written blob; links are small files written atomically.
"""

from __future__ import annotations

from cais.oci.digest import Digest

BLOBS = "/blobs"
REPOSITORIES = "/repositories"


def blob_dir(digest: Digest) -> str:
    return f"{BLOBS}/{digest.algorithm}/{digest.encoded[:2]}/{digest.encoded}"


def blob_data(digest: Digest) -> str:
    return f"{blob_dir(digest)}/data"


def repository(name: str) -> str:
    return f"{REPOSITORIES}/{name}"


def layer_link(name: str, digest: Digest) -> str:
    return f"{REPOSITORIES}/{name}/_layers/{digest.algorithm}/{digest.encoded}/link"


def layers(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_layers"


def revision_link(name: str, digest: Digest) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/revisions/{digest.algorithm}/{digest.encoded}/link"


def revisions(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/revisions"


def tags(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags"


def tag_link(name: str, tag: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags/{tag}/current/link"


def tag_dir(name: str, tag: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags/{tag}"


def referrers(name: str, subject: Digest) -> str:
    return f"{REPOSITORIES}/{name}/_referrers/{subject.algorithm}/{subject.encoded}"


def referrer_link(name: str, subject: Digest, referrer: Digest) -> str:
    return f"{referrers(name, subject)}/{referrer.algorithm}/{referrer.encoded}/link"


def uploads(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_uploads"


def upload_dir(name: str, upload_id: str) -> str:
    return f"{REPOSITORIES}/{name}/_uploads/{upload_id}"


def upload_data(name: str, upload_id: str) -> str:
    return f"{upload_dir(name, upload_id)}/data"


def upload_started(name: str, upload_id: str) -> str:
    return f"{upload_dir(name, upload_id)}/startedat"
