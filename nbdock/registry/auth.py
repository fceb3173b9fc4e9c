"""Authentication: the credentials a client hands us, and the registry's challenge.

A registry says how it wants to be authenticated when it refuses a request:
it answers ``401 Unauthorized`` with a ``WWW-Authenticate`` *challenge*:

``Basic realm="basic-realm"``
    send ``Authorization: Basic base64(user:password)`` with every request
    (a registry with an htpasswd file);

``Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"``
    go to the token server at *realm*, ask it for a token for *service*
    allowing *scope* (proving who you are with Basic auth, or with nothing
    for anonymous pulls), then send ``Authorization: Bearer <token>``.  The
    token is a signed statement ("this client may pull library/alpine, for
    the next 5 minutes") that the registry checks without calling back.
    This is Docker Hub's scheme, and most registries'.

The credentials themselves arrive from the client: the docker CLI puts them
in the ``X-Registry-Auth`` header of each pull and push, as base64url JSON
(:func:`decode_auth_header`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable
from urllib.parse import urlencode, urlsplit

from nbdock.errors import InvalidArgument, RegistryError, Unauthorized

# The challenges' parser is its own module, below both this one and transport.py (which reads a
# challenge's error from a refusal): auth -> transport -> challenges, no cycle.
from .challenges import Challenge

if TYPE_CHECKING:
    from .transport import Transport

#: Docker's client id, sent to token servers (they may log it).
CLIENT_ID = "docker"

#: A token server may say a token lasts less than a minute; Docker assumes at least that.
MIN_TOKEN_LIFETIME = 60

#: A token answer is a small JSON document; read no more than this of one.
MAX_TOKEN_ANSWER = 1024 * 1024


@dataclass(frozen=True)
class AuthConfig:
    """A user's credentials for one registry (Docker's ``AuthConfig``).

    ``identity_token`` is a refresh token a previous ``login`` returned, used
    instead of the password; ``registry_token`` is a bearer token to send as
    it is, skipping the token server.
    """

    username: str = ""
    password: str = field(default="", repr=False)  # secrets stay out of logs and tracebacks
    server_address: str = ""
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)

    @property
    def has_password(self) -> bool:
        return bool(self.username and self.password)

    @classmethod
    def from_json(cls, data: dict) -> "AuthConfig":
        """Docker's JSON form (``username``, ``password``, ``serveraddress``, ``identitytoken``, ...).

        ``auth``, when present, is ``base64(username:password)`` as in
        ``~/.docker/config.json``; explicit fields win over it.
        """
        username, password = "", ""
        if data.get("auth"):
            username, password = decode_basic_pair(str(data["auth"]))
        return cls(
            username=str(data.get("username") or username),
            password=str(data.get("password") or password),
            server_address=str(data.get("serveraddress") or ""),
            identity_token=str(data.get("identitytoken") or ""),
            registry_token=str(data.get("registrytoken") or ""),
        )


def decode_basic_pair(encoded: str) -> tuple[str, str]:
    """``base64("user:password")`` -> ``("user", "password")``."""
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("invalid credentials: 'auth' is not base64 of user:password") from None
    return username, password


def decode_auth_header(value: str | None) -> AuthConfig | None:
    """The credentials in an ``X-Registry-Auth`` header, or None when there is none.

    The docker CLI sends base64url-encoded JSON (``e30=``, that is ``{}``,
    when the user never logged in).  Padding is optional, as in Go's
    decoder.
    """
    if not value:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(decoded)
    except (binascii.Error, ValueError):
        raise InvalidArgument("invalid X-Registry-Auth header: expected base64url-encoded JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: expected a JSON object")
    return AuthConfig.from_json(data)


def repository_scope(repository: str, actions: Iterable[str]) -> str:
    """The token scope for ``actions`` on ``repository``: ``repository:library/alpine:pull``."""
    return f"repository:{repository}:{','.join(actions)}"


# --- the authenticator ----------------------------------------------------------------------


class Authenticator:
    """Produces the ``Authorization`` header for requests to one registry endpoint.

    It starts from the challenges of the ``/v2/`` probe and learns from every
    later 401 (a token for a wider scope, an expired token).  Bearer tokens
    are cached until shortly before they expire.
    """

    def __init__(self, transport: "Transport", auth: AuthConfig | None, registry: str):
        self.transport = transport
        self.auth = auth or AuthConfig()
        self.registry = registry
        self.challenges: dict[str, Challenge] = {}
        self.extra_scopes: set[str] = set()
        self.refresh_token = ""
        self._token = ""
        self._token_scopes: frozenset[str] = frozenset()
        self._token_expires = 0.0

    def challenged(self, challenges: list[Challenge]) -> None:
        """Take in the challenges of a 401 answer, so that the next request can do better.

        A bearer challenge may name the scope the request needed; any cached
        token evidently did not do, so it is dropped.
        """
        for challenge in challenges:
            self.challenges[challenge.scheme] = challenge
            if challenge.scheme == "bearer" and challenge.params.get("scope"):
                self.extra_scopes.update(challenge.params["scope"].split(" "))
        self._token = ""

    @property
    def sends_credentials(self) -> bool:
        return self.auth.has_password or bool(self.auth.identity_token or self.auth.registry_token)

    async def authorization(self, scopes: Iterable[str], *, for_login: bool = False) -> str | None:
        """The ``Authorization`` header value for a request needing ``scopes``, or None (anonymous)."""
        if self.auth.registry_token:
            return f"Bearer {self.auth.registry_token}"
        if "bearer" in self.challenges:
            wanted = frozenset(scopes) | self.extra_scopes
            if not self._token or wanted != self._token_scopes or time.monotonic() >= self._token_expires:
                await self._fetch_token(self.challenges["bearer"], wanted, for_login)
            return f"Bearer {self._token}"
        if "basic" in self.challenges and self.auth.has_password:
            pair = f"{self.auth.username}:{self.auth.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None

    async def _fetch_token(self, challenge: Challenge, scopes: frozenset[str], for_login: bool) -> None:
        """Ask the token server (the challenge's realm) for a bearer token covering ``scopes``."""
        realm = challenge.params.get("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"registry {self.registry} sent a bearer challenge without a valid realm: {realm!r}")
        service = challenge.params.get("service", "")
        if self.auth.identity_token:
            method, response = "POST", await self._refresh_token_grant(realm, service, scopes)
        else:
            method, response = "GET", await self._password_grant(realm, service, scopes, for_login)
        async with response:
            body = await response.content.read(MAX_TOKEN_ANSWER)
        where = f'{method.capitalize()} "{realm}"'
        if response.status in (401, 403):
            raise Unauthorized(f"{where}: unauthorized: {_token_error(body) or 'authentication required'}")
        if response.status != 200:
            reason = _token_error(body) or f"{response.status} {response.reason}"
            raise RegistryError(f"{where}: the token server refused: {reason}")
        self._remember_token(where, body, scopes)

    async def _password_grant(self, realm: str, service: str, scopes: frozenset[str], for_login: bool):
        """``GET realm?service=...&scope=...``, with the password as Basic auth (or anonymously)."""
        query = [("service", service)] + [("scope", scope) for scope in sorted(scopes)]
        headers = {}
        if self.auth.has_password:
            query.append(("account", self.auth.username))
            pair = f"{self.auth.username}:{self.auth.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        if for_login:
            # Ask for a refresh token too, to hand back as the login's IdentityToken.
            query += [("offline_token", "true"), ("client_id", CLIENT_ID)]
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        return await self.transport.send("GET", url, headers=headers, verify_tls=self._verify_tls(realm))

    async def _refresh_token_grant(self, realm: str, service: str, scopes: frozenset[str]):
        """OAuth2's refresh-token grant: the identity token of an earlier login stands in for the password."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.auth.identity_token,
            "service": service,
            "client_id": CLIENT_ID,
            "scope": " ".join(sorted(scopes)),
        }
        return await self.transport.send("POST", realm, data=form, verify_tls=self._verify_tls(realm))

    def _verify_tls(self, realm: str) -> bool:
        return not self.transport.config.is_insecure(urlsplit(realm).netloc)

    def _remember_token(self, where: str, body: bytes, scopes: frozenset[str]) -> None:
        """Keep the token of a token server's answer ``{"token"|"access_token", "expires_in", ...}``."""
        try:
            answer = json.loads(body)
            token = answer.get("token") or answer.get("access_token")
            lifetime = max(int(answer.get("expires_in") or MIN_TOKEN_LIFETIME), MIN_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            raise RegistryError(f"{where}: the token server's answer is not a token") from None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{where}: the token server's answer has no token")
        self._token = token
        self._token_scopes = scopes
        # Renew a little early, so that a token never expires in flight.
        self._token_expires = time.monotonic() + lifetime - 10
        self.refresh_token = str(answer.get("refresh_token") or "")


def _token_error(body: bytes) -> str:
    """The reason a token server gives for a refusal: Docker Hub's ``details`` or the distribution API's errors."""
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    if isinstance(answer.get("details"), str):
        return answer["details"]
    errors = answer.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("code") or "")
    return ""
