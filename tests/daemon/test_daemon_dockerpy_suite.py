"""What docker-py's own integration suite found nbdock doing differently from Docker, checked here.

Each test is one behaviour, through docker-py (or raw HTTP where docker-py
hides the answer): attach output right behind the 101 answer, detach keys,
removing a container its restart policy keeps alive, swarm mode's "not a
swarm" answers, ``builder prune``, ``--cache-from`` and commit racing an exit.
"""

from __future__ import annotations

import io
import socket
import time
import uuid

import docker
import pytest

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def api(nbdock_host):
    client = docker.APIClient(base_url=nbdock_host, version="1.41", timeout=60)
    yield client
    client.close()


@pytest.fixture
def cleanup(api):
    """Containers and images to remove after the test, whatever happened."""
    created = {"containers": [], "images": []}
    yield created
    for container in created["containers"]:
        try:
            api.remove_container(container, force=True)
        except docker.errors.NotFound:
            pass
    for image in created["images"]:
        try:
            api.remove_image(image, force=True)
        except docker.errors.ImageNotFound:
            pass


def create(api, cleanup, command, **kwargs):
    container = api.create_container("busybox", command, **kwargs)
    cleanup["containers"].append(container["Id"])
    return container["Id"]


def test_attach_without_stream_gets_all_output_of_an_exited_container(api, cleanup):
    # The output used to be written right behind the 101 answer, where docker-py's HTTP parser
    # swallowed it with the headers: about one attach in three came back empty.
    for _ in range(12):
        container = create(api, cleanup, ["echo", "hello"])
        api.start(container)
        api.wait(container)
        assert api.attach(container, stream=False, logs=True) == b"hello\n"


def _raw_socket(sock):
    return sock._sock if hasattr(sock, "_sock") else sock


def _detaches(sock, keys: bytes) -> bool:
    """Send the keys one by one, as typed; True if the daemon then ends the attachment."""
    raw = _raw_socket(sock)
    for key in keys:
        raw.sendall(bytes([key]))
        time.sleep(0.1)
    raw.settimeout(10)
    try:
        while raw.recv(4096):  # the terminal's echo, then end-of-file
            pass
    except socket.timeout:
        return False
    return True


@pytest.mark.parametrize("detach_keys, typed", [(None, b"\x10\x11"), ("ctrl-x", b"\x18"), ("a,ctrl-b", b"a\x02")])
def test_detach_keys_end_the_attachment_and_the_container_runs_on(api, cleanup, detach_keys, typed):
    container = create(api, cleanup, "cat", stdin_open=True, tty=True)
    api.start(container)
    params = {"stdin": True, "stream": True}
    if detach_keys:
        params["detachKeys"] = detach_keys
    sock = api.attach_socket(container, params)
    try:
        assert _detaches(sock, typed)
    finally:
        sock.close()
    assert api.inspect_container(container)["State"]["Running"] is True


def test_a_partial_detach_sequence_reaches_the_process(api, cleanup):
    # ctrl-p then "x": not the sequence, so both keys go through to cat (the tty echoes them: ^Px).
    container = create(api, cleanup, "cat", stdin_open=True, tty=True)
    api.start(container)
    sock = api.attach_socket(container, {"stdin": True, "stdout": True, "stream": True})
    raw = _raw_socket(sock)
    try:
        for key in b"\x10x\n":
            raw.sendall(bytes([key]))
            time.sleep(0.1)
        raw.settimeout(5)
        seen = b""
        while b"^Px" not in seen:
            seen += raw.recv(4096)
    finally:
        sock.close()
    assert api.inspect_container(container)["State"]["Running"] is True


def test_bad_detach_keys_are_refused_before_the_upgrade(api, cleanup):
    container = create(api, cleanup, "cat", stdin_open=True, tty=True)
    api.start(container)
    with pytest.raises(docker.errors.APIError) as error:
        api.attach_socket(container, {"stdin": True, "stream": True, "detachKeys": "ctrl-pp"})
    assert error.value.status_code == 400
    assert error.value.explanation == "Invalid detach keys (ctrl-pp) provided"


def test_a_container_waiting_to_be_restarted_cannot_be_removed_without_force(api, cleanup):
    container = create(api, cleanup, ["sh", "-c", "exit 3"],
                       host_config=api.create_host_config(restart_policy={"Name": "always"}))
    api.start(container)
    api.wait(container)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            api.remove_container(container)
        except docker.errors.APIError as error:
            assert error.status_code == 409
            assert "container " + container in error.explanation
            assert error.explanation.endswith("Stop the container before attempting removal or force remove")
            if "restarting" in error.explanation:
                break
        else:
            pytest.fail("a container kept alive by its restart policy was removed without force")
    else:
        pytest.fail("the container was never seen waiting to restart")
    api.remove_container(container, force=True)
    with pytest.raises(docker.errors.NotFound):
        api.inspect_container(container)


