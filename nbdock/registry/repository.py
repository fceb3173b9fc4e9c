"""The distribution API of one repository: one method per HTTP call a pull or push makes.

The OCI distribution spec is a small REST API under ``/v2/``::

    GET  /v2/                                   is this a registry, and how do I authenticate?
    GET  /v2/<name>/manifests/<tag|digest>      the manifest (or manifest list)
    GET  /v2/<name>/blobs/<digest>              a config or layer blob
    HEAD /v2/<name>/blobs/<digest>              does the registry have this blob?
    POST /v2/<name>/blobs/uploads/              start an upload (or ?mount= one from another repository)
    PATCH <upload location>                     send the bytes
    PUT  <upload location>?digest=<digest>      finish the upload; the registry checks the digest
    PUT  /v2/<name>/manifests/<tag>             publish the manifest under a tag

:class:`Repository` wraps these for one repository (``library/alpine``) at
one endpoint, adding the ``Authorization`` header and one retry after a
401 (the registry's challenge may tell us what token it wants).
"""

from __future__ import annotations

from typing import AsyncIterator
from urllib.parse import quote, urljoin

import aiohttp
from multidict import CIMultiDict

from nbdock.errors import RegistryError, Unauthorized

from .auth import AuthConfig, Authenticator, repository_scope
from .challenges import parse_challenges
from .config import Endpoint
from .manifest import ACCEPTED_MANIFEST_TYPES, MAX_MANIFEST_SIZE, sha256_digest
from .transport import RegistryUnreachable, Transport, api_error


