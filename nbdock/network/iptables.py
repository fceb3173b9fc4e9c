"""nbdock's packet-filter rules, made with the ``iptables`` binary as dockerd makes its own.

Every rule nbdock adds lives in a chain of its own; the built-in chains get
only one jump each into ours.  So nbdock never edits (let alone flushes) a
chain it does not own, it can live beside dockerd's DOCKER-* chains, and
removing everything it did is: delete the jumps, flush and delete its chains.

::

    filter FORWARD      -> NBDOCK-FORWARD          (inserted first: dockerd sets FORWARD's policy to DROP)
           NBDOCK-FORWARD   -> NBDOCK-ISOLATION-1  (its first rule)
                               per bridge: replies in, bridge to itself, bridge out (not if internal),
                               per published port: the DNAT'ed traffic to that container port
           NBDOCK-ISOLATION-1: a packet from one nbdock bridge to another goes to ...-2
           NBDOCK-ISOLATION-2: ... which drops it if it is headed into an nbdock bridge
    nat    PREROUTING  (to a local address)                      -> NBDOCK   (DNAT of published ports)
           OUTPUT      (to a local address, but not 127.0.0.0/8) -> NBDOCK
           POSTROUTING                                           -> NBDOCK-POSTROUTING (MASQUERADE)

``-w`` makes iptables wait for the xtables lock instead of failing while
dockerd (or another nbdock thread) is changing rules at the same moment.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from nbdock.network.errors import NetworkHostError
from nbdock.runtime.trace import NO_TRACE, Trace

IPTABLES = "iptables"

FORWARD_CHAIN = "NBDOCK-FORWARD"
ISOLATION_1 = "NBDOCK-ISOLATION-1"
ISOLATION_2 = "NBDOCK-ISOLATION-2"
DNAT_CHAIN = "NBDOCK"
POSTROUTING_CHAIN = "NBDOCK-POSTROUTING"

#: (table, chain) of every chain nbdock owns, in the order they are created.
OWN_CHAINS = (
    ("filter", ISOLATION_2),
    ("filter", ISOLATION_1),
    ("filter", FORWARD_CHAIN),
    ("nat", DNAT_CHAIN),
    ("nat", POSTROUTING_CHAIN),
)


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    spec: tuple[str, ...]  # the match and target, as iptables takes them

    def __str__(self) -> str:
        return f"-t {self.table} -A {self.chain} {' '.join(self.spec)}"


#: The jumps from built-in chains into nbdock's chains.
JUMPS = (
    Rule("filter", "FORWARD", ("-j", FORWARD_CHAIN)),
    Rule("nat", "PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN)),
    # Loopback is left out: a DNAT'ed packet from 127.0.0.1 would carry a
    # loopback source onto the bridge, which the kernel drops as a martian.
    # The userland proxy carries loopback traffic instead.
    Rule("nat", "OUTPUT", ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN)),
    Rule("nat", "POSTROUTING", ("-j", POSTROUTING_CHAIN)),
)


def _run(args: list[str], trace: Trace, *, check: bool = True) -> bool:
    """Run iptables; True on success.  With check, a failure raises NetworkHostError."""
    command = [IPTABLES, "-w", *args]
    if check:
        trace.emit("network", "iptables", args=args)
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise NetworkHostError("the iptables program is not installed") from None
    if done.returncode != 0 and check:
        raise NetworkHostError(f"iptables {' '.join(args)} failed: {done.stderr.strip()}")
    return done.returncode == 0


def exists(rule: Rule) -> bool:
    return _run(["-t", rule.table, "-C", rule.chain, *rule.spec], NO_TRACE, check=False)


def append(rule: Rule, trace: Trace = NO_TRACE) -> None:
    _run(["-t", rule.table, "-A", rule.chain, *rule.spec], trace)


def insert_first(rule: Rule, trace: Trace = NO_TRACE) -> None:
    _run(["-t", rule.table, "-I", rule.chain, "1", *rule.spec], trace)


def delete(rule: Rule, trace: Trace = NO_TRACE) -> None:
    """Delete one copy of ``rule`` if it is there."""
    if exists(rule):
        _run(["-t", rule.table, "-D", rule.chain, *rule.spec], trace)


def chain_exists(table: str, chain: str) -> bool:
    return _run(["-t", table, "-n", "-L", chain], NO_TRACE, check=False)


def install_chains() -> None:
    """Create nbdock's chains (empty) and the jumps into them."""
    for table, chain in OWN_CHAINS:
        if not chain_exists(table, chain):
            _run(["-t", table, "-N", chain], NO_TRACE)
    first = Rule("filter", FORWARD_CHAIN, ("-j", ISOLATION_1))
    if not exists(first):
        insert_first(first)
    for jump in JUMPS:
        if not exists(jump):
            insert_first(jump)