def test_swarm_endpoints_answer_as_a_node_in_no_swarm(api):
    assert api.leave_swarm(force=True) is True  # docker-py's "nothing to leave": a 503
    for call, message in ((api.inspect_swarm, "This node is not a swarm manager."), (api.services, "This node is not"),
                          (api.nodes, "This node is not"), (api.secrets, "This node is not")):
        with pytest.raises(docker.errors.APIError) as error:
            call()
        assert error.value.status_code == 503
        assert error.value.explanation.startswith(message)
    with pytest.raises(docker.errors.APIError) as error:
        api.leave_swarm()
    assert error.value.status_code == 503 and error.value.explanation == "This node is not part of a swarm"
    with pytest.raises(docker.errors.APIError) as error:
        api.init_swarm("127.0.0.1")
    assert error.value.status_code == 501 and "no swarm mode" in error.value.explanation


def test_builder_prune_has_nothing_to_reclaim_and_checks_its_filters(api):
    assert api.prune_builds() == {"CachesDeleted": None, "SpaceReclaimed": 0}
    response = api._post(api._url("/build/prune"), params={"filters": '{"nonsense": ["x"]}'})
    assert response.status_code == 400
    assert response.json()["message"] == "failed to prune build cache: Invalid filter 'nonsense'"


def _cache_hits(api, dockerfile: bytes, **kwargs) -> int:
    hits = 0
    for chunk in api.build(fileobj=io.BytesIO(dockerfile), decode=True, **kwargs):
        assert "error" not in chunk, chunk
        hits += "Using cache" in chunk.get("stream", "")
    return hits


def test_cache_from_limits_the_cache_to_those_images(api, cleanup):
    tag = f"pytest-cache-{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM busybox\nENV MARK={tag}\nRUN touch /a\nRUN touch /b\n".encode()
    assert _cache_hits(api, dockerfile, tag=tag) == 0
    cleanup["images"].append(tag)
    assert _cache_hits(api, dockerfile) == 3  # the local cache
    assert _cache_hits(api, dockerfile, cache_from=[tag]) == 3
    # An image that is not here gives no cache at all (Docker skips it), nor does an unrelated one.
    assert _cache_hits(api, dockerfile, cache_from=["pytest-no-such-image"]) == 0
    assert _cache_hits(api, dockerfile, cache_from=["busybox"]) == 0


def test_commit_of_a_container_that_exits_meanwhile(api, cleanup):
    # Pausing for the commit races the exit; Docker then commits without pausing, and so must nbdock.
    for _ in range(5):
        container = create(api, cleanup, ["touch", "/made"])
        api.start(container)
        image = api.commit(container, changes=["EXPOSE 8000", 'CMD ["sh"]'])["Id"]
        cleanup["images"].append(image)
        config = api.inspect_image(image)["Config"]
        assert "8000/tcp" in config["ExposedPorts"] and config["Cmd"] == ["sh"]


def test_remove_link_keeps_both_containers(api, cleanup):
    target = create(api, cleanup, ["sleep", "60"])
    api.start(target)
    target_name = api.inspect_container(target)["Name"][1:]
    owner = create(api, cleanup, ["sleep", "60"], host_config=api.create_host_config(links={target_name: "db"}))
    owner_name = api.inspect_container(owner)["Name"][1:]
    assert api.inspect_container(owner)["HostConfig"]["Links"] == [f"/{target_name}:/{owner_name}/db"]
    api.remove_container(f"{owner_name}/db", link=True)
    assert api.inspect_container(owner)["HostConfig"]["Links"] is None
    api.start(owner)  # no link to honour any more
    assert api.inspect_container(target)["State"]["Running"] is True
    with pytest.raises(docker.errors.NotFound) as error:
        api.remove_container(f"{owner_name}/db", link=True)
    assert error.value.explanation == f"No such container: {owner_name}/db"
    with pytest.raises(docker.errors.APIError) as error:
        api.remove_container(target_name, link=True)  # a container's own name is no link
    assert error.value.explanation == "Conflict, cannot remove the default link name of the container"
    assert api.inspect_container(target)["State"]["Running"] is True


def test_endpoint_driver_options_are_kept(api, cleanup):
    container = create(api, cleanup, ["sleep", "60"], host_config=api.create_host_config(network_mode="bridge"),
                       networking_config=api.create_networking_config(
                           {"bridge": api.create_endpoint_config(driver_opt={"com.example.setting": "on"})}))
    api.start(container)
    settings = api.inspect_container(container)["NetworkSettings"]["Networks"]["bridge"]
    assert settings["DriverOpts"] == {"com.example.setting": "on"}
    assert settings["IPAddress"]


