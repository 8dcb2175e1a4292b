"""cais: a self-hosted container platform (engine, registry, ECS-compatible orchestrator)."""

__version__ = "0.1.0"
