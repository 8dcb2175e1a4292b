"""``cais exec``: run a process in a running container with the runtime's own exec."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cais.errors import CaisError, ConflictError
from cais.runtime.health import exec_process, write_process_file
from cais.runtime.lifecycle import ContainerService


def exec_in(
    service: ContainerService,
    name: str,
    command: tuple[str, ...],
    *,
    env: tuple[str, ...] = (),
    user: str = "",
    cwd: str = "",
    tty: bool = False,
    stdin: bool = False,
    detach: bool = False,
) -> int:
    """Run ``command``; returns its exit code (0 at once with ``detach``)."""
    container = service.refresh(service.store.resolve(name))
    if container.state.status == "paused":
        raise ConflictError(
            f"Container {container.id} is paused, unpause the container before exec"
        )
    if container.state.status != "running":
        raise ConflictError(f"container {container.id} is not running")
    bundle = service.bundle(container.id)
    process = exec_process(
        container,
        command,
        rootfs=service.rootfs(container.id),
        tty=tty and sys.stdin.isatty(),
        env=env,
        user=user,
        cwd=cwd,
    )
    path = write_process_file(bundle, process)
    runtime = service.runtime(container.config.runtime)
    try:
        argv = runtime.exec_command(
            container.id, Path(path), tty=bool(process["terminal"]), detach=detach
        )
        if detach:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                check=False,
            )
            if proc.returncode != 0:
                raise CaisError(_reason(proc.stderr.decode(errors="replace")))
            return 0
        proc2 = subprocess.run(
            argv, stdin=None if stdin else subprocess.DEVNULL, check=False, stderr=None
        )
        return proc2.returncode
    finally:
        os.unlink(path)


def _reason(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "exec failed"
