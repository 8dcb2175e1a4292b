"""The ECS control plane's tables in the cais root's database.

Reserved resources are columns of the task (what it holds until it stops), so an
instance's remaining resources and a cluster's counts are sums over live tasks, never a
counter that could drift. A container's state lives in its own table, keyed by its task.
"""

from __future__ import annotations

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ecs_clusters (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        settings TEXT NOT NULL,
        configuration TEXT,
        UNIQUE (account, region, name)
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_tags (
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (arn, key)
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_families (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        family TEXT NOT NULL,
        last_revision INTEGER NOT NULL,
        PRIMARY KEY (account, region, family)
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_task_definitions (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        family TEXT NOT NULL,
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        registered_at REAL NOT NULL,
        registered_by TEXT NOT NULL,
        deregistered_at REAL,
        delete_requested_at REAL,
        body TEXT NOT NULL,
        UNIQUE (account, region, family, revision)
    )""",
    "CREATE INDEX IF NOT EXISTS ecs_task_definitions_by_status"
    " ON ecs_task_definitions (account, region, status, family, revision)",
    """CREATE TABLE IF NOT EXISTS ecs_instances (
        arn TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        cluster_arn TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        ec2_instance_id TEXT NOT NULL,
        hostname TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT NOT NULL DEFAULT '',
        registered_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        has_agent INTEGER NOT NULL,
        cpu INTEGER NOT NULL,
        memory INTEGER NOT NULL,
        tcp_ports TEXT NOT NULL,
        udp_ports TEXT NOT NULL,
        agent_version TEXT NOT NULL,
        agent_hash TEXT NOT NULL,
        docker_version TEXT NOT NULL,
        version INTEGER NOT NULL,
        session TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ecs_instances_by_cluster"
    " ON ecs_instances (cluster_arn, registered_at, arn)",
    "CREATE INDEX IF NOT EXISTS ecs_instances_by_machine"
    " ON ecs_instances (cluster_arn, ec2_instance_id)",
    """CREATE TABLE IF NOT EXISTS ecs_attributes (
        instance_arn TEXT NOT NULL REFERENCES ecs_instances(arn) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT,
        custom INTEGER NOT NULL,
        PRIMARY KEY (instance_arn, name)
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_tasks (
        arn TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        cluster_arn TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        task_definition_arn TEXT NOT NULL,
        family TEXT NOT NULL,
        revision INTEGER NOT NULL,
        instance_arn TEXT NOT NULL,
        group_name TEXT NOT NULL,
        started_by TEXT,
        launch_type TEXT NOT NULL,
        desired_status TEXT NOT NULL,
        last_status TEXT NOT NULL,
        health_status TEXT NOT NULL,
        created_at REAL NOT NULL,
        pull_started_at REAL,
        pull_stopped_at REAL,
        started_at REAL,
        stopping_at REAL,
        execution_stopped_at REAL,
        stopped_at REAL,
        connectivity_at REAL,
        stop_code TEXT NOT NULL,
        stopped_reason TEXT NOT NULL,
        overrides TEXT NOT NULL,
        cpu TEXT,
        memory TEXT,
        reserved_cpu INTEGER NOT NULL,
        reserved_memory INTEGER NOT NULL,
        reserved_tcp TEXT NOT NULL,
        reserved_udp TEXT NOT NULL,
        private_ipv4 TEXT NOT NULL,
        availability_zone TEXT NOT NULL,
        access_key_id TEXT NOT NULL,
        version INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ecs_tasks_live ON ecs_tasks (cluster_arn, last_status)",
    "CREATE INDEX IF NOT EXISTS ecs_tasks_by_instance ON ecs_tasks (instance_arn, last_status)",
    "CREATE INDEX IF NOT EXISTS ecs_tasks_listing ON ecs_tasks (cluster_arn, desired_status, arn)",
    "CREATE INDEX IF NOT EXISTS ecs_tasks_by_definition ON ecs_tasks (task_definition_arn)",
    "CREATE INDEX IF NOT EXISTS ecs_tasks_stopped ON ecs_tasks (stopped_at)",
    """CREATE TABLE IF NOT EXISTS ecs_containers (
        task_arn TEXT NOT NULL REFERENCES ecs_tasks(arn) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        image TEXT NOT NULL,
        essential INTEGER NOT NULL,
        has_health_check INTEGER NOT NULL,
        last_status TEXT NOT NULL,
        image_digest TEXT NOT NULL,
        runtime_id TEXT NOT NULL,
        exit_code INTEGER,
        reason TEXT NOT NULL,
        health_status TEXT NOT NULL,
        network_bindings TEXT NOT NULL,
        cpu INTEGER NOT NULL,
        memory INTEGER,
        memory_reservation INTEGER,
        PRIMARY KEY (task_arn, name)
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_join_tokens (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        cluster TEXT NOT NULL,
        created_at REAL NOT NULL,
        description TEXT NOT NULL,
        expires_at REAL
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_secrets (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (account, region, name)
    )""",
    """CREATE TABLE IF NOT EXISTS ecs_client_tokens (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        token TEXT NOT NULL,
        task_arns TEXT NOT NULL,
        failures TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (account, region, token)
    )""",
    "CREATE TABLE IF NOT EXISTS ecs_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
