"""Real registries on 127.0.0.1 for the registry tests.

Each registry is Debian's ``docker-registry`` (distribution 2.8) started on
a free loopback port with its own storage directory, in one of three
set-ups: anonymous, htpasswd (Basic) authentication, and token (Bearer)
authentication against the small token server below.  Nothing here
contacts anything beyond this machine.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import datetime
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
TOKEN_SERVICE = "nbdock-test-registry"
TOKEN_ISSUER = "nbdock-test-token-server"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, process: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(log_path) as log:
                pytest.fail(f"docker-registry exited with {process.returncode}:\n{log.read()}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    pytest.fail(f"docker-registry did not listen on {host}:{port}")


# --- bcrypt for htpasswd, from the system's libcrypt --------------------------------------------


def bcrypt_hash(password: str) -> str:
    """An htpasswd bcrypt line's hash, made by libxcrypt (Debian's libcrypt1), which knows ``$2b$``."""
    libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
    libcrypt.crypt_gensalt.restype = ctypes.c_char_p
    libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    libcrypt.crypt.restype = ctypes.c_char_p
    libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = libcrypt.crypt_gensalt(b"$2b$", 5, None, 0)
    hashed = libcrypt.crypt(password.encode(), salt)
    assert hashed and hashed.startswith(b"$2b$"), "libcrypt cannot make bcrypt hashes"
    return hashed.decode()


# --- the token server ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """A Docker token server (distribution's token auth spec), signing RS256 JWTs.

    ``users`` maps user -> password.  Anyone may pull repositories under
    ``public/``; a known user may pull and push everything.  Requests are
    recorded in ``requests`` for the tests to inspect.
    """

    directory: str
    users: dict = field(default_factory=lambda: {"alice": "wonderland"})
    requests: list = field(default_factory=list)
    refresh_tokens: dict = field(default_factory=dict)

    def __post_init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TOKEN_ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle_path = os.path.join(self.directory, "token-root.pem")
        with open(self.bundle_path, "wb") as bundle:
            bundle.write(self.certificate.public_bytes(serialization.Encoding.PEM))
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def sign(self, subject: str, access: list[dict]) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()],
        }
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = [a for a in actions.split(",") if user or (a == "pull" and name.startswith("public/"))]
            if kind == "repository" and allowed:
                access.append({"type": "repository", "name": name, "actions": allowed})
        return access

    def answer(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict]:
        url = urllib.parse.urlsplit(path)
        params = urllib.parse.parse_qs(url.query)
        if method == "POST":
            params = urllib.parse.parse_qs(body.decode())
        self.requests.append({"method": method, "params": params, "authorization": headers.get("Authorization")})
        if url.path != "/token" or params.get("service") != [TOKEN_SERVICE]:
            return 400, {"details": "unknown service"}
        scopes = [s for value in params.get("scope", []) for s in value.split(" ")]
        if method == "POST":
            user = self.refresh_tokens.get(params.get("refresh_token", [""])[0])
            if params.get("grant_type") != ["refresh_token"] or user is None:
                return 401, {"details": "invalid refresh token"}
        else:
            user = None
            authorization = headers.get("Authorization") or ""
            if authorization.startswith("Basic "):
                name, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
                if self.users.get(name) != password:
                    return 401, {"details": "incorrect username or password"}
                user = name
        answer = {"token": self.sign(user or "", self.grant(user, scopes)), "expires_in": 300}
        if user and params.get("offline_token") == ["true"]:
            refresh = uuid.uuid4().hex
            self.refresh_tokens[refresh] = user
            answer["refresh_token"] = refresh
        if method == "POST":
            answer = {"access_token": answer["token"], "expires_in": 300}
        return 200, answer

    @contextlib.contextmanager
    def serving(self):
        token_server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, answer = token_server.answer(method, self.path, self.headers, self.rfile.read(length))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._reply("GET")

            def do_POST(self):
                self._reply("POST")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


# --- registries ---------------------------------------------------------------------------------


@dataclass
class Registry:
    """A running docker-registry: ``address`` is ``127.0.0.1:<port>``."""

    address: str
    storage: str
    log_path: str

    def log(self) -> str:
        with open(self.log_path) as log:
            return log.read()

    def blob_data_path(self, digest: str) -> str:
        hex_digest = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hex_digest[:2], hex_digest, "data")


@contextlib.contextmanager
def run_registry(directory: str, auth_config: str = "", http_extra: str = ""):
    if not os.path.exists(REGISTRY_BINARY):
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
    os.makedirs(directory, exist_ok=True)
    port = free_port()
    storage = os.path.join(directory, "storage")
    config_path = os.path.join(directory, "config.yml")
    log_path = os.path.join(directory, "registry.log")
    with open(config_path, "w") as config:
        config.write(
            "version: 0.1\n"
            "log:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n  secret: nbdock-test\n{http_extra}"
            f"{auth_config}"
        )
    with open(log_path, "w") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", config_path], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, process, log_path)
        yield Registry(f"127.0.0.1:{port}", storage, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def anonymous_registry(tmp_path_factory):
    with run_registry(str(tmp_path_factory.mktemp("registry-anonymous"))) as registry:
        yield registry


@pytest.fixture(scope="session")
def registry_runner():
    """``registry_runner(directory, auth_config="", http_extra="")``: a context manager running a registry."""
    return run_registry


@pytest.fixture
def fresh_registry(tmp_path):
    """A registry of its own, for a test that damages what it stores."""
    with run_registry(str(tmp_path / "registry")) as registry:
        yield registry


HTPASSWD_USER, HTPASSWD_PASSWORD = "alice", "s3cret"


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("registry-basic"))
    htpasswd = os.path.join(directory, "htpasswd")
    with open(htpasswd, "w") as file:
        file.write(f"{HTPASSWD_USER}:{bcrypt_hash(HTPASSWD_PASSWORD)}\n")
    auth = f"auth:\n  htpasswd:\n    realm: nbdock-test\n    path: {htpasswd}\n"
    with run_registry(os.path.join(directory, "server"), auth) as registry:
        yield registry


@pytest.fixture(scope="session")
def token_server(tmp_path_factory):
    with TokenServer(str(tmp_path_factory.mktemp("token-server"))).serving() as server:
        yield server


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory, token_server):
    auth = (
        "auth:\n  token:\n"
        f"    realm: {token_server.realm}\n"
        f"    service: {TOKEN_SERVICE}\n"
        f"    issuer: {TOKEN_ISSUER}\n"
        f"    rootcertbundle: {token_server.bundle_path}\n"
    )
    with run_registry(str(tmp_path_factory.mktemp("registry-token")), auth) as registry:
        yield registry


# --- images and an independent registry client ------------------------------------------------


def layer_tar(files: dict) -> bytes:
    """An uncompressed layer tar: name -> bytes (a file, mode 0755) or str (a symlink to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o755, 1700000000
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_image(store, files: dict, *, base=None, tag=None, architecture=None) -> str:
    """Store an image of one new layer (``files``) on top of ``base``; returns its ID."""
    from nbdock.registry.manifest import Platform

    layer = store.add_layer_from_tar(io.BytesIO(layer_tar(files)))
    diff_ids = (store.get(base).diff_ids if base else []) + [layer.diff_id]
    config = {
        "architecture": architecture or Platform.host().architecture,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"nbdock test layer {index}"} for index in range(len(diff_ids))],
    }
    image_id = store.add_image_config(json.dumps(config).encode())
    if tag:
        store.tag(image_id, tag)
    return image_id


