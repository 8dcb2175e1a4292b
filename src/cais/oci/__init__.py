"""Pure OCI data: digests, references, media types, manifests, configs, runtime specs.

Nothing in this package does I/O; every other room speaks in these types.
"""
