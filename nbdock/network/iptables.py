"""nbdock's packet-filter rules, made with the ``iptables`` binary as dockerd makes its own.

Every rule nbdock adds lives in a chain of its own; the built-in chains get
only one jump each into ours.  So nbdock never edits (let alone flushes) a
chain it does not own, it can live beside dockerd's DOCKER-* chains and
beside other nbdock instances' chains (each instance's chain names carry its
tag, see instance.py), and removing everything it did is: delete the jumps,
flush and delete its chains.  The names below are the default instance's::

    filter FORWARD      -> NBDOCK-FORWARD          (inserted first: dockerd sets FORWARD's policy to DROP)
           NBDOCK-FORWARD   -> NBDOCK-ISOLATION-1  (its first rule)
                               per bridge: replies in, bridge to itself, bridge out (not if internal),
                               per published port: the DNAT'ed traffic to that container port
           NBDOCK-ISOLATION-1: per bridge, a packet leaving it for, or entering it from,
                               another interface goes to ...-2
           NBDOCK-ISOLATION-2: ... which drops it if that other interface is an nbdock bridge
    nat    PREROUTING  (to a local address)                      -> NBDOCK   (DNAT of published ports)
           OUTPUT      (to a local address, but not 127.0.0.0/8) -> NBDOCK
           POSTROUTING                                           -> NBDOCK-POSTROUTING (MASQUERADE)

**Isolation between instances.**  Docker lists its own bridges in its
second isolation stage.  An nbdock instance cannot list another instance's
bridges, so ISOLATION-2 holds one rule instead, ``-i nb+ -o nb+ -j DROP``:
iptables reads a trailing ``+`` as "any interface whose name starts with
this", and every nbdock interface's name starts with ``nb``.  (Of those,
only bridges show up as ``-i``/``-o``: a veth's host end is a port of a
bridge, and a packet crossing a bridge is seen entering or leaving the
bridge itself.)  A packet only gets to ISOLATION-2 if it goes between one
of *our* bridges and some other interface, so the rule drops exactly the
traffic between our bridges and any other nbdock bridge, ours or another
instance's.  Each instance checks both directions, out of its bridges and
into them, because the instances' jumps sit side by side in FORWARD:
whichever comes first must not accept, through a published port's rule, a
packet that the other instance would have dropped.

``-w`` makes iptables wait for the xtables lock instead of failing while
dockerd (or another nbdock thread or daemon) is changing rules at the same moment.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from nbdock.network.errors import NetworkHostError
from nbdock.network.instance import ANY_NBDOCK_INTERFACE, Chains
from nbdock.runtime.trace import NO_TRACE, Trace

IPTABLES = "iptables"


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    spec: tuple[str, ...]  # the match and target, as iptables takes them

    def __str__(self) -> str:
        return f"-t {self.table} -A {self.chain} {' '.join(self.spec)}"


def jumps(chains: Chains) -> tuple[Rule, ...]:
    """The jumps from built-in chains into an instance's chains."""
    return (
        Rule("filter", "FORWARD", ("-j", chains.forward)),
        Rule("nat", "PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", chains.dnat)),
        # Loopback is left out: a DNAT'ed packet from 127.0.0.1 would carry a
        # loopback source onto the bridge, which the kernel drops as a martian.
        # The userland proxy carries loopback traffic instead.
        Rule("nat", "OUTPUT", ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", chains.dnat)),
        Rule("nat", "POSTROUTING", ("-j", chains.postrouting)),
    )


def _fixed_rules(chains: Chains) -> tuple[Rule, ...]:
    """The rules an instance's chains hold whatever its networks: isolation first, then the drop."""
    return (
        Rule("filter", chains.forward, ("-j", chains.isolation_1)),
        Rule("filter", chains.isolation_2, ("-i", ANY_NBDOCK_INTERFACE, "-o", ANY_NBDOCK_INTERFACE, "-j", "DROP")),
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


def install_chains(chains: Chains) -> None:
    """Create an instance's chains, their fixed rules and the jumps into them."""
    for table, chain in chains.all():
        if not chain_exists(table, chain):
            _run(["-t", table, "-N", chain], NO_TRACE)
    for rule in _fixed_rules(chains):
        if not exists(rule):
            append(rule)
    for jump in jumps(chains):
        if not exists(jump):
            insert_first(jump)


def remove_chains(chains: Chains) -> None:
    """Remove the jumps, then flush and delete an instance's chains (and nothing else)."""
    for jump in jumps(chains):
        while exists(jump):
            delete(jump)
    for table, chain in chains.all():
        if chain_exists(table, chain):
            _run(["-t", table, "-F", chain], NO_TRACE)
    for table, chain in chains.all():
        if chain_exists(table, chain):
            _run(["-t", table, "-X", chain], NO_TRACE)


def network_rules(chains: Chains, bridge: str, subnet: str, internal: bool) -> list[Rule]:
    """The rules one bridge network needs, in the order they are added."""
    rules = [
        # Isolation: ISOLATION-2 drops what goes from this bridge to another nbdock bridge, or back.
        Rule("filter", chains.isolation_1, ("-i", bridge, "!", "-o", bridge, "-j", chains.isolation_2)),
        Rule("filter", chains.isolation_1, ("!", "-i", bridge, "-o", bridge, "-j", chains.isolation_2)),
        # Replies to connections the containers opened may come back in.
        Rule(
            "filter", chains.forward,
            ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
        ),
        # Containers of the network talk to each other.  With br_netfilter loaded
        # (dockerd loads it) even traffic switched inside the bridge passes FORWARD.
        Rule("filter", chains.forward, ("-i", bridge, "-o", bridge, "-j", "ACCEPT")),
    ]
    if internal:
        # An internal network reaches nothing outside itself, and nothing reaches in.
        rules += [
            Rule("filter", chains.isolation_1, ("!", "-s", subnet, "-o", bridge, "-j", "DROP")),
            Rule("filter", chains.isolation_1, ("-i", bridge, "!", "-d", subnet, "-j", "DROP")),
        ]
    else:
        rules += [
            Rule("filter", chains.forward, ("-i", bridge, "!", "-o", bridge, "-j", "ACCEPT")),
            # Outgoing packets leave with the host's address: the rest of the world
            # has no route back to a container's private address.
            Rule("nat", chains.postrouting, ("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE")),
        ]
    return rules


def port_rules(
    chains: Chains, bridge: str, host_ip: str, host_port: int, proto: str, container_ip: str, container_port: int
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
            chains.dnat,
            (*destination, "!", "-i", bridge, "-p", proto, "-m", proto, "--dport", str(host_port),
             "-j", "DNAT", "--to-destination", f"{container_ip}:{container_port}"),
        ),
        Rule(
            "filter",
            chains.forward,
            ("-d", f"{container_ip}/32", "!", "-i", bridge, "-o", bridge, "-p", proto, "-m", proto,
             "--dport", str(container_port), "-j", "ACCEPT"),
        ),
    ]
