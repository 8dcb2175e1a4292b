"""Botocore's service models, loaded on first use and kept for the life of the object.

The models are the reference for every shape cais accepts and returns (the same JSON files
boto3 and the aws CLI build their requests from).
"""

from __future__ import annotations

import threading

from botocore.loaders import Loader
from botocore.model import ServiceModel

from cais.aws.javaregex import JavaRegexTranslator


class ServiceModels:
    """A per-process cache of service models and of the regexes their patterns compile to."""

    def __init__(self, loader: Loader | None = None) -> None:
        self._loader = loader
        self._models: dict[str, ServiceModel] = {}
        self._lock = threading.Lock()
        self.regex = JavaRegexTranslator()

    def get(self, name: str) -> ServiceModel:
        """The model of service ``name`` as botocore names it (``logs``, ``ecr``, ``ecs``…)."""
        model = self._models.get(name)
        if model is None:
            with self._lock:
                model = self._models.get(name)
                if model is None:
                    if self._loader is None:
                        self._loader = Loader()
                    data = self._loader.load_service_model(name, "service-2")
                    model = ServiceModel(data, service_name=name)
                    self._models[name] = model
        return model
