"""Side-by-side benchmarks against the anchors each issue names (``make bench``)."""
