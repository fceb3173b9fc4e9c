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

from .auth import AuthConfig, decode_auth_header
from .client import RegistryClient
from .config import RegistryConfig

__all__ = ["AuthConfig", "RegistryClient", "RegistryConfig", "decode_auth_header"]