class Repository:
    """One repository at one registry endpoint, as one user."""

    def __init__(self, transport: Transport, endpoint: Endpoint, name: str, authenticator: Authenticator, scopes):
        self.transport = transport
        self.endpoint = endpoint
        self.name = name
        self.authenticator = authenticator
        self.scopes = list(scopes)

    @classmethod
    async def open(
        cls,
        transport: Transport,
        endpoint: Endpoint,
        name: str,
        auth: AuthConfig | None,
        actions: list[str],
        *,
        extra_scopes: tuple[str, ...] = (),
    ) -> "Repository":
        """Probe the endpoint's ``/v2/`` and return a repository ready for requests.

        The probe is how a client learns whether it talks to a registry at
        all, and which authentication it demands (the 401's challenge).
        """
        authenticator = Authenticator(transport, auth, endpoint.host)
        authenticator.challenged(await probe(transport, endpoint))
        return cls(transport, endpoint, name, authenticator, [repository_scope(name, actions), *extra_scopes])

    # --- manifests ----------------------------------------------------------------------

    async def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """Fetch the manifest for a tag or digest: ``(bytes, content type, digest)``.

        The digest is computed from the bytes, never taken on trust: when we
        asked for a digest, the content must have it; when we asked for a
        tag, the registry's ``Docker-Content-Digest`` header must agree.
        """
        url = self._url(f"manifests/{reference}")
        headers = [("Accept", media_type) for media_type in ACCEPTED_MANIFEST_TYPES]
        response = await self._request("GET", url, headers=headers)
        async with response:
            body = await _read_at_most(response, MAX_MANIFEST_SIZE, f"manifest {self.name}:{reference}")
            content_type = response.headers.get("Content-Type", "")
            announced = response.headers.get("Docker-Content-Digest")
        digest = sha256_digest(body)
        expected = reference if reference.startswith("sha256:") else announced
        if expected and expected != digest:
            raise RegistryError(
                f"manifest for {self.name}:{reference} from {self.endpoint.host} "
                f"has digest {digest}, expected {expected}"
            )
        return body, content_type, digest

    async def put_manifest(self, tag: str, body: bytes, media_type: str) -> str:
        """Publish a manifest under ``tag``; the registry checks that every blob it names exists."""
        url = self._url(f"manifests/{tag}")
        response = await self._request("PUT", url, headers=[("Content-Type", media_type)], data=body, ok=(201,))
        async with response:
            announced = response.headers.get("Docker-Content-Digest")
        digest = sha256_digest(body)
        if announced and announced != digest:
            raise RegistryError(
                f"registry {self.endpoint.host} stored manifest {self.name}:{tag} as {announced}, not {digest}"
            )
        return digest

    # --- blobs ----------------------------------------------------------------------------

    async def has_blob(self, digest: str) -> bool:
        """``HEAD`` the blob: a push skips what the registry already has."""
        response = await self._request("HEAD", self._url(f"blobs/{digest}"), ok=(200, 404))
        async with response:
            return response.status == 200

    async def get_blob(self, digest: str, max_size: int) -> bytes:
        """A small blob (an image config), whole.  Its digest is checked."""
        response = await self.open_blob(digest)
        async with response:
            body = await _read_at_most(response, max_size, f"blob {digest}")
        if sha256_digest(body) != digest:
            raise RegistryError(f"digest mismatch for blob {digest} of {self.name} from {self.endpoint.host}")
        return body

    async def open_blob(self, digest: str) -> aiohttp.ClientResponse:
        """Start downloading a blob; the caller streams ``response.content`` and checks the digest."""
        return await self._request("GET", self._url(f"blobs/{digest}"))

    async def mount_blob(self, digest: str, source: str) -> str | None:
        """Ask the registry to link a blob from repository ``source`` instead of uploading it.

        Returns None when the blob was mounted (201), or the upload location
        the registry opened instead (202: it could not, or would not, mount).
        """
        url = self._url(f"blobs/uploads/?mount={quote(digest)}&from={quote(source)}")
        response = await self._request("POST", url, ok=(201, 202))
        async with response:
            if response.status == 201:
                return None
            return self._location(response)

    async def start_upload(self) -> str:
        """Open an upload session; its URL (``Location``) receives the bytes."""
        response = await self._request("POST", self._url("blobs/uploads/"), ok=(202,))
        async with response:
            return self._location(response)

    async def upload_blob(self, location: str, digest: str, content: bytes | AsyncIterator[bytes]) -> None:
        """Send a blob (whole, or streamed in chunks) into an upload session and close it with its digest.

        Like moby, one streamed ``PATCH`` carries all the bytes, then a
        ``PUT ?digest=`` asks the registry to verify and store them.
        """
        response = await self._request(
            "PATCH", location, headers=[("Content-Type", "application/octet-stream")], data=content, ok=(202,)
        )
        async with response:
            location = self._location(response)
        separator = "&" if "?" in location else "?"
        response = await self._request("PUT", f"{location}{separator}digest={quote(digest)}", ok=(201,))
        response.release()

    # --- plumbing -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.endpoint.url}/v2/{self.name}/{path}"

    def _location(self, response: aiohttp.ClientResponse) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.endpoint.host} opened an upload without a Location header")
        return urljoin(str(response.url), location)

    async def _request(self, method: str, url: str, *, headers=(), data=None, ok=(200,)) -> aiohttp.ClientResponse:
        """Send an authenticated request; raise the registry's error unless the status is in ``ok``."""
        sent = await self.authenticator.authorization(self.scopes)
        response = await self._send(method, url, headers, data, sent)
        if response.status == 401 and not _is_stream(data):
            # The challenge of the 401 may ask for a token we do not have yet
            # (a wider scope, or a fresh one): learn from it and try once more.
            self.authenticator.challenged(parse_challenges(response.headers.getall("WWW-Authenticate", [])))
            retry = await self.authenticator.authorization(self.scopes)
            if retry is not None and retry != sent:
                response.release()
                response = await self._send(method, url, headers, data, retry)
        if response.status in ok:
            return response
        async with response:
            error = await api_error(method, response)
        basic_only = "basic" in self.authenticator.challenges and "bearer" not in self.authenticator.challenges
        if error.http_status == 401 and basic_only and not self.authenticator.sends_credentials:
            raise Unauthorized(f'{method.capitalize()} "{url}": no basic auth credentials')
        raise error

    async def _send(self, method, url, headers, data, authorization) -> aiohttp.ClientResponse:
        request_headers = CIMultiDict(headers)
        if authorization:
            request_headers["Authorization"] = authorization
        return await self.transport.send(
            method, url, headers=request_headers, data=data, verify_tls=self.endpoint.verify_tls
        )


async def probe(transport: Transport, endpoint: Endpoint) -> list:
    """``GET /v2/``: the challenges of a 401, or none when the registry needs no authentication."""
    url = f"{endpoint.url}/v2/"
    response = await transport.send("GET", url, verify_tls=endpoint.verify_tls)
    async with response:
        if response.status == 200:
            return []
        if response.status == 401:
            return parse_challenges(response.headers.getall("WWW-Authenticate", []))
        raise RegistryUnreachable(f'Get "{url}": not a registry (answered {response.status} {response.reason})')


def _is_stream(data) -> bool:
    """A streamed body can be sent only once, so a request carrying one is never retried."""
    return data is not None and not isinstance(data, (bytes, str, dict))


async def _read_at_most(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, unless it grows past ``limit`` bytes: a hostile server could send forever."""
    body = bytearray()
    while chunk := await response.content.read(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise RegistryError(f"{what} is larger than {limit} bytes: refusing it")
    return bytes(body)
