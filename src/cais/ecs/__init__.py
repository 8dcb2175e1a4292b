"""The orchestrator: the Amazon ECS API over a domain model of clusters, tasks and instances."""
