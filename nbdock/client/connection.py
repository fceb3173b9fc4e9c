"""Finding the daemon and talking to it through docker-py.

Every nbdock client -- the CLI, the magics, the views -- reaches the daemon
the way the docker CLI does: over HTTP on a unix socket, with the Docker
Engine API.  The HTTP itself is docker-py's (``docker.APIClient``, a
``requests.Session``); this module only decides *where* the daemon is,
starts one when nobody answers, adds the few nbdock-only endpoints, and lets
a notebook watch each request go by.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Callable, Iterator

import docker
import requests

from nbdock.errors import HostError, InvalidArgument
from nbdock.image import reference
from nbdock.registry import credentials

#: Where the daemon listens unless told otherwise (Docker's is unix:///var/run/docker.sock).
DEFAULT_HOST = "unix:///run/nbdock/nbdock.sock"
DEFAULT_DATA_ROOT = "/var/lib/nbdock"
#: How long a freshly started daemon gets to answer its first ``/_ping``.
DAEMON_START_TIMEOUT = 60.0


def resolve_host(explicit: str | None = None) -> str:
    """``--host``, else ``$NBDOCK_HOST``, else :data:`DEFAULT_HOST`."""
    host = explicit or os.environ.get("NBDOCK_HOST") or DEFAULT_HOST
    if not host.startswith(("unix://", "tcp://", "http://")):
        raise InvalidArgument(f"invalid daemon address {host!r}: expected unix:///path/to.sock")
    return host


def answers(host: str, timeout: float = 2.0) -> bool:
    """Whether a daemon answers ``/_ping`` at ``host``.

    The API version is fixed at the oldest one (1.24) so that docker-py
    does not first ask ``/version`` -- which is exactly what we want to
    find out whether anybody is there to answer.
    """
    probe = docker.APIClient(base_url=host, version="1.24", timeout=timeout)
    try:
        return probe.ping()
    except (requests.exceptions.RequestException, docker.errors.DockerException):
        return False
    finally:
        probe.close()


@dataclasses.dataclass(frozen=True)
class EmbeddedDaemon:
    """A daemon a client started in the background: where to find it, and how to stop it."""

    pid: int
    host: str
    pid_file: Path
    log_path: Path

    def announcement(self) -> str:
        """What the client prints when it starts one: the daemon outlives it, so say how to stop it."""
        return (f"nbdock: started the embedded daemon (pid {self.pid}) at {self.host}; it keeps running after this "
                f"program ends.\n  Its log: {self.log_path}.  To stop it: kill $(cat {self.pid_file})")


def start_embedded_daemon(host: str, data_root: str) -> EmbeddedDaemon:
    """Start ``python -m nbdock daemon`` in the background and wait until it answers.

    The daemon gets its own session (``start_new_session``): it must not
    die with the notebook kernel or terminal that happened to start it, nor
    receive their Ctrl-C.  Its output goes to ``daemon.log`` in the data root,
    its pid to the pid file beside the socket (``/run/nbdock/nbdock.pid``),
    which it removes when SIGTERM stops it.
    """
    socket_path = urllib.parse.urlsplit(host).path
    pid_file = Path(socket_path).with_suffix(".pid")
    for directory in (Path(data_root), Path(socket_path).parent):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HostError(f"cannot start the embedded daemon: cannot create {directory}: {error.strerror}") from None
    log_path = Path(data_root) / "daemon.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nbdock", "daemon", "--host", host, "--data-root", data_root,
             "--pidfile", str(pid_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while not answers(host, timeout=1.0):
        if process.poll() is not None:
            raise HostError(f"the embedded nbdock daemon exited with status {process.returncode}:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise HostError(f"the embedded nbdock daemon (pid {process.pid}) did not answer at {host} "
                            f"within {DAEMON_START_TIMEOUT:.0f}s; see {log_path}")
        time.sleep(0.1)
    return EmbeddedDaemon(process.pid, host, pid_file, log_path)


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """One HTTP request the client made and the status the daemon answered."""

    method: str
    path: str  # with its query string: /v1.50/containers/json?all=1
    status: int
    reason: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.reason}"


class Connection:
    """A docker-py client for one daemon, plus nbdock's own endpoints.

    ``api`` is the ``docker.APIClient``: commands call its methods directly.
    """

    def __init__(self, host: str, timeout: int = 60):
        self.host = host
        try:
            self.api = docker.APIClient(base_url=host, version="auto", timeout=timeout)
        except docker.errors.DockerException as error:
            raise HostError(f"cannot talk to the nbdock daemon at {host}: {error}") from None
        self._observers: list[Callable[[ApiCall], None]] = []
        # docker-py's APIClient *is* a requests.Session: every request it
        # sends, streamed or not, passes through the session's response hooks
        # as soon as the status line and headers have arrived.
        self.api.hooks["response"].append(self._on_response)

    @classmethod
    def open(cls, host: str | None = None, *, announce: Callable[[str], None] = print) -> "Connection":
        """Connect to ``host`` (see :func:`resolve_host`).

        If that is the default address, nobody answers there and we are
        root, an embedded daemon is started first, and ``announce`` is told.
        """
        address = resolve_host(host)
        if address == DEFAULT_HOST and os.geteuid() == 0 and not answers(address):
            announce(start_embedded_daemon(address, DEFAULT_DATA_ROOT).announcement())
        return cls(address)

    def close(self) -> None:
        self.api.close()

    # -- watching requests -------------------------------------------------

    def observe(self, observer: Callable[[ApiCall], None]) -> None:
        """Call ``observer`` with an :class:`ApiCall` after each response's headers arrive."""
        self._observers.append(observer)

    def unobserve(self, observer: Callable[[ApiCall], None]) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def _on_response(self, response: requests.Response, *args, **kwargs) -> None:
        url = urllib.parse.urlsplit(response.request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        call = ApiCall(response.request.method, urllib.parse.unquote(path), response.status_code, response.reason or "")
        for observer in list(self._observers):
            observer(call)

    # -- registry credentials ----------------------------------------------

    @staticmethod
    def registry_auth(image: str) -> dict:
        """The ``auth_config`` docker-py turns into ``X-Registry-Auth`` for ``image``'s registry.

        Like the docker CLI, always send the header: ``{}`` (``e30=``) when
        the user never logged in to that registry.
        """
        saved = credentials.load(reference.parse(image).domain)
        if saved is None:
            return {}
        auth = {"username": saved.username, "password": saved.password, "serveraddress": saved.server_address}
        if saved.identity_token:
            auth["identitytoken"] = saved.identity_token
        return auth

    # -- nbdock's own endpoints (unversioned, JSON) -------------------------

    def _nbdock_get(self, route: str, *args: str, **params) -> requests.Response:
        response = self.api._get(self.api._url("/nbdock/v1" + route, *args, versioned_api=False), params=params)
        self.api._raise_for_status(response)
        return response

    def container_trace(self, container: str) -> list[dict]:
        """The kernel operations the runtime performed for the container, oldest first."""
        return self._nbdock_get("/containers/{0}/trace", container).json()

    def network_map(self) -> dict:
        """The cluster's nodes and overlay networks with every host's containers (``%dock net map``)."""
        return self._nbdock_get("/networks/map").json()

    def container_namespaces(self, container: str) -> list[dict]:
        return self._nbdock_get("/containers/{0}/namespaces", container).json()

    def container_stats_stream(self, container: str, interval: float) -> Iterator[dict]:
        """Stats readings every ``interval`` seconds on one connection, until the caller stops reading."""
        response = self.api._get(self.api._url("/nbdock/v1/containers/{0}/stats", container, versioned_api=False),
                                 params={"interval": interval}, stream=True)
        self.api._raise_for_status(response)
        try:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)
        finally:
            response.close()

    def container_cgroup(self, container: str) -> dict:
        return self._nbdock_get("/containers/{0}/cgroup", container).json()

    def image_layers(self, image: str) -> list[dict]:
        """The image's layers, base first, each with its file changes and the images sharing it."""
        return self._nbdock_get("/images/{0}/layers", image).json()

    def layer_file(self, image: str, diff_id: str, path: str) -> "LayerFile":
        """A file as one layer stores it: its first 64 KiB and its metadata."""
        response = self._nbdock_get("/images/{0}/layers/{1}/file", image, diff_id, path=path)
        header = response.headers
        return LayerFile(
            path=path,
            content=response.content,
            mode=int(header.get("X-Nbdock-Mode", "0"), 0),
            size=int(header.get("X-Nbdock-Size", "0")),
            uid=int(header.get("X-Nbdock-Uid", "0")),
            gid=int(header.get("X-Nbdock-Gid", "0")),
            mtime=float(header.get("X-Nbdock-Mtime", "0")),
        )


@dataclasses.dataclass(frozen=True)
class LayerFile:
    path: str
    content: bytes
    mode: int
    size: int
    uid: int
    gid: int
    mtime: float
