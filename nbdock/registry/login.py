"""Login: check a username and password against a registry, as ``docker login`` does.

A registry has no "login" call.  Docker proves the credentials the way a
pull would use them: it probes ``/v2/``, answers the challenge (Basic: send
the password; Bearer: get a token from the token server with it), and
probes ``/v2/`` again with the result.  200 means the credentials work.
Nothing is remembered by the daemon: saving the login is the client's job
(:mod:`nbdock.registry.credentials`).
"""

from __future__ import annotations

from nbdock.errors import RegistryError, Unauthorized

from .auth import AuthConfig, Authenticator
from .config import Endpoint, RegistryConfig, server_domain
from .repository import probe
from .transport import RegistryUnreachable, Transport


async def login(transport: Transport, config: RegistryConfig, server: str, username: str, password: str) -> dict:
    """Validate the credentials; the answer is the Engine API's ``POST /auth`` body."""
    auth = AuthConfig(username=username, password=password, server_address=server)
    failure: RegistryError | None = None
    # Mirrors serve pulls only; a login is for the registry itself.
    for endpoint in config.endpoints(server_domain(server), for_push=True):
        try:
            identity_token = await _login_at(transport, endpoint, auth)
        except RegistryUnreachable as error:
            failure = error
            continue
        return {"Status": "Login Succeeded", "IdentityToken": identity_token}
    assert failure is not None
    raise failure


async def _login_at(transport: Transport, endpoint: Endpoint, auth: AuthConfig) -> str:
    """Log in at one endpoint; returns the refresh token a token server may have issued."""
    challenges = await probe(transport, endpoint)
    if not challenges:
        return ""  # The registry lets everyone in: there is nothing to check.
    authenticator = Authenticator(transport, auth, endpoint.host)
    authenticator.challenged(challenges)
    authorization = await authenticator.authorization([], for_login=True)
    url = f"{endpoint.url}/v2/"
    if authorization is None:
        schemes = ", ".join(challenge.scheme for challenge in challenges)
        raise RegistryError(f"registry {endpoint.host} asks for {schemes} authentication, which nbdock cannot do")
    headers = {"Authorization": authorization}
    response = await transport.send("GET", url, headers=headers, verify_tls=endpoint.verify_tls)
    async with response:
        if response.status == 200:
            return authenticator.refresh_token
        failure = f"login attempt to {url} failed with status: {response.status} {response.reason}"
    if response.status == 401:
        raise Unauthorized(failure)
    raise RegistryError(failure)
