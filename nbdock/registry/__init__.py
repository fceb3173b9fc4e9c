"""nbdock.registry: pulling and pushing images against OCI distribution registries.

The modules, from the wire up:

* :mod:`.transport` -- every HTTP request: offline guard, TLS, redirects, error bodies;
* :mod:`.config` -- which URLs a registry name means (HTTPS/HTTP, mirrors);
* :mod:`.auth` -- credentials, the 401 challenge, bearer tokens;
* :mod:`.repository` -- the distribution API calls for one repository;
* :mod:`.manifest` -- manifest formats, platform selection;
* :mod:`.pull`, :mod:`.push`, :mod:`.login` -- the three operations;
* :mod:`.progress` -- Docker's JSON progress messages;
* :mod:`.client` -- :class:`RegistryClient`, what the engine calls;
* :mod:`.credentials` -- ``~/.docker/config.json`` logins, for nbdock's clients.
"""


from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth import AuthConfig, decode_auth_header
    from .client import RegistryClient
    from .config import RegistryConfig

__all__ = ["AuthConfig", "RegistryClient", "RegistryConfig", "decode_auth_header"]

#: Where each name lives.  They are imported when first used (PEP 562), not with the package:
#: the CLI reads a login from :mod:`.credentials` on every command, and importing the
#: registry client with it (aiohttp) would slow every ``nbdock run`` for nothing.
_HOMES = {"AuthConfig": "auth", "decode_auth_header": "auth", "RegistryClient": "client", "RegistryConfig": "config"}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
