"""Which registry servers to talk to, and how: HTTPS or plain HTTP, mirrors, offline.

An image reference names a registry by its *domain* (``docker.io``,
``localhost:5000``, ``ghcr.io``).  Turning that into URLs follows Docker's
rules:

* ``docker.io`` is an alias: its API lives at ``https://registry-1.docker.io``,
  and pulls try the configured ``--registry-mirror`` URLs first.
* Every registry is spoken to over HTTPS with the certificate verified,
  except *insecure* ones: those on this machine (127.0.0.0/8, ::1,
  ``localhost``) and those named with ``--insecure-registry`` (a
  ``host:port`` or a CIDR range of addresses).  For those Docker tries
  HTTPS without verifying the certificate, then plain HTTP.

The ``offline`` switch keeps nbdock from ever reaching beyond this machine:
only registries (and token servers, and redirects) on loopback addresses are
contacted, and anything else fails at once with a clear message instead of
hanging on a network that is not there.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from nbdock.errors import InvalidArgument

#: The domain Docker Hub images are named with, and where its API really lives.
DOCKER_HUB_DOMAIN = "docker.io"
DOCKER_HUB_API = "https://registry-1.docker.io"

#: Where Docker keeps the Hub's credentials (the key of ~/.docker/config.json "auths").
DOCKER_HUB_INDEX = "https://index.docker.io/v1/"

#: Addresses that never leave this machine: Docker treats them as insecure.
LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class Endpoint:
    """One base URL to reach a registry's ``/v2/`` API at."""

    url: str  # scheme://host[:port], no trailing slash
    verify_tls: bool
    is_mirror: bool = False

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


#: The names people give Docker Hub in ``docker login``; all mean ``docker.io``.
_DOCKER_HUB_ALIASES = ("", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


def server_domain(server: str) -> str:
    """The registry a ``docker login SERVER`` argument names, as a bare domain.

    ``https://index.docker.io/v1/``, ``docker.io`` or nothing -> ``docker.io``;
    ``http://127.0.0.1:5000/`` -> ``127.0.0.1:5000``.
    """
    text = server.strip()
    netloc = urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    netloc = netloc.lower()
    return DOCKER_HUB_DOMAIN if netloc in _DOCKER_HUB_ALIASES else netloc


def host_of(domain: str) -> str:
    """``localhost:5000`` -> ``localhost``; ``[::1]:5000`` -> ``::1``."""
    host = urlsplit("//" + domain).hostname
    return host or domain


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ::1 (no DNS is consulted)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in LOOPBACK_NETWORKS)


@dataclass
class RegistryConfig:
    """The daemon's registry settings (``--insecure-registry``, ``--registry-mirror``)."""

    insecure_registries: list[str] = field(default_factory=list)
    mirrors: list[str] = field(default_factory=list)
    offline: bool = False

    def __post_init__(self):
        for mirror in self.mirrors:
            parts = urlsplit(mirror)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidArgument(f"invalid registry mirror {mirror!r}: expected http(s)://host[:port]")
        for entry in self.insecure_registries:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise InvalidArgument(f"invalid insecure registry {entry!r}: not a host:port or CIDR") from None

    def is_insecure(self, domain: str) -> bool:
        """Whether ``domain`` may be spoken to without a verified certificate."""
        host = host_of(domain)
        if is_loopback(host) or domain in self.insecure_registries or host in self.insecure_registries:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(
            "/" in entry and address in ipaddress.ip_network(entry, strict=False) for entry in self.insecure_registries
        )

    def endpoints(self, domain: str, *, for_push: bool = False) -> list[Endpoint]:
        """The URLs to try for ``domain``, in order.

        Mirrors only ever serve pulls of Docker Hub images: a push must reach
        the real registry.
        """
        if domain == DOCKER_HUB_DOMAIN:
            endpoints = [] if for_push else [self._mirror_endpoint(mirror) for mirror in self.mirrors]
            endpoints.append(Endpoint(DOCKER_HUB_API, verify_tls=True))
        elif self.is_insecure(domain):
            endpoints = [
                Endpoint(f"https://{domain}", verify_tls=False),
                Endpoint(f"http://{domain}", verify_tls=False),
            ]
        else:
            endpoints = [Endpoint(f"https://{domain}", verify_tls=True)]
        return endpoints

    def _mirror_endpoint(self, mirror: str) -> Endpoint:
        parts = urlsplit(mirror)
        verify_tls = not self.is_insecure(parts.netloc)
        return Endpoint(f"{parts.scheme}://{parts.netloc}", verify_tls=verify_tls, is_mirror=True)

    def allows(self, url: str) -> bool:
        """Whether contacting ``url`` is allowed (always, unless ``offline``)."""
        return not self.offline or is_loopback(urlsplit(url).hostname or "")
