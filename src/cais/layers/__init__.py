"""Layer tars: made from an overlay upper directory (``diff``) and applied safely (``apply``).

Words: a layer's *diff ID* is the digest of its uncompressed tar; its *digest* is that of the
blob as stored (maybe compressed). Whiteouts are ``.wh.<name>`` files and ``.wh..wh..opq``
markers in a tar, and 0/0 character devices and ``trusted.overlay.opaque`` in overlayfs.
"""

from cais.layers.apply import AppliedLayer, LayerError, apply_layer
from cais.layers.compression import compressed_writer, decompressed_reader, detect_compression
from cais.layers.diff import WrittenLayer, write_layer

__all__ = [
    "AppliedLayer",
    "LayerError",
    "WrittenLayer",
    "apply_layer",
    "compressed_writer",
    "decompressed_reader",
    "detect_compression",
    "write_layer",
]
