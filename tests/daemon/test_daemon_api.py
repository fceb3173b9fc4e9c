"""The Engine API at the HTTP level: status codes, bad requests, streams, hijacked connections.

These talk to the daemon's socket directly (as the docker CLI and docker-py
do underneath) to check what no client shows plainly: that bad input is a
4xx naming the problem, that ``wait`` answers its headers before the
container exits, that attach and exec switch protocols, that a client
hanging up leaves the daemon healthy.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import subprocess
import time
import uuid

import pytest

pytestmark = pytest.mark.root


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


@pytest.fixture(scope="module")
def api(nbdock_host):
    path = nbdock_host.removeprefix("unix://")

    def request(method: str, url: str, body=None, headers=None, raw: bytes | None = None):
        """(status, parsed JSON or bytes) of one request."""
        connection = UnixHTTPConnection(path)
        headers = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        connection.request(method, url, body=data, headers=headers)
        response = connection.getresponse()
        content = response.read()
        connection.close()
        if response.getheader("Content-Type") == "application/json" and content:
            return response.status, json.loads(content)
        return response.status, content

    request.socket_path = path
    request.host = nbdock_host
    request("POST", "/images/create?fromImage=busybox&tag=latest")
    return request


@pytest.fixture
def name(api):
    name = f"api-{uuid.uuid4().hex[:8]}"
    yield name
    api("DELETE", f"/containers/{name}?force=1&v=1")


def docker(host: str, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], input=input, capture_output=True, timeout=timeout,
                          env=dict(os.environ, DOCKER_HOST=host))


# ---------------------------------------------------------------------------
# bad requests: a 4xx that names the problem, never a 500


@pytest.mark.parametrize("raw, message", [
    (b'{"Image": "busybox",', "invalid JSON in the container config"),
    (b"[1, 2]", "invalid container config: expected a JSON object"),
    (b'{"Image": "busybox", "Cmd": 5}', "invalid value for Cmd: expected a list of strings, got 5"),
    (b'{"Image": 5}', "invalid value for Image: expected a string, got 5"),
    (b'{"Image": "busybox", "Env": "A=1"}', 'invalid value for Env: expected a list of strings, got "A=1"'),
    (b'{"Image": "busybox", "HostConfig": "x"}', 'invalid value for HostConfig: expected an object, got "x"'),
    (b'{"Image": "busybox", "HostConfig": {"Memory": "64m"}}',
     'invalid value for HostConfig.Memory: expected an integer, got "64m"'),
    (b'{"Image": "busybox", "HostConfig": {"Mounts": [{"Type": 1}]}}',
     "invalid value for HostConfig.Mounts[0].Type: expected a string, got 1"),
    (b'{"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}}}',
     'invalid port specification: "abc"'),
    (b'{"Image": "busybox", "HostConfig": {"CapAdd": ["NOPE"]}}', 'invalid CapAdd: unknown capability: "CAP_NOPE"'),
    (b'{"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}', "invalid restart policy"),
    (b'{"Image": "busybox", "WorkingDir": "relative"}', "the working directory 'relative' is invalid"),
    (b'{"Image": "busybox", "StopSignal": "NOPE"}', "Invalid signal: NOPE"),
    (b'{"Image": "busybox", "HostConfig": {"Binds": ["/a:b"]}}', "invalid volume specification: '/a:b'"),
])
def test_bad_create_bodies_are_400(api, raw, message):
    status, body = api("POST", "/containers/create", raw=raw, headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert message in body["message"]


def test_body_must_be_json(api):
    status, body = api("POST", "/containers/create", raw=b'{"Image":"busybox"}', headers={"Content-Type": "text/plain"})
    assert (status, body) == (400, {"message": "Content-Type specified (text/plain) must be 'application/json'"})


def test_a_refused_create_leaves_no_volume_behind(api):
    before = api("GET", "/volumes")[1]["Volumes"]
    status, _ = api("POST", "/containers/create", {"Image": "busybox", "Volumes": {"/anon": {}},
                                                  "HostConfig": {"Binds": ["/a:/b", "/c:/b"]}})
    assert status == 400
    assert api("GET", "/volumes")[1]["Volumes"] == before


@pytest.mark.parametrize("url, message", [
    ('/containers/json?filters={"bogus":["x"]}', "Invalid filter 'bogus'"),
    ('/containers/json?filters={"status":["asleep"]}', "Invalid filter 'status=asleep'"),
    ("/containers/json?filters=notjson", "invalid JSON in the filters parameter"),
    ('/images/json?filters={"dangling":["maybe"]}', "Invalid filter 'dangling=[maybe]'"),
    ('/volumes?filters={"colour":["red"]}', "Invalid filter 'colour'"),
    ('/networks?filters={"colour":["red"]}', "Invalid filter 'colour'"),
])
def test_bad_filters_are_400(api, url, message):
    status, body = api("GET", url.replace('"', "%22").replace("{", "%7B").replace("}", "%7D"))
    assert status == 400 and message in body["message"]


def test_unknown_things_are_404_with_docker_messages(api):
    assert api("GET", "/containers/nope-nope/json") == (404, {"message": "No such container: nope-nope"})
    assert api("GET", "/exec/nope/json") == (404, {"message": "No such exec instance: nope"})
    assert api("GET", "/volumes/nope-nope") == (404, {"message": "get nope-nope: no such volume"})
    assert api("GET", "/no/such/route") == (404, {"message": "page not found"})
    status, body = api("GET", "/images/nope-nope/json")
    assert status == 404 and body["message"] == "no such image: nope-nope: No such image: nope-nope:latest"


def test_bad_wait_condition_is_refused_before_the_headers(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["true"]})
    status, body = api("POST", f"/containers/{name}/wait?condition=sometime")
    assert status == 400 and "invalid condition" in body["message"]


def test_versioned_paths_and_headers(api):
    connection = UnixHTTPConnection(api.socket_path)
    connection.request("HEAD", "/v1.41/_ping")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Api-Version") and response.getheader("Ostype") == "linux"
    assert response.getheader("Server").endswith("(linux)")
    status, body = api("GET", "/v9.99/version")
    assert status == 400 and "is too new" in body["message"]


# ---------------------------------------------------------------------------
# streams


def _open_raw(api, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> socket.socket:
    """Send a request by hand and return the socket (its answer unread): what hijacking clients do."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(api.socket_path)
    headers = {"Connection": "close", **(headers or {})}
    lines = [f"{method} {url} HTTP/1.1", "Host: localhost", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line and headers, what came after them)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed before the headers: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _read_all(sock: socket.socket, already: bytes = b"") -> bytes:
    data = already
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while len(data) >= 8:
        stream, length = struct.unpack(">BxxxL", data[:8])
        frames.append((stream, data[8:8 + length]))
        data = data[8 + length:]
    assert data == b"", f"a torn frame: {data!r}"
    return frames