def busybox_files(busybox_path: str) -> dict:
    """A minimal root file system: the host's static busybox and a few applet links."""
    with open(busybox_path, "rb") as binary:
        files = {"bin/busybox": binary.read()}
    files.update({f"bin/{applet}": "busybox" for applet in ("sh", "cat", "ls", "echo")})
    return files


class RawRegistry:
    """The distribution API spoken with urllib: an independent way to set up and inspect a registry."""

    def __init__(self, address: str):
        self.base = f"http://{address}/v2"

    def request(self, method: str, url: str, data: bytes | None = None, headers: dict | None = None):
        import urllib.request

        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()

    def put_blob(self, name: str, data: bytes) -> str:
        digest = sha256(data)
        _, headers, _ = self.request("POST", f"{self.base}/{name}/blobs/uploads/")
        location = urllib.parse.urljoin(self.base, headers["Location"])
        separator = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"})
        return digest

    def put_manifest(self, name: str, reference: str, body: bytes, media_type: str) -> str:
        self.request("PUT", f"{self.base}/{name}/manifests/{reference}", body, {"Content-Type": media_type})
        return sha256(body)

    def manifest(self, name: str, reference: str) -> bytes:
        accept = "application/vnd.docker.distribution.manifest.v2+json"
        return self.request("GET", f"{self.base}/{name}/manifests/{reference}", headers={"Accept": accept})[2]

    def blob(self, name: str, digest: str) -> bytes:
        return self.request("GET", f"{self.base}/{name}/blobs/{digest}")[2]


@pytest.fixture
def store(tmp_path):
    from nbdock.image.store import ImageStore

    return ImageStore(str(tmp_path / "data-root"))


@pytest.fixture
def new_image(store):
    """``new_image(files, base=None, tag=None, architecture=None)``: an image made in ``store``."""
    return lambda files, **options: make_image(store, files, **options)


@pytest.fixture
def busybox_image(store, host_busybox):
    """A one-layer image in ``store`` holding the host's busybox."""
    return make_image(store, busybox_files(host_busybox))


@pytest.fixture(scope="session")
def raw():
    """``raw(registry)``: a RawRegistry for a running registry."""
    return lambda registry: RawRegistry(registry.address)


@pytest.fixture(scope="session")
def tar_of():
    """``tar_of(files)``: layer tar bytes (name -> bytes for a file, str for a symlink)."""
    return layer_tar


@pytest.fixture(scope="session")
def seeded_registry(anonymous_registry, tmp_path_factory, host_busybox):
    """The anonymous registry with ``library/busybox:latest`` and ``nbdock/app:1`` (busybox + one layer)."""
    import asyncio

    from nbdock.image.store import ImageStore
    from nbdock.registry import RegistryClient, RegistryConfig

    seed = ImageStore(str(tmp_path_factory.mktemp("seed-store")))
    address = anonymous_registry.address
    busybox = make_image(seed, busybox_files(host_busybox), tag=f"{address}/library/busybox:latest")
    make_image(seed, {"app/hello.txt": b"hello from nbdock\n"}, base=busybox, tag=f"{address}/nbdock/app:1")

    async def push_all():
        client = RegistryClient(seed, RegistryConfig(offline=True))
        for name in ("library/busybox:latest", "nbdock/app:1"):
            async for _ in client.push(f"{address}/{name}"):
                pass

    asyncio.run(push_all())
    return anonymous_registry
