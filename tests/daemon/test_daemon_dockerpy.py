"""docker-py against nbdock's daemon: the calls Python users make, and what they get back.

docker-py differs from the CLI in how it talks to the daemon (no HEAD ping,
``containers.run`` reads logs instead of attaching, exec output is read from
the raw socket, errors become typed exceptions), so it is tested on its own.
"""

from __future__ import annotations

import io
import tarfile
import time
import uuid

import docker
import pytest

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def client(nbdock_host):
    client = docker.DockerClient(base_url=nbdock_host, timeout=120)
    client.images.pull("busybox", tag="latest")  # offline: the embedded busybox
    yield client
    client.close()


@pytest.fixture
def name():
    return f"pytest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cleanup(client):
    """Names of containers, volumes, networks and images to remove after the test, whatever happened."""
    created = {"containers": [], "volumes": [], "networks": [], "images": []}
    yield created
    for container in created["containers"]:
        try:
            client.api.remove_container(container, force=True, v=True)
        except docker.errors.NotFound:
            pass
    for volume in created["volumes"]:
        try:
            client.api.remove_volume(volume, force=True)
        except docker.errors.NotFound:
            pass
    for network in created["networks"]:
        try:
            client.api.remove_network(network)
        except docker.errors.NotFound:
            pass
    for image in created["images"]:
        try:
            client.api.remove_image(image, force=True)
        except docker.errors.ImageNotFound:
            pass


# ---------------------------------------------------------------------------
# the daemon


def test_ping_version_info(client):
    assert client.ping() is True
    version = client.version()
    assert version["ApiVersion"] and version["Os"] == "linux"
    info = client.info()
    assert info["Driver"] == "overlay2" and info["OSType"] == "linux"
    assert info["Images"] >= 1


# ---------------------------------------------------------------------------
# containers.run and friends


def test_run_returns_output_and_removes(client, name):
    output = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], name=name, remove=True)
    assert output == b"out\n"
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_run_with_stderr(client, name, cleanup):
    cleanup["containers"].append(name)
    output = client.containers.run("busybox", ["sh", "-c", "echo out; sleep 0.1; echo err >&2"], name=name,
                                   stdout=False, stderr=True)
    assert output == b"err\n"


def test_run_failure_raises_container_error(client, name, cleanup):
    cleanup["containers"].append(name)
    with pytest.raises(docker.errors.ContainerError) as raised:
        client.containers.run("busybox", ["sh", "-c", "echo broken >&2; exit 3"], name=name)
    assert raised.value.exit_status == 3
    assert b"broken" in raised.value.stderr


def test_run_missing_command_is_an_api_error(client, name, cleanup):
    cleanup["containers"].append(name)
    with pytest.raises(docker.errors.APIError) as raised:
        client.containers.run("busybox", ["/no/such/binary"], name=name)
    assert raised.value.status_code == 400
    assert "no such file or directory" in str(raised.value)


def test_missing_image_is_image_not_found(client):
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("nbdock-test-no-such-image:v1")


def test_detached_run_logs_wait_inspect(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sh", "-c", "echo one; echo two; exit 5"], name=name,
                                      detach=True, labels={"suite": "dockerpy"}, environment={"A": "1"})
    assert container.wait(timeout=30) == {"StatusCode": 5, "Error": None}
    assert container.logs() == b"one\ntwo\n"
    assert container.logs(tail=1) == b"two\n"
    container.reload()
    assert container.status == "exited"
    assert container.attrs["State"]["ExitCode"] == 5
    assert container.labels == {"suite": "dockerpy"}
    assert "A=1" in container.attrs["Config"]["Env"]
    assert container.attrs["HostConfig"]["LogConfig"]["Type"] == "json-file"


def test_logs_stream_follows_until_exit(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"],
                                      name=name, detach=True)
    lines = b"".join(container.logs(stream=True, follow=True))
    assert lines == b"1\n2\n3\n"


def test_list_and_filters(client, name, cleanup):
    cleanup["containers"] += [name, name + "-2"]
    client.containers.create("busybox", "true", name=name, labels={"k": "v"})
    client.containers.run("busybox", "sleep 30", name=name + "-2", detach=True)
    running = [c.name for c in client.containers.list()]
    assert name + "-2" in running and name not in running
    everything = [c.name for c in client.containers.list(all=True)]
    assert name in everything
    assert [c.name for c in client.containers.list(all=True, filters={"label": "k=v"})] == [name]
    assert [c.name for c in client.containers.list(all=True, filters={"name": f"^{name}$"})] == [name]
    assert [c.name for c in client.containers.list(filters={"status": "created"}, all=True) if c.name == name] == [name]
    with pytest.raises(docker.errors.APIError) as raised:
        client.containers.list(filters={"bogus": "x"})
    assert raised.value.status_code == 400