def test_wait_sends_its_headers_at_once(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 2; exit 3"]})
    sock = _open_raw(api, "POST", f"/containers/{name}/wait?condition=next-exit")
    sock.settimeout(1.5)
    head, rest = _read_head(sock)  # before the container even started
    assert head.startswith(b"HTTP/1.1 200")
    sock.settimeout(30)
    assert api("POST", f"/containers/{name}/start")[0] == 204
    body = _read_all(sock, rest)
    sock.close()
    assert b'"StatusCode": 3' in body  # (chunked: the JSON sits inside the chunk framing)


def test_attach_switches_protocols_and_multiplexes(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2"]})
    sock = _open_raw(api, "POST", f"/containers/{name}/attach?stream=1&stdout=1&stderr=1",
                     headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED")
    assert b"application/vnd.docker.multiplexed-stream" in head
    assert api("POST", f"/containers/{name}/start")[0] == 204
    frames = _frames(_read_all(sock, rest))
    sock.close()
    assert sorted(frames) == [(1, b"out\n"), (2, b"err\n")]


def test_attach_with_a_tty_is_raw(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Tty": True, "Cmd": ["echo", "tty-out"]})
    sock = _open_raw(api, "POST", f"/containers/{name}/attach?stream=1&stdout=1&stderr=1",
                     headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    head, rest = _read_head(sock)
    assert b"application/vnd.docker.raw-stream" in head
    api("POST", f"/containers/{name}/start")
    assert _read_all(sock, rest) == b"tty-out\r\n"
    sock.close()


def test_stdin_half_close_is_end_of_input_and_output_drains(api, name):
    api("POST", f"/containers/create?name={name}", {
        "Image": "busybox", "Cmd": ["sh", "-c", "wc -c; sleep 0.5; echo after-eof"], "OpenStdin": True,
        "StdinOnce": True, "AttachStdin": True, "AttachStdout": True, "AttachStderr": True})
    sock = _open_raw(api, "POST", f"/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1",
                     headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    head, rest = _read_head(sock)
    api("POST", f"/containers/{name}/start")
    sock.sendall(b"x" * 300000)
    sock.shutdown(socket.SHUT_WR)
    frames = _frames(_read_all(sock, rest))
    sock.close()
    assert b"".join(data for _, data in frames) == b"300000\nafter-eof\n"


def test_console_size_is_set_before_the_command_runs(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Tty": True, "Cmd": ["stty", "size"],
                                                    "HostConfig": {"ConsoleSize": [33, 101]}})
    api("POST", f"/containers/{name}/start")
    api("POST", f"/containers/{name}/wait")
    status, logs = api("GET", f"/containers/{name}/logs?stdout=1")
    assert logs == b"33 101\r\n"


def test_exec_start_switches_protocols(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["sleep", "300"]})
    api("POST", f"/containers/{name}/start")
    status, created = api("POST", f"/containers/{name}/exec", {"Cmd": ["sh", "-c", "echo hi; exit 6"],
                                                               "AttachStdout": True, "AttachStderr": True})
    assert status == 201
    sock = _open_raw(api, "POST", f"/exec/{created['Id']}/start", json.dumps({"Detach": False, "Tty": False}).encode(),
                     headers={"Content-Type": "application/json", "Connection": "Upgrade", "Upgrade": "tcp"})
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 101")
    assert _frames(_read_all(sock, rest)) == [(1, b"hi\n")]
    sock.close()
    inspected = api("GET", f"/exec/{created['Id']}/json")[1]
    assert (inspected["ExitCode"], inspected["Running"]) == (6, False)


def test_a_client_hanging_up_mid_attach_leaves_the_daemon_healthy(api, name):
    api("POST", f"/containers/create?name={name}", {"Image": "busybox", "OpenStdin": True,
                                                    "Cmd": ["sh", "-c", "while true; do echo tick; sleep 0.1; done"]})
    api("POST", f"/containers/{name}/start")
    for _ in range(5):
        sock = _open_raw(api, "POST", f"/containers/{name}/attach?stream=1&stdin=1&stdout=1",
                         headers={"Connection": "Upgrade", "Upgrade": "tcp"})
        _read_head(sock)
        sock.recv(64)
        sock.close()  # gone, without a word
    follow = _open_raw(api, "GET", f"/containers/{name}/logs?stdout=1&follow=1")
    _read_head(follow)
    follow.close()
    assert api("GET", "/_ping") == (200, b"OK")
    state = api("GET", f"/containers/{name}/json")[1]["State"]
    assert state["Running"] is True
    assert api("POST", f"/containers/{name}/kill")[0] == 204


def test_a_client_hanging_up_mid_pull_leaves_the_daemon_healthy(api):
    """A registry that accepts and never answers: the client gives up, the daemon carries on."""
    registry = socket.socket()
    registry.bind(("127.0.0.1", 0))
    registry.listen(8)
    port = registry.getsockname()[1]
    try:
        sock = _open_raw(api, "POST", f"/images/create?fromImage=127.0.0.1:{port}/stuck&tag=v1")
        time.sleep(1)
        sock.close()
        assert api("GET", "/_ping") == (200, b"OK")
        assert api("GET", "/images/json")[0] == 200
    finally:
        registry.close()


def test_concurrent_creates_of_one_name_leave_one_container(api, name):
    """Clients race for one name: one gets it, the others a 409, and the name points at the winner."""
    import concurrent.futures
    import threading

    start = threading.Barrier(30)

    def create(_):
        start.wait()
        return api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Volumes": {"/v": {}}})

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(create, range(30)))
    assert sorted(status for status, _ in answers) == [201] + [409] * 29
    winner = next(body["Id"] for status, body in answers if status == 201)
    assert api("GET", f"/containers/{name}/json")[1]["Id"] == winner
    listed = api("GET", "/containers/json?all=1")[1]
    assert [c["Id"] for c in listed if c["Names"] == [f"/{name}"]] == [winner]