def _open_device_42(api, cleanup, rules=None) -> bytes:
    """Make a node for char device 42:42 (no driver has that number) and open it: the cgroup decides first."""
    host_config = api.create_host_config(device_cgroup_rules=rules) if rules else None
    container = create(api, cleanup, ["sh", "-c", "mknod /tmp/n c 42 42 && head -c1 /tmp/n"], host_config=host_config)
    api.start(container)
    assert api.wait(container)["StatusCode"] == 1
    return api.logs(container)


def test_device_cgroup_rules_open_a_device_to_the_container(api, cleanup):
    # Refused by the device cgroup (EPERM) unless a rule allows it; then the kernel looks for a
    # driver, and there is none (ENXIO).
    assert b"Operation not permitted" in _open_device_42(api, cleanup)
    assert b"No such device or address" in _open_device_42(api, cleanup, ["c 42:42 rwm"])
    assert b"No such device or address" in _open_device_42(api, cleanup, ["c 42:* rm"])
    container = create(api, cleanup, "true", host_config=api.create_host_config(device_cgroup_rules=["c 7:128 rwm"]))
    assert api.inspect_container(container)["HostConfig"]["DeviceCgroupRules"] == ["c 7:128 rwm"]
    for bad in ("x 42:42 rwm", "c 42:42", "c 99999:1 rwm", "a"):
        with pytest.raises(docker.errors.APIError) as error:
            create(api, cleanup, "true", host_config=api.create_host_config(device_cgroup_rules=[bad]))
        assert error.value.status_code == 400
        assert error.value.explanation == f"invalid device cgroup rule format: '{bad}'"


def test_mac_address_of_ones_own(api, cleanup):
    container = create(api, cleanup, ["sh", "-c", "cat /sys/class/net/eth0/address; sleep 60"], mac_address="02:42:ac:11:00:0a")
    api.start(container)
    settings = api.inspect_container(container)["NetworkSettings"]
    assert settings["MacAddress"] == settings["Networks"]["bridge"]["MacAddress"] == "02:42:ac:11:00:0a"
    deadline = time.time() + 10
    while b"02:42:ac:11:00:0a" not in api.logs(container) and time.time() < deadline:
        time.sleep(0.1)
    assert api.logs(container) == b"02:42:ac:11:00:0a\n"  # the interface has it, not only inspect
    api.stop(container, timeout=0)
    assert api.inspect_container(container)["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == "02:42:ac:11:00:0a"
    for bad in ("zz:42", "01:42:ac:11:00:0a"):  # not a MAC; a multicast group's
        with pytest.raises(docker.errors.APIError) as error:
            create(api, cleanup, "true", mac_address=bad)
        assert error.value.status_code == 400 and error.value.explanation.startswith(f"invalid MAC address: {bad}")


def test_mac_address_of_a_network_connection(api, cleanup):
    network = api.create_network(f"pytest-mac-{uuid.uuid4().hex[:8]}")["Id"]
    try:
        container = create(api, cleanup, ["sleep", "60"])
        api.connect_container_to_network(container, network, mac_address="02:42:ac:11:00:02")
        settings = api.inspect_container(container)["NetworkSettings"]["Networks"]
        name = next(n for n in settings if n != "bridge")
        assert settings[name]["MacAddress"] == "02:42:ac:11:00:02"
        api.start(container)
        assert api.inspect_container(container)["NetworkSettings"]["Networks"][name]["MacAddress"] == "02:42:ac:11:00:02"
        assert api.inspect_container(container)["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] != "02:42:ac:11:00:02"
    finally:
        api.remove_container(container, force=True)
        api.remove_network(network)


def test_runtime_names_nbdock_or_dockers_default_and_nothing_else(api, cleanup):
    assert api.inspect_container(create(api, cleanup, "true"))["HostConfig"]["Runtime"] == "runc"  # Docker's default's name
    assert api.info()["DefaultRuntime"] == "runc"
    own = create(api, cleanup, "true", host_config=api.create_host_config(runtime="nbdock"))
    assert api.inspect_container(own)["HostConfig"]["Runtime"] == "nbdock"
    runc = create(api, cleanup, "true", host_config=api.create_host_config(runtime="runc"))
    assert api.inspect_container(runc)["HostConfig"]["Runtime"] == "runc"
    api.start(runc)
    assert api.wait(runc)["StatusCode"] == 0
    with pytest.raises(docker.errors.APIError) as error:
        create(api, cleanup, "true", host_config=api.create_host_config(runtime="kata"))
    assert error.value.status_code == 400 and error.value.explanation == "Unknown runtime specified kata"