def test_stop_kill_restart_pause(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sleep", "300"], name=name, detach=True)
    container.pause()
    container.reload()
    assert container.status == "paused"
    container.unpause()
    container.restart(timeout=1)
    container.reload()
    assert container.status == "running" and container.attrs["RestartCount"] == 0
    container.kill(signal="SIGKILL")
    assert container.wait()["StatusCode"] == 137
    with pytest.raises(docker.errors.APIError) as raised:
        container.kill()
    assert raised.value.status_code == 409


def test_rename_top_stats_diff(client, name, cleanup):
    cleanup["containers"].append(name + "-new")
    container = client.containers.run("busybox", ["sh", "-c", "touch /made; sleep 300"], name=name, detach=True)
    container.rename(name + "-new")
    container.reload()
    assert container.name == name + "-new"
    top = container.top()
    assert "PID" in top["Titles"] and any("sleep" in " ".join(p) for p in top["Processes"])
    stats = container.stats(stream=False)
    assert stats["name"] == "/" + name + "-new"
    assert stats["memory_stats"]["usage"] > 0
    assert stats["cpu_stats"]["system_cpu_usage"] >= stats["precpu_stats"].get("system_cpu_usage", 0)
    time.sleep(0.3)
    assert {"Path": "/made", "Kind": 1} in container.diff()


# ---------------------------------------------------------------------------
# exec


def test_exec_run(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sleep", "300"], name=name, detach=True, working_dir="/tmp")
    result = container.exec_run(["sh", "-c", "pwd; echo err >&2; exit 4"])
    assert result.exit_code == 4
    assert result.output == b"/tmp\nerr\n"
    result = container.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert result.output == (b"out\n", b"err\n")
    result = container.exec_run("id -u", user="65534", workdir="/etc", environment={"X": "1"})
    assert result == (0, b"65534\n")
    result = container.exec_run("tty", tty=True)
    assert result.output.strip() == b"/dev/pts/0"
    streamed = b"".join(container.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True).output)
    assert streamed == b"a\nb\n"


def test_exec_stdin_through_the_socket(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sleep", "300"], name=name, detach=True)
    exec_id = client.api.exec_create(container.id, ["sh", "-c", "cat; echo done"], stdin=True)["Id"]
    sock = client.api.exec_start(exec_id, socket=True)
    raw = sock._sock
    raw.sendall(b"typed\n")
    raw.shutdown(1)  # half-close: the process reads end-of-file, and its output still comes back
    received = b""
    while chunk := raw.recv(4096):
        received += chunk
    raw.close()
    frames = _demux(received)
    assert frames == [(1, b"typed\n"), (1, b"done\n")] or b"".join(d for _, d in frames) == b"typed\ndone\n"
    assert client.api.exec_inspect(exec_id)["ExitCode"] == 0


def test_exec_in_stopped_container_is_a_conflict(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.create("busybox", "true", name=name)
    with pytest.raises(docker.errors.APIError) as raised:
        container.exec_run("true")
    assert raised.value.status_code == 409


def _demux(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while data:
        stream, length = data[0], int.from_bytes(data[4:8], "big")
        frames.append((stream, data[8:8 + length]))
        data = data[8 + length:]
    return frames


# ---------------------------------------------------------------------------
# attach


def test_attach_socket_gets_output_of_the_start(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.create("busybox", ["sh", "-c", "echo attached-out; echo attached-err >&2"],
                                         name=name)
    sock = client.api.attach_socket(container.id, params={"stdout": 1, "stderr": 1, "stream": 1})
    container.start()
    received = b""
    while chunk := sock._sock.recv(4096):
        received += chunk
    sock._sock.close()
    assert sorted(_demux(received)) == [(1, b"attached-out\n"), (2, b"attached-err\n")]


# ---------------------------------------------------------------------------
# files


def test_put_and_get_archive(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sleep", "300"], name=name, detach=True)
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as archive:
        data = bytes(range(256)) * 10
        info = tarfile.TarInfo("blob.bin")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert container.put_archive("/tmp", payload.getvalue()) is True
    chunks, stat = container.get_archive("/tmp/blob.bin")
    assert stat["name"] == "blob.bin" and stat["size"] == 2560
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        assert archive.extractfile("blob.bin").read() == data
    with pytest.raises(docker.errors.NotFound):
        container.get_archive("/no/such/file")


def test_export_and_commit(client, name, cleanup):
    cleanup["containers"].append(name)
    cleanup["images"].append(f"{name}:committed")
    container = client.containers.run("busybox", ["sh", "-c", "echo kept > /kept"], name=name, detach=True)
    container.wait()
    exported = b"".join(container.export())
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        assert archive.extractfile("kept").read() == b"kept\n"
    image = container.commit(repository=name, tag="committed", changes=['CMD ["cat", "/kept"]'])
    assert f"{name}:committed" in image.tags
    assert client.containers.run(image.id, remove=True) == b"kept\n"


# ---------------------------------------------------------------------------
# images, volumes, networks


def test_images_tag_list_remove(client, name, cleanup):
    busybox = client.images.get("busybox")
    assert busybox.tag(name, "v1") is True
    cleanup["images"].append(f"{name}:v1")
    assert f"{name}:v1" in client.images.get(f"{name}:v1").tags
    assert any(f"{name}:v1" in image.tags for image in client.images.list(name=name))
    assert client.images.get(busybox.short_id).id == busybox.id  # short ids resolve (docker-py's build relies on it)
    client.images.remove(f"{name}:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{name}:v1")
    history = busybox.history()
    assert history and "Created" in history[0]


def test_volumes(client, name, cleanup):
    cleanup["volumes"].append(name)
    cleanup["containers"].append(name)
    volume = client.volumes.create(name, labels={"k": "v"})
    assert volume.name == name and volume.attrs["Driver"] == "local"
    assert name in [v.name for v in client.volumes.list(filters={"label": "k=v"})]
    output = client.containers.run("busybox", ["sh", "-c", "echo persisted > /v/f; cat /v/f"], name=name,
                                   volumes={name: {"bind": "/v", "mode": "rw"}})
    assert output == b"persisted\n"
    with pytest.raises(docker.errors.APIError) as raised:
        volume.remove()
    assert raised.value.status_code == 409
    client.containers.get(name).remove()
    volume.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(name)


def test_networks_connect_and_resolve(client, name, cleanup):
    cleanup["networks"].append(name)
    cleanup["containers"] += [name + "-server", name + "-client"]
    network = client.networks.create(name, driver="bridge")
    server = client.containers.run("busybox", ["sleep", "300"], name=name + "-server", detach=True)
    network.connect(server, aliases=["srv"])
    network.reload()
    assert server.id in network.attrs["Containers"]
    output = client.containers.run("busybox", ["ping", "-c", "1", "-W", "2", "srv"], name=name + "-client",
                                   network=name)
    assert b"1 packets received" in output
    network.disconnect(server)
    network.reload()
    assert server.id not in network.attrs["Containers"]


def test_events_decode(client, name, cleanup):
    cleanup["containers"].append(name)
    since = time.time()
    client.containers.run("busybox", "true", name=name)
    events = client.events(since=since, until=time.time() + 1, decode=True,
                           filters={"container": name, "type": "container"})
    actions = [event["Action"] for event in events]
    assert actions[:1] == ["create"] and "start" in actions and "die" in actions


def test_not_found_and_conflict_errors(client, name, cleanup):
    with pytest.raises(docker.errors.NotFound) as raised:
        client.containers.get(name)
    assert raised.value.explanation == f"No such container: {name}"
    cleanup["containers"].append(name)
    client.containers.run("busybox", ["sleep", "300"], name=name, detach=True)
    with pytest.raises(docker.errors.APIError) as raised:
        client.containers.create("busybox", name=name)
    assert raised.value.status_code == 409 and "is already in use" in raised.value.explanation
    with pytest.raises(docker.errors.APIError) as raised:
        client.api.remove_container(name)
    assert raised.value.status_code == 409


def test_run_with_a_tty_and_streamed_output(client, name, cleanup):
    cleanup["containers"] += [name, name + "-stream"]
    assert client.containers.run("busybox", ["echo", "tty"], name=name, tty=True) == b"tty\r\n"
    streamed = client.containers.run("busybox", ["sh", "-c", "echo a; sleep 0.2; echo b"], name=name + "-stream",
                                     stream=True)
    assert b"".join(streamed) == b"a\nb\n"


def test_attach_with_logs_of_an_exited_container(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["echo", "old"], name=name, detach=True)
    container.wait()
    assert container.attach(stdout=True, stderr=True, logs=True, stream=False) == b"old\n"


def test_save_load_and_prunes(client, name, cleanup):
    cleanup["images"].append(f"{name}:saved")
    cleanup["volumes"].append(name)
    client.images.get("busybox").tag(name, "saved")
    archive = b"".join(client.images.get(f"{name}:saved").save(named=f"{name}:saved"))
    client.images.remove(f"{name}:saved")
    loaded = client.images.load(archive)
    assert [f"{name}:saved" in image.tags for image in loaded] == [True]

    client.containers.create("busybox", "true", name=name, labels={"prune-me": name})
    pruned = client.containers.prune(filters={"label": f"prune-me={name}"})
    assert [c[:12] for c in pruned["ContainersDeleted"] or []] and name not in [c.name for c in client.containers.list(all=True)]
    client.volumes.create(name, labels={"prune-me": name})
    assert client.volumes.prune(filters={"label": f"prune-me={name}"})["VolumesDeleted"] == [name]
    usage = client.df()
    assert {"LayersSize", "Images", "Containers", "Volumes"} <= set(usage)
    assert all(image["SharedSize"] >= 0 and image["Containers"] >= 0 for image in usage["Images"])


def test_update_and_logs_since(client, name, cleanup):
    cleanup["containers"].append(name)
    container = client.containers.run("busybox", ["sh", "-c", "echo early; sleep 2; echo late; sleep 300"], name=name,
                                      detach=True, mem_limit="64m")
    container.update(mem_limit="128m", memswap_limit="256m", restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    container.reload()
    assert container.attrs["HostConfig"]["Memory"] == 128 << 20
    assert container.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    limit = container.exec_run("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max")
    assert str(128 << 20).encode() in limit.output
    time.sleep(1)
    middle = int(time.time())
    time.sleep(1.5)
    assert container.logs(since=middle) == b"late\n"
    assert container.logs(until=middle) == b"early\n"
