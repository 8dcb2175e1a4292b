"""The node agent: runs an ECS cluster's tasks on one machine with the cais engine.

The control plane (``cais up``) and agents talk the protocol in ``protocol.py`` over HTTP
under ``/agent/v1``; ``cais up`` runs a local agent, other machines run ``cais agent --join``.

Modules (the package imports none of them, so the control plane pays only for the protocol)::

    protocol     the calls and values agents and the control plane exchange (the contract)
    agent        Agent: register, poll (heartbeat), one supervisor per task, ordered reports
    supervisor   TaskSupervisor: desired vs known status, worked through transitions.TABLE
    transitions  the transition table: (desired, known) → action, next known status
    plan         container definition → engine options; names, labels, dependsOn order
    engine       TaskEngine (the seam) and CaisEngine (the cais engine of one root)
    awslogs      the awslogs log driver: follow the k8s-file log, batch, send
    client       ControlPlane (the seam) and HttpControlPlane
    state        what survives the agent: identity file, ``agent_tasks`` table, root lock
    machine      resources and attributes of this machine
    run          build_agent / run_agent: the agent in its own process or inside cais up
"""
