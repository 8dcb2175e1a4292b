"""Network records: networks, what each container asked to join, and live endpoints."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict

from cais.errors import ConflictError, NotFoundError
from cais.network.model import Endpoint, Network, PortMapping
from cais.state.sqlite import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS networks (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, driver TEXT NOT NULL,
        subnet TEXT NOT NULL, gateway TEXT NOT NULL, bridge TEXT NOT NULL,
        internal INTEGER NOT NULL, labels TEXT NOT NULL, created REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS network_attachments (
        container_id TEXT NOT NULL, network TEXT NOT NULL, position INTEGER NOT NULL,
        aliases TEXT NOT NULL, ip TEXT NOT NULL,
        PRIMARY KEY (container_id, network))""",
    """CREATE TABLE IF NOT EXISTS network_endpoints (
        container_id TEXT NOT NULL, network TEXT NOT NULL, interface TEXT NOT NULL,
        ip TEXT NOT NULL, prefix INTEGER NOT NULL, mac TEXT NOT NULL, gateway TEXT NOT NULL,
        aliases TEXT NOT NULL, ports TEXT NOT NULL, result TEXT NOT NULL,
        plugins TEXT NOT NULL DEFAULT '["bridge","portmap","firewall"]',
        PRIMARY KEY (container_id, network))""",
)


class NetworkNotFoundError(NotFoundError):
    pass


class NetworkStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _schema(self) -> None:
        self.db.ensure_schema("networks", _SCHEMA)

    # networks

    def insert(self, network: Network) -> None:
        self._schema()
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM networks WHERE name = ?", (network.name,)).fetchone():
                raise ConflictError(f"network with name {network.name} already exists")
            conn.execute(
                "INSERT INTO networks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    network.id,
                    network.name,
                    network.driver,
                    network.subnet,
                    network.gateway,
                    network.bridge,
                    int(network.internal),
                    json.dumps(network.labels),
                    network.created,
                ),
            )

    def delete(self, network_id: str) -> None:
        self._schema()
        self.db.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    @staticmethod
    def _network(r: sqlite3.Row) -> Network:
        return Network(
            id=r["id"],
            name=r["name"],
            subnet=r["subnet"],
            gateway=r["gateway"],
            bridge=r["bridge"],
            created=r["created"],
            driver=r["driver"],
            internal=bool(r["internal"]),
            labels=json.loads(r["labels"]),
        )

    def find(self, text: str) -> Network | None:
        self._schema()
        row = self.db.query_one("SELECT * FROM networks WHERE name = ? OR id = ?", (text, text))
        if row is None and text and all(c in "0123456789abcdef" for c in text):
            rows = self.db.query("SELECT * FROM networks WHERE id LIKE ?", (f"{text}%",))
            row = rows[0] if len(rows) == 1 else None
        return self._network(row) if row is not None else None

    def get(self, text: str) -> Network:
        found = self.find(text)
        if found is None:
            raise NetworkNotFoundError(f"network {text} not found")
        return found

    def all(self) -> list[Network]:
        self._schema()
        return [self._network(r) for r in self.db.query("SELECT * FROM networks ORDER BY name")]

    # attachments: what a container asked for (kept across restarts)

    def attach(
        self, container_id: str, network: str, *, aliases: tuple[str, ...] = (), ip: str = ""
    ) -> None:
        self._schema()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT max(position) AS p FROM network_attachments WHERE container_id = ?",
                (container_id,),
            ).fetchone()
            position = (row["p"] if row["p"] is not None else -1) + 1
            conn.execute(
                "INSERT INTO network_attachments VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (container_id, network) DO UPDATE SET aliases = excluded.aliases, "
                "ip = excluded.ip",
                (container_id, network, position, json.dumps(aliases), ip),
            )

    def detach(self, container_id: str, network: str | None = None) -> None:
        self._schema()
        if network is None:
            self.db.execute(
                "DELETE FROM network_attachments WHERE container_id = ?", (container_id,)
            )
        else:
            self.db.execute(
                "DELETE FROM network_attachments WHERE container_id = ? AND network = ?",
                (container_id, network),
            )

    def attachments(self, container_id: str) -> list[tuple[str, tuple[str, ...], str]]:
        self._schema()
        rows = self.db.query(
            "SELECT network, aliases, ip FROM network_attachments "
            "WHERE container_id = ? ORDER BY position",
            (container_id,),
        )
        return [(r["network"], tuple(json.loads(r["aliases"])), r["ip"]) for r in rows]

    def attached_to(self, network: str) -> list[str]:
        self._schema()
        return [
            r["container_id"]
            for r in self.db.query(
                "SELECT container_id FROM network_attachments WHERE network = ?", (network,)
            )
        ]

    # endpoints: what is live now

    def add_endpoint(self, ep: Endpoint) -> None:
        self._schema()
        self.db.execute(
            "INSERT OR REPLACE INTO network_endpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ep.container_id,
                ep.network,
                ep.interface,
                ep.ip,
                ep.prefix,
                ep.mac,
                ep.gateway,
                json.dumps(ep.aliases),
                json.dumps([asdict(p) for p in ep.ports]),
                json.dumps(ep.cni_result),
                json.dumps(ep.plugins),
            ),
        )

    def remove_endpoint(self, container_id: str, network: str) -> None:
        self._schema()
        self.db.execute(
            "DELETE FROM network_endpoints WHERE container_id = ? AND network = ?",
            (container_id, network),
        )

    @staticmethod
    def _endpoint(row: sqlite3.Row) -> Endpoint:
        return Endpoint(
            container_id=row["container_id"],
            network=row["network"],
            interface=row["interface"],
            ip=row["ip"],
            prefix=row["prefix"],
            mac=row["mac"],
            gateway=row["gateway"],
            aliases=tuple(json.loads(row["aliases"])),
            ports=tuple(PortMapping(**p) for p in json.loads(row["ports"])),
            cni_result=json.loads(row["result"]),
            plugins=tuple(json.loads(row["plugins"])),
        )

    def endpoints(
        self, *, container_id: str | None = None, network: str | None = None
    ) -> list[Endpoint]:
        self._schema()
        sql, args = "SELECT * FROM network_endpoints WHERE 1 = 1", []
        if container_id is not None:
            sql += " AND container_id = ?"
            args.append(container_id)
        if network is not None:
            sql += " AND network = ?"
            args.append(network)
        return [self._endpoint(r) for r in self.db.query(sql + " ORDER BY interface", args)]


def now() -> float:
    return time.time()
