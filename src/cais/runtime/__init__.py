"""Container lifecycle: OCI runtimes (crun, runc) under conmon, and the host facts they need."""