def remove_chains() -> None:
    """Remove the jumps, then flush and delete nbdock's own chains (and nothing else)."""
    for jump in JUMPS:
        while exists(jump):
            delete(jump)
    for table, chain in OWN_CHAINS:
        if chain_exists(table, chain):
            _run(["-t", table, "-F", chain], NO_TRACE)
    for table, chain in OWN_CHAINS:
        if chain_exists(table, chain):
            _run(["-t", table, "-X", chain], NO_TRACE)


def network_rules(bridge: str, subnet: str, internal: bool) -> list[Rule]:
    """The rules one bridge network needs, in the order they are added."""
    rules = [
        # Isolation: leaving this bridge for another nbdock bridge is dropped in ISOLATION-2.
        Rule("filter", ISOLATION_1, ("-i", bridge, "!", "-o", bridge, "-j", ISOLATION_2)),
        Rule("filter", ISOLATION_2, ("-o", bridge, "-j", "DROP")),
        # Replies to connections the containers opened may come back in.
        Rule(
            "filter", FORWARD_CHAIN,
            ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
        ),
        # Containers of the network talk to each other.  With br_netfilter loaded
        # (dockerd loads it) even traffic switched inside the bridge passes FORWARD.
        Rule("filter", FORWARD_CHAIN, ("-i", bridge, "-o", bridge, "-j", "ACCEPT")),
    ]
    if internal:
        # An internal network reaches nothing outside itself, and nothing reaches in.
        rules += [
            Rule("filter", ISOLATION_1, ("!", "-s", subnet, "-o", bridge, "-j", "DROP")),
            Rule("filter", ISOLATION_1, ("-i", bridge, "!", "-d", subnet, "-j", "DROP")),
        ]
    else:
        rules += [
            Rule("filter", FORWARD_CHAIN, ("-i", bridge, "!", "-o", bridge, "-j", "ACCEPT")),
            # Outgoing packets leave with the host's address: the rest of the world
            # has no route back to a container's private address.
            Rule("nat", POSTROUTING_CHAIN, ("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE")),
        ]
    return rules


def port_rules(
    bridge: str, host_ip: str, host_port: int, proto: str, container_ip: str, container_port: int
) -> list[Rule]:
    """DNAT host_ip:host_port to the container, and let the rewritten packets through FORWARD.

    ``! -i bridge``: containers on the same bridge are not DNAT'ed (their
    packets would come back to them with a source they do not expect); they
    reach the port through the userland proxy instead.
    """
    destination = [] if host_ip == "0.0.0.0" else ["-d", f"{host_ip}/32"]
    return [
        Rule(
            "nat",
            DNAT_CHAIN,
            (*destination, "!", "-i", bridge, "-p", proto, "-m", proto, "--dport", str(host_port),
             "-j", "DNAT", "--to-destination", f"{container_ip}:{container_port}"),
        ),
        Rule(
            "filter",
            FORWARD_CHAIN,
            ("-d", f"{container_ip}/32", "!", "-i", bridge, "-o", bridge, "-p", proto, "-m", proto,
             "--dport", str(container_port), "-j", "ACCEPT"),
        ),
    ]
