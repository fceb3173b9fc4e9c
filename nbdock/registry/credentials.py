"""Saved registry logins, kept where and how the docker CLI keeps them.

``docker login`` stores credentials on the *client* side, in
``~/.docker/config.json`` (or ``$DOCKER_CONFIG/config.json``)::

    {"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
               "localhost:5000": {"auth": "YWxpY2U6czNjcmV0"}}}

``auth`` is ``base64("user:password")`` -- an encoding, not encryption:
anyone who can read the file has the password, hence mode 0600.  The
daemon never reads this file; each pull or push carries the credentials
in its ``X-Registry-Auth`` header.  nbdock's own clients use this module,
so that ``docker login`` and nbdock share one set of logins.

Docker Hub's entry is keyed by the legacy index URL
``https://index.docker.io/v1/``; every other registry by its ``host:port``.
(Credential helpers -- ``credsStore``, ``credHelpers`` -- are not supported:
this module only reads and writes the file.)
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import tempfile
from pathlib import Path

from nbdock.errors import InvalidArgument

from .auth import AuthConfig
from .config import DOCKER_HUB_DOMAIN, DOCKER_HUB_INDEX, server_domain


def config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, or ``~/.docker/config.json``."""
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(directory) / "config.json"


def server_key(server: str) -> str:
    """The key a login for ``server`` is saved under in ``auths``."""
    domain = server_domain(server)
    return DOCKER_HUB_INDEX if domain == DOCKER_HUB_DOMAIN else domain


def load(server: str) -> AuthConfig | None:
    """The saved credentials for ``server`` (any spelling: ``docker.io``, ``http://host:5000``...), or None."""
    domain = server_domain(server)
    for key, entry in _read_config().get("auths", {}).items():
        if server_domain(key) == domain and isinstance(entry, dict):
            return dataclasses.replace(AuthConfig.from_json(entry), server_address=server_key(server))
    return None


def save(server: str, username: str, password: str, identity_token: str = "") -> None:
    """Remember a login.  With an identity token (a refresh token from the registry) the password is not kept."""
    if ":" in username:
        raise InvalidArgument(f"invalid username {username!r}: it may not contain ':'")
    entry: dict = {"auth": base64.b64encode(f"{username}:{'' if identity_token else password}".encode()).decode()}
    if identity_token:
        entry["identitytoken"] = identity_token
    config = _read_config()
    domain = server_domain(server)
    auths = {key: value for key, value in config.get("auths", {}).items() if server_domain(key) != domain}
    auths[server_key(server)] = entry
    config["auths"] = auths
    _write_config(config)


def remove(server: str) -> bool:
    """Forget the login for ``server`` (``docker logout``).  False if there was none."""
    config = _read_config()
    auths = config.get("auths", {})
    kept = {key: value for key, value in auths.items() if server_domain(key) != server_domain(server)}
    if len(kept) == len(auths):
        return False
    config["auths"] = kept
    _write_config(config)
    return True


def _read_config() -> dict:
    path = config_path()
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"{path} is not valid JSON: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("auths", {}), dict):
        raise InvalidArgument(f"{path} is not a docker config file (expected an object with an 'auths' object)")
    return config


def _write_config(config: dict) -> None:
    """Replace the file atomically (temp file + rename); mkstemp makes it readable by its owner only.

    Other keys of the file (``credsStore``, ``proxies``, the CLI's
    ``currentContext``...) are kept as they were.
    """
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temp_path = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(config, file, indent="\t")
            file.write("\n")
        os.replace(temp_path, path)
    except BaseException:
        os.unlink(temp_path)
        raise


__all__ = ["config_path", "server_key", "load", "save", "remove"]
