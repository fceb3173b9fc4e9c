"""The HTTP rules: redirects without leaking credentials, TLS verification, insecure HTTPS registries."""

import asyncio
import base64
import datetime
import http.server
import threading
import urllib.request

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from nbdock.registry import AuthConfig, RegistryClient, RegistryConfig
from nbdock.registry.transport import RegistryUnreachable, Transport

pytestmark = pytest.mark.root

OFFLINE = RegistryConfig(offline=True)
ALICE = AuthConfig("alice", "pw")


def serve(address, handle_get):
    """An HTTP server on ``address`` whose GETs go to ``handle_get(handler)``; returns (server, thread)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            handle_get(self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(address, Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def reply(handler, status, body=b"", headers=()):
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def redirecting_registry(seeded_registry):
    """A registry front (127.0.0.1) that wants Basic auth and redirects blobs to storage on another host (127.0.0.2).

    Both serve what the seeded registry holds.  ``seen`` records the
    Authorization header of every request each of them got.
    """
    seen = {"front": [], "storage": []}
    upstream = f"http://{seeded_registry.address}"
    expected = "Basic " + base64.b64encode(b"alice:pw").decode()
    storage_server, storage_thread = None, None

    def fetch(path, accept=None):
        request = urllib.request.Request(upstream + path, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request) as response:
            return response.read(), response.headers.get("Content-Type")

    def front(handler):
        seen["front"].append(handler.headers.get("Authorization"))
        if handler.headers.get("Authorization") != expected:
            reply(handler, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                  [("WWW-Authenticate", 'Basic realm="front"')])
        elif handler.path == "/v2/":
            reply(handler, 200, b"{}")
        elif "/blobs/" in handler.path:
            storage = f"http://127.0.0.2:{storage_server.server_address[1]}"
            reply(handler, 307, headers=[("Location", f"{storage}/storage{handler.path}")])
        else:
            body, content_type = fetch(handler.path, ", ".join(handler.headers.get_all("Accept")))
            reply(handler, 200, body, [("Content-Type", content_type)])

    def storage(handler):
        seen["storage"].append(handler.headers.get("Authorization"))
        body, _ = fetch(handler.path.removeprefix("/storage"))
        reply(handler, 200, body)

    storage_server, storage_thread = serve(("127.0.0.2", 0), storage)
    front_server, front_thread = serve(("127.0.0.1", 0), front)
    try:
        yield f"127.0.0.1:{front_server.server_address[1]}", seen
    finally:
        for server, thread in ((front_server, front_thread), (storage_server, storage_thread)):
            server.shutdown()
            server.server_close()
            thread.join()


def pull(store, ref, auth=None, config=OFFLINE):
    async def collect():
        return [message async for message in RegistryClient(store, config).pull(ref, auth=auth)]

    return asyncio.run(collect())


def test_blob_redirects_are_followed_without_the_credentials(store, redirecting_registry):
    address, seen = redirecting_registry
    messages = pull(store, f"{address}/nbdock/app:1", ALICE)
    assert messages[-1] == {"status": f"Status: Downloaded newer image for {address}/nbdock/app:1"}
    assert len(seen["storage"]) == 3  # config and two layers, all through the redirect
    assert seen["storage"] == [None, None, None]
    assert "Basic " + base64.b64encode(b"alice:pw").decode() in seen["front"]


# --- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory, registry_runner):
    """A docker-registry on 127.0.0.1 that speaks only HTTPS, with a self-signed certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = tmp_path_factory.mktemp("registry-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nbdock test registry")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    tls = f"  tls:\n    certificate: {directory / 'cert.pem'}\n    key: {directory / 'key.pem'}\n"
    with registry_runner(str(directory / "server"), http_extra=tls) as registry:
        yield registry


def test_an_insecure_registry_may_use_a_self_signed_certificate(store, tls_registry, busybox_image):
    ref = f"{tls_registry.address}/tls/box:1"
    store.tag(busybox_image, ref)

    async def push():
        return [message async for message in RegistryClient(store, OFFLINE).push(ref)]

    assert asyncio.run(push())[-1]["aux"]["Tag"] == "1"


def test_certificates_are_verified_unless_the_registry_is_insecure(tls_registry):
    async def probe(verify_tls):
        async with Transport(OFFLINE) as transport:
            response = await transport.send("GET", f"https://{tls_registry.address}/v2/", verify_tls=verify_tls)
            async with response:
                return response.status

    assert asyncio.run(probe(verify_tls=False)) == 200
    with pytest.raises(RegistryUnreachable, match="certificate verify failed"):
        asyncio.run(probe(verify_tls=True))


def test_a_registry_off_this_machine_unreachable_says_only_busybox_is_available(monkeypatch):
    # The DNS failure is simulated: a real lookup would send traffic off this machine.
    async def no_such_host(*args, **kwargs):
        raise aiohttp.ClientConnectorDNSError(ConnectionKey("registry-1.docker.io", 443, True, True, None, None, None),
                                              OSError(-2, "Name or service not known"))

    async def probe(config):
        async with Transport(config) as transport:
            monkeypatch.setattr(transport._session, "request", no_such_host)
            await transport.send("GET", "https://registry-1.docker.io/v2/")

    for config, reason in ((RegistryConfig(), "Name or service not known"), (OFFLINE, "nbdock is offline")):
        with pytest.raises(RegistryUnreachable) as raised:
            asyncio.run(probe(config))
        first, second = raised.value.message.split("\n")
        assert first.startswith('Get "https://registry-1.docker.io/v2/": ') and reason in first
        assert second.startswith("without a network, only the embedded busybox:latest")


def test_a_registry_on_this_machine_unreachable_is_docker_s_one_line():
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % closed.getsockname()[1]

    async def probe():
        async with Transport(OFFLINE) as transport:
            await transport.send("GET", f"http://{address}/v2/")

    with pytest.raises(RegistryUnreachable, match=r"connection refused$"):
        asyncio.run(probe())
