"""``cais up``: the platform process, composed of components on one port.

Public interface::

    up(settings, UpOptions(...), components=default_components)   run until SIGTERM/SIGINT
    Server(platform, components, sock).serve(stop=..., ready=...)  the same, driven by hand
    Component / Background / periodic / Platform / Address          the composition seam
    EcrComponent / LogsComponent / EcsComponent                      what runs today
"""

from __future__ import annotations

from cais.server.app import Server, access_log, bind
from cais.server.component import Address, Background, Component, Platform, periodic
from cais.server.compose import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ComponentFactory,
    RootLock,
    UpOptions,
    default_components,
    up,
)
from cais.server.ecr import EcrComponent
from cais.server.ecs import EcsComponent
from cais.server.logs import LogsComponent

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Address",
    "Background",
    "Component",
    "ComponentFactory",
    "EcrComponent",
    "EcsComponent",
    "LogsComponent",
    "Platform",
    "RootLock",
    "Server",
    "UpOptions",
    "access_log",
    "bind",
    "default_components",
    "periodic",
    "up",
]
