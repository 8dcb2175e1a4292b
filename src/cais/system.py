"""Whole-root operations that span the rooms (``cais system reset``)."""

from __future__ import annotations

import contextlib
import shutil

from cais.engine import Engine
from cais.errors import CaisError


def reset(engine: Engine) -> None:
    """Remove containers, networks (with their bridges and rules), volumes, images, state."""
    from cais.cli import forkserver
    from cais.runtime import monitor

    for container in engine.container_store.all():
        with contextlib.suppress(CaisError):
            engine.containers.remove(container.id, force=True, volumes=True)
    monitor.stop(engine.settings)
    for network in engine.networks.store.all():
        with contextlib.suppress(CaisError):
            engine.networks.remove(network.name)
    for volume in engine.volumes.all():
        with contextlib.suppress(CaisError):
            engine.volumes.remove(volume.name, force=True)
    for image in engine.image_store.all():
        with contextlib.suppress(CaisError):
            engine.images.remove(str(image.id), force=True)
    engine.close()
    shutil.rmtree(engine.settings.root, ignore_errors=True)
    forkserver.stop(engine.settings.runroot)
    shutil.rmtree(engine.settings.runroot, ignore_errors=True)
