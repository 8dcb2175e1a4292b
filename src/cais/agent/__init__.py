"""The node agent: runs an ECS cluster's tasks on one machine with the cais engine.

The control plane (``cais up``) and agents talk the protocol in ``protocol.py`` over HTTP
under ``/agent/v1``; ``cais up`` runs a local agent, other machines run ``cais agent --join``.
"""
