"""The contents of a container's /etc/hosts and /etc/resolv.conf, as Docker writes them.

Pure text functions: the manager reads the host's files and hands them in.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Iterable

from nbdock.network.errors import InvalidNetworkArgument

#: The address of the embedded resolver inside every container on a user-defined network.
EMBEDDED_DNS = "127.0.0.11"

#: What Docker writes when the host lists only resolvers on its own loopback,
#: which a container in its own network namespace cannot reach.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")

#: The first lines of every /etc/hosts Docker writes.
HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def nameservers(resolv_conf: str) -> list[str]:
    """The addresses on the ``nameserver`` lines of a resolv.conf."""
    servers = []
    for line in resolv_conf.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def _is_loopback(address: str) -> bool:
    try:
        return ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def container_resolv_conf(host_resolv_conf: str, *, embedded_dns: bool) -> str:
    """The resolv.conf of a container with its own network namespace.

    * On a user-defined network the only nameserver is the embedded resolver,
      127.0.0.11, with ``options ndots:0`` so that a bare container name is
      asked as-is rather than with every search domain appended first.  The
      host's search and options lines are kept.
    * Otherwise the container gets the host's file minus the nameservers on
      the host's loopback (127.0.0.53 of systemd-resolved, say): inside the
      container, 127.0.0.1 is the container itself.  If nothing is left,
      Docker falls back to Google's public resolvers.
    """
    kept = []
    for line in host_resolv_conf.splitlines():
        fields = line.split()
        if fields and fields[0] == "nameserver":
            if embedded_dns or len(fields) < 2 or _is_loopback(fields[1]):
                continue
        kept.append(line)
    if embedded_dns:
        return "\n".join([f"nameserver {EMBEDDED_DNS}"] + kept + ["options ndots:0"]) + "\n"
    if not nameservers("\n".join(kept)):
        kept += [f"nameserver {server}" for server in FALLBACK_NAMESERVERS]
    return "\n".join(kept) + "\n"


def with_dns_settings(resolv_conf: str, *, servers: Iterable[str] = (), search: Iterable[str] = (),
                      options: Iterable[str] = ()) -> str:
    """``--dns``, ``--dns-search``, ``--dns-option``: each replaces the lines of its kind.

    As libnetwork's resolvconf.Build, the file is then written afresh: the
    search line, the nameservers, the options line (comments are dropped).
    """
    servers, search, options = list(servers), list(search), list(options)
    if not (servers or search or options):
        return resolv_conf

    def current(key: str) -> list[str]:
        return [value for line in resolv_conf.splitlines() if (fields := line.split()) and fields[0] == key
                for value in fields[1:]]

    search = search or current("search")
    servers = servers or current("nameserver")
    options = options or current("options")
    lines = (["search " + " ".join(search)] if search else []) + [f"nameserver {server}" for server in servers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def parse_extra_host(entry: str, host_gateway: str | None) -> tuple[str, str]:
    """``"name:ip"`` (``--add-host``) -> (name, ip).  ``host-gateway`` means the default bridge's gateway."""
    name, sep, address = entry.partition(":")
    if not sep or not name:
        raise InvalidNetworkArgument(f"invalid extra host {entry!r}: expected NAME:IP")
    if address == "host-gateway":
        if host_gateway is None:
            raise InvalidNetworkArgument(f"invalid extra host {entry!r}: there is no default bridge gateway")
        return name, host_gateway
    try:
        ip_address(address)
    except ValueError:
        raise InvalidNetworkArgument(f"invalid IP address in add-host: {address!r}") from None
    return name, address


def container_hosts_file(
    hostname: str, domainname: str, own_addresses: Iterable[str], extra_hosts: Iterable[tuple[str, str]]
) -> str:
    """Docker's /etc/hosts: localhost entries, then ``--add-host`` entries, then the container's own name."""
    lines = [HOSTS_HEADER]
    lines += [f"{address}\t{name}\n" for name, address in extra_hosts]
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    lines += [f"{address}\t{names}\n" for address in own_addresses]
    return "".join(lines)
