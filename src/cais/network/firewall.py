"""Isolation between cais bridge networks (iptables), as Docker's isolation chains.

``CAIS-ISOLATION-1`` (jumped to from FORWARD) sends traffic leaving a cais bridge for
another interface to ``CAIS-ISOLATION-2``, which drops it when that interface is another
cais bridge. Internal networks drop everything that leaves their bridge.
"""

from __future__ import annotations

import subprocess

from cais.errors import CaisError

CHAIN1 = "CAIS-ISOLATION-1"
CHAIN2 = "CAIS-ISOLATION-2"


def _ipt(*args: str, check: bool = True) -> bool:
    proc = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise CaisError(f"iptables {' '.join(args)}: {proc.stderr.strip()}")
    return proc.returncode == 0


def _ensure_chains() -> None:
    """Both chains exist and FORWARD jumps to the first one before anything else (the CNI
    firewall plugin accepts container traffic in its own chain, which must come after)."""
    for chain in (CHAIN1, CHAIN2):
        if not _ipt("-n", "-L", chain, check=False):
            _ipt("-N", chain)
    proc = subprocess.run(
        ["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True, check=False
    )
    rules = [line for line in proc.stdout.splitlines() if line.startswith("-A FORWARD")]
    if rules[:1] != [f"-A FORWARD -j {CHAIN1}"]:
        while _ipt("-D", "FORWARD", "-j", CHAIN1, check=False):
            pass
        _ipt("-I", "FORWARD", "1", "-j", CHAIN1)


def forward_drops() -> bool:
    """Whether the host's FORWARD chain would drop container traffic (its policy is not
    ACCEPT, as on hosts with Docker or a firewall): then the CNI firewall plugin is needed."""
    proc = subprocess.run(
        ["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True, check=False
    )
    first = proc.stdout.split("\n", 1)[0].split()
    policy = first[2] if first[:2] == ["-P", "FORWARD"] and len(first) > 2 else "DROP"
    return policy != "ACCEPT"


def _rules(bridge: str, internal: bool) -> list[tuple[str, ...]]:
    rules = [
        (CHAIN1, "-i", bridge, "!", "-o", bridge, "-j", CHAIN2),
        (CHAIN2, "-o", bridge, "-j", "DROP"),
    ]
    if internal:
        rules.append((CHAIN1, "-i", bridge, "!", "-o", bridge, "-j", "DROP"))
        rules.append((CHAIN1, "-o", bridge, "!", "-i", bridge, "-j", "DROP"))
    return rules


def isolate(bridge: str, *, internal: bool) -> None:
    """Add the bridge's isolation rules (idempotent)."""
    _ensure_chains()
    for chain, *rule in _rules(bridge, internal):
        if not _ipt("-C", chain, *rule, check=False):
            _ipt("-A", chain, *rule)


def release(bridge: str, *, internal: bool) -> None:
    """Remove the bridge's isolation rules (and the chains when they are empty)."""
    for chain, *rule in _rules(bridge, internal):
        while _ipt("-C", chain, *rule, check=False):
            _ipt("-D", chain, *rule)
    proc = subprocess.run(
        ["iptables", "-w", "-S", CHAIN1], capture_output=True, text=True, check=False
    )
    if proc.returncode == 0 and len(proc.stdout.strip().splitlines()) <= 1:
        proc2 = subprocess.run(
            ["iptables", "-w", "-S", CHAIN2], capture_output=True, text=True, check=False
        )
        if len(proc2.stdout.strip().splitlines()) <= 1:
            while _ipt("-D", "FORWARD", "-j", CHAIN1, check=False):
                pass
            _ipt("-X", CHAIN1, check=False)
            _ipt("-X", CHAIN2, check=False)
