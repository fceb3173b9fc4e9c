"""HTTP to registries: one place that sends every request and turns failures into errors.

All registry traffic (the API, token servers, redirected blob downloads)
goes through :class:`Transport.send`, so the rules that keep it safe are
applied once:

* **offline**: a URL that is not on this machine is refused before any
  packet leaves (see :mod:`nbdock.registry.config`);
* **TLS**: certificates are verified unless the registry is insecure;
* **redirects**: registries often answer a blob download with a redirect to
  a storage server or CDN.  We follow it, but the ``Authorization`` header
  (our credentials for the registry) is only sent again if the new URL has
  the same origin: a storage host has no business seeing them;
* **errors**: a registry that cannot be reached becomes a
  :class:`RegistryUnreachable` that names the URL, and an error answer
  becomes a :class:`RegistryAPIError` carrying the registry's own error code
  (``MANIFEST_UNKNOWN``, ``DENIED``, ...) so callers can explain it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from urllib.parse import urljoin, urlsplit

import aiohttp
from multidict import CIMultiDict

from nbdock.errors import RegistryError

from .challenges import parse_challenges
from .config import RegistryConfig, is_loopback

#: Statuses that mean "the content is over there".
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10

#: A registry that accepts a connection and then says nothing is as broken
#: as one that is down; don't wait on it for ever.
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)


class RegistryUnreachable(RegistryError):
    """The request never got an HTTP answer: refused, unresolvable, TLS failure, timeout, offline."""


class RegistryAPIError(RegistryError):
    """The registry answered with an error status.

    ``code`` is the distribution API's error code from the body (``MANIFEST_UNKNOWN``,
    ``NAME_UNKNOWN``, ``DENIED``, ``UNAUTHORIZED``...) or, when the body has
    none, one derived from the HTTP status.  ``reason`` is that error as
    Docker prints it: ``manifest unknown: manifest unknown``.
    """

    def __init__(self, method: str, url: str, status: int, code: str, detail: str):
        self.http_status = status
        self.code = code
        self.reason = f"{code.lower().replace('_', ' ')}: {detail}" if detail else code.lower().replace("_", " ")
        super().__init__(f'{method.capitalize()} "{url}": {self.reason}')


#: HTTP statuses -> the distribution API error code they stand for, for answers that carry none
#: (a HEAD has no body), with the message the API gives each code.
_STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 429: "TOOMANYREQUESTS"}
_CODE_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "TOOMANYREQUESTS": "too many requests",
}

#: A bearer challenge's ``error`` (RFC 6750) -> the API error code it means.
_BEARER_ERRORS = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}


async def api_error(method: str, response: aiohttp.ClientResponse) -> RegistryAPIError:
    """The error a registry answered with.

    A bearer challenge that says why (``error="insufficient_scope"``: the
    token does not allow this) speaks first, as in Docker's client; then the
    ``{"errors": [{"code", "message"}]}`` body; then the bare HTTP status.
    """
    for challenge in parse_challenges(response.headers.getall("WWW-Authenticate", [])):
        code = _BEARER_ERRORS.get(challenge.params.get("error", "")) if challenge.scheme == "bearer" else None
        if code:
            detail = challenge.params.get("error_description") or _CODE_MESSAGES[code]
            return RegistryAPIError(method, str(response.url), response.status, code, detail)
    body = await response.content.read(64 * 1024)
    code = _STATUS_CODES.get(response.status, "UNKNOWN")
    detail = _CODE_MESSAGES.get(code, f"{response.status} {response.reason}")
    try:
        errors = json.loads(body).get("errors")
        first = errors[0]
        code, detail = str(first["code"]), str(first.get("message") or "")
    except (ValueError, AttributeError, LookupError, TypeError):
        pass  # Not the distribution API's error format (a HEAD, a proxy's HTML page): keep the status.
    return RegistryAPIError(method, str(response.url), response.status, code, detail)


class Transport:
    """An HTTP client for registries, open for the duration of one pull, push or login."""

    def __init__(self, config: RegistryConfig):
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Transport":
        # auto_decompress=False: a registry may label a gzip layer with
        # Content-Encoding: gzip, and we must store the exact bytes the
        # digest was computed over, not aiohttp's helpful decompression.
        self._session = aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: CIMultiDict | dict | None = None,
        data=None,
        verify_tls: bool = True,
    ) -> aiohttp.ClientResponse:
        """Send one request and return the response, following redirects of GET and HEAD.

        The caller owns the returned response and must release it
        (``async with response:``).
        """
        assert self._session is not None, "use the Transport as an async context manager"
        headers = CIMultiDict(headers or {})
        for _hop in range(MAX_REDIRECTS + 1):
            response = await self._send_once(method, url, headers, data, verify_tls)
            if response.status not in REDIRECT_STATUSES or method not in ("GET", "HEAD"):
                return response
            location = response.headers.get("Location")
            response.release()
            if not location:
                raise RegistryError(f'{method.capitalize()} "{url}": redirect without a Location header')
            next_url = urljoin(url, location)
            if _origin(next_url) != _origin(url):
                headers.popall("Authorization", None)
            url = next_url
        raise RegistryError(f'{method.capitalize()} "{url}": stopped after {MAX_REDIRECTS} redirects')

    async def _send_once(self, method, url, headers, data, verify_tls) -> aiohttp.ClientResponse:
        if not self.config.allows(url):
            raise _unreachable(method, url, "nbdock is offline and only contacts registries on this machine")
        try:
            return await self._session.request(
                method,
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                # ssl=False keeps TLS but skips the certificate check (insecure registries).
                ssl=verify_tls,
            )
        except aiohttp.ClientConnectorCertificateError as error:
            raise _unreachable(method, url, f"x509: {error.certificate_error}") from None
        except aiohttp.ClientConnectorError as error:
            raise _unreachable(method, url, _connect_failure(error)) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError) as error:
            reason = "timed out" if isinstance(error, asyncio.TimeoutError) else str(error) or type(error).__name__
            raise _unreachable(method, url, reason) from None


#: The second line of an unreachable registry's error, for a registry off this machine: the DNS or
#: connection error alone does not tell a newcomer without a network what they can still run.
WITHOUT_A_NETWORK = ("without a network, only the embedded busybox:latest (made from the host's busybox) "
                     "is available; other images need a registry this machine can reach")


def _unreachable(method: str, url: str, reason: str) -> RegistryUnreachable:
    """Docker's first line (``Get "https://...": dial tcp: ...``), then, off this machine, what is left offline."""
    message = f'{method.capitalize()} "{url}": {reason}'
    if not is_loopback(urlsplit(url).hostname or ""):
        message += f"\n{WITHOUT_A_NETWORK}"
    return RegistryUnreachable(message)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _connect_failure(error: aiohttp.ClientConnectorError) -> str:
    """Why a connection failed, in the words Docker uses."""
    os_error = error.os_error
    if isinstance(os_error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(os_error, ssl.SSLError):
        return f"TLS handshake failed: {os_error.reason or os_error}"
    if os_error is not None and os_error.strerror:
        return os_error.strerror
    return str(error)
