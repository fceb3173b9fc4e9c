"""Every HostConfig field with a non-default value: applied, refused by name, or (as Docker) kept without effect.

Nothing accepted and silently ignored: the table below holds a decision for
every field of ``bodies.HOST_CONFIG`` (the shape the daemon reads), and a
field added there without one fails :func:`test_every_host_config_field_has_a_decision`.

* :class:`Applied` -- a cgroup limit: the container is started and the file
  the kernel shows is read on the host;
* :class:`Refused` -- create answers 400, and the message names the flag or field;
* :class:`Inside` -- seen from inside the started container;
* :class:`Elsewhere` -- implemented, with its behaviour tested in the named
  test file or scenario (here: create accepts it);
* :class:`Kept` -- accepted and shown by inspect but without effect on
  Linux, as with dockerd, and said so in a warning where dockerd says so.

Values differ by cgroup version where the kernel's files do.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass, field

import pytest

from nbdock.daemon import bodies
from nbdock.runtime import cgroups

VERSION = cgroups.detect()
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20


def _root_disk() -> tuple[str, str]:
    """A host block device the kernel can throttle (the disk holding /): its /dev path and "MAJOR:MINOR"."""
    info = os.stat("/")
    number = f"{os.major(info.st_dev)}:{os.minor(info.st_dev)}"
    with open(f"/sys/dev/block/{number}/uevent") as f:
        name = dict(line.strip().split("=", 1) for line in f if "=" in line)["DEVNAME"]
    return "/dev/" + name, number


DISK, DISK_NUMBER = _root_disk()


@dataclass
class Applied:
    """Written to the container's cgroup: {version: [(controller, file, text the file holds)]}."""

    value: object
    files: dict
    extra: dict = field(default_factory=dict)  # fields the value needs beside it (a swap limit needs a memory limit)


@dataclass
class Refused:
    value: object
    words: str  # in the 400's message


@dataclass
class Elsewhere:
    value: object
    tests: str  # the test file (or scenario) that checks what it does
    token: str  # which uses this flag or field


@dataclass
class Inside:
    """Seen in the container: what ``argv`` prints there holds the line ``line``."""

    value: object
    argv: list
    line: str


@dataclass
class Kept:
    value: object
    warning: str | None = None


@dataclass
class Discarded:
    """Accepted with Docker's warning and dropped where this host cannot apply it (inspect shows 0)."""

    value: object
    warning: str


def _by_version(v1, v2):
    return v1 if VERSION == 1 else v2


DECISIONS = {
    "Binds": Elsewhere(["/tmp:/mnt:ro"], "scenarios/vol_mounts.sh", "-v "),
    "ContainerIDFile": Kept("/tmp/cid"),  # the docker CLI writes that file itself; dockerd only records it
    "LogConfig": Elsewhere({"Type": "json-file", "Config": {"max-size": "1m"}}, "engine/test_engine_logs.py", "max-size"),
    "NetworkMode": Elsewhere("none", "scenarios/net_modes.sh", "--network none"),
    "PortBindings": Elsewhere({"80/tcp": [{"HostIp": "", "HostPort": ""}]}, "scenarios/net_ports.sh", " -p "),
    "RestartPolicy": Elsewhere({"Name": "always", "MaximumRetryCount": 0}, "scenarios/ct_create_flags.sh", "--restart"),
    "AutoRemove": Elsewhere(True, "daemon/test_daemon_lifecycle.py", "--rm"),
    "VolumeDriver": Refused("flocker", "--volume-driver flocker is not supported by nbdock"),
    "VolumesFrom": Elsewhere(["{donor}"], "scenarios/vol_anonymous_lifecycle.sh", "--volumes-from"),
    "CapAdd": Elsewhere(["NET_ADMIN"], "scenarios/rt_capabilities.sh", "--cap-add"),
    "CapDrop": Elsewhere(["MKNOD"], "scenarios/rt_capabilities.sh", "--cap-drop"),
    # v1: "private" gives the container a cgroup namespace of its own ("/" in /proc/self/cgroup);
    # v2's containers have one anyway, and "host" there is refused.
    "CgroupnsMode": _by_version(Inside("private", ["sh", "-c", "grep :pids: /proc/self/cgroup | cut -d: -f2-"], "pids:/"),
                                Refused("host", "HostConfig.CgroupnsMode")),
    "Dns": Elsewhere(["127.0.0.1"], "scenarios/net_modes.sh", "--dns"),
    "DnsOptions": Inside(["ndots:2"], ["cat", "/etc/resolv.conf"], "options ndots:2"),
    "DnsSearch": Elsewhere(["example.test"], "scenarios/net_modes.sh", "--dns-search"),
    "ExtraHosts": Elsewhere(["db:127.0.0.1"], "scenarios/net_modes.sh", "--add-host"),
    "GroupAdd": Elsewhere(["10"], "scenarios/ct_more_flags.sh", "--group-add"),
    "IpcMode": Elsewhere("shareable", "scenarios/rt_namespace_modes.sh", "--ipc"),
    "Cgroup": Refused("container:other", "a shared cgroup is not supported by nbdock (HostConfig.Cgroup)"),
    "Links": Elsewhere(["{donor}:db"], "network/test_network_dns_links.py", "--link"),
    "OomScoreAdj": Elsewhere(100, "scenarios/rt_sysctls.sh", "--oom-score-adj"),
    "PidMode": Elsewhere("host", "scenarios/rt_namespace_modes.sh", "--pid"),
    "Privileged": Elsewhere(True, "scenarios/rt_capabilities.sh", "--privileged"),
    "PublishAllPorts": Elsewhere(True, "scenarios/net_ports.sh", "-P"),
    "ReadonlyRootfs": Elsewhere(True, "scenarios/ct_create_flags.sh", "--read-only"),
    "SecurityOpt": Elsewhere(["no-new-privileges"], "runtime/test_seccomp.py", "--security-opt"),
    "StorageOpt": Refused({"size": "1G"}, "--storage-opt is not supported by nbdock (HostConfig.StorageOpt)"),
    "Tmpfs": Elsewhere({"/run": "size=1m"}, "scenarios/vol_mounts.sh", "--tmpfs"),
    "UTSMode": Elsewhere("host", "scenarios/rt_namespace_modes.sh", "--uts"),
    "UsernsMode": Elsewhere("host", "scenarios/rt_userns_modes.sh", "--userns"),
    "ShmSize": Elsewhere(128 * MiB, "scenarios/ct_more_flags.sh", "--shm-size"),
    "Sysctls": Elsewhere({"net.ipv4.ip_forward": "1"}, "scenarios/rt_sysctls.sh", "--sysctl"),
    "Runtime": Refused("kata", "Unknown runtime specified kata"),
    "ConsoleSize": Elsewhere([10, 20], "daemon/test_daemon_api.py", "ConsoleSize"),
    "Isolation": Refused("hyperv", "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
    # -- the resources (shared with docker update)
    "CpuShares": Applied(512, {1: [("cpu", "cpu.shares", "512")], 2: [("", "cpu.weight", "20")]}),
    "Memory": Applied(64 * MiB, {1: [("memory", "memory.limit_in_bytes", str(64 * MiB))],
                                 2: [("", "memory.max", str(64 * MiB))]}),
    "NanoCpus": Applied(500_000_000, {1: [("cpu", "cpu.cfs_quota_us", "50000"), ("cpu", "cpu.cfs_period_us", "100000")],
                                      2: [("", "cpu.max", "50000 100000")]}),
    "CgroupParent": Refused("/custom", "--cgroup-parent is not supported by nbdock (HostConfig.CgroupParent)"),
    # A weight is the I/O scheduler's: without BFQ (or CFQ, or v2's iocost) there is no file to hold it.
    "BlkioWeight": Applied(300, {1: [("blkio", "blkio.bfq.weight", "300")], 2: [("", "io.bfq.weight", "300")]})
    if cgroups.supports_blkio_weight() else
    Discarded(300, "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."),
    "BlkioWeightDevice": Refused([{"Path": DISK, "Weight": 200}], "--blkio-weight-device is not supported by nbdock"),
    "BlkioDeviceReadBps": Applied([{"Path": DISK, "Rate": MiB}], {
        1: [("blkio", "blkio.throttle.read_bps_device", f"{DISK_NUMBER} {MiB}")],
        2: [("", "io.max", f"{DISK_NUMBER} rbps={MiB} wbps=max riops=max wiops=max")]}),
    "BlkioDeviceWriteBps": Applied([{"Path": DISK, "Rate": 2 * MiB}], {
        1: [("blkio", "blkio.throttle.write_bps_device", f"{DISK_NUMBER} {2 * MiB}")],
        2: [("", "io.max", f"{DISK_NUMBER} rbps=max wbps={2 * MiB} riops=max wiops=max")]}),
    "BlkioDeviceReadIOps": Applied([{"Path": DISK, "Rate": 100}], {
        1: [("blkio", "blkio.throttle.read_iops_device", f"{DISK_NUMBER} 100")],
        2: [("", "io.max", f"{DISK_NUMBER} rbps=max wbps=max riops=100 wiops=max")]}),
    "BlkioDeviceWriteIOps": Applied([{"Path": DISK, "Rate": 50}], {
        1: [("blkio", "blkio.throttle.write_iops_device", f"{DISK_NUMBER} 50")],
        2: [("", "io.max", f"{DISK_NUMBER} rbps=max wbps=max riops=max wiops=50")]}),
    "CpuPeriod": Applied(50_000, {1: [("cpu", "cpu.cfs_period_us", "50000"), ("cpu", "cpu.cfs_quota_us", "-1")],
                                  2: [("", "cpu.max", "max 50000")]}),
    "CpuQuota": Applied(50_000, {1: [("cpu", "cpu.cfs_quota_us", "50000")], 2: [("", "cpu.max", "50000 100000")]}),
    # v1's real-time scheduler files; a runtime needs a budget the parent cgroup lacks (the start fails, as
    # Docker's does without dockerd's --cpu-rt-runtime): runtime/test_cgroup_limits.py checks both writes.
    "CpuRealtimePeriod": _by_version(Applied(500_000, {1: [("cpu", "cpu.rt_period_us", "500000")]}),
                                     Refused(1_000_000, "--cpu-rt-period is not supported by nbdock")),
    "CpuRealtimeRuntime": _by_version(Elsewhere(1000, "runtime/test_cgroup_limits.py", "cpu_rt_runtime"),
                                      Refused(1000, "--cpu-rt-runtime is not supported by nbdock")),
    "CpusetCpus": Applied("0", {1: [("cpuset", "cpuset.cpus", "0")], 2: [("", "cpuset.cpus", "0")]}),
    "CpusetMems": Applied("0", {1: [("cpuset", "cpuset.mems", "0")], 2: [("", "cpuset.mems", "0")]}),
    "Devices": Refused([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}],
                       "--device is not supported by nbdock (HostConfig.Devices)"),
    "DeviceCgroupRules": _by_version(Applied(["c 42:42 rw"], {1: [("devices", "devices.list", "c 42:42 rw")]}),
                                     Elsewhere(["c 42:42 rw"], "runtime/test_devicefilter.py", "device_rules")),  # v2: an eBPF filter
    "DeviceRequests": Refused([{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}],
                              "--gpus is not supported by nbdock (HostConfig.DeviceRequests)"),
    "KernelMemory": Kept(64 * MiB, "Specifying a kernel memory limit is deprecated"),  # Linux 6 has no such limit
    "KernelMemoryTCP": Refused(64 * MiB, "a TCP kernel memory limit is not supported by nbdock"),
    "MemoryReservation": Applied(32 * MiB, {1: [("memory", "memory.soft_limit_in_bytes", str(32 * MiB))],
                                            2: [("", "memory.low", str(32 * MiB))]}),
    "MemorySwap": Applied(128 * MiB, {1: [("memory", "memory.memsw.limit_in_bytes", str(128 * MiB))],
                                      2: [("", "memory.swap.max", str(64 * MiB))]}, extra={"Memory": 64 * MiB}),
    "MemorySwappiness": _by_version(Applied(10, {1: [("memory", "memory.swappiness", "10")]}),
                                    Refused(10, "--memory-swappiness is not supported by nbdock on cgroup v2")),
    "OomKillDisable": _by_version(
        Applied(True, {1: [("memory", "memory.oom_control", "oom_kill_disable 1")]}, extra={"Memory": 64 * MiB}),
        Refused(True, "--oom-kill-disable is not supported by nbdock on cgroup v2")),
    "PidsLimit": Applied(20, {1: [("pids", "pids.max", "20")], 2: [("", "pids.max", "20")]}),
    "Ulimits": Elsewhere([{"Name": "nofile", "Soft": 100, "Hard": 200}], "scenarios/ct_more_flags.sh", "--ulimit"),
    "CpuCount": Kept(2, "linux does not support CPU count"),  # Windows'
    "CpuPercent": Kept(50, "linux does not support CPU percent"),  # Windows'
    "IOMaximumIOps": Refused(5, "linux does not support configuration of maximum IOPs"),  # Windows'
    "IOMaximumBandwidth": Refused(5, "linux does not support configuration of maximum bandwidth"),  # Windows'
    # --
    "Mounts": Elsewhere([{"Type": "tmpfs", "Target": "/m"}], "scenarios/vol_mounts.sh", "--mount"),
    "MaskedPaths": Elsewhere(["/proc/kcore"], "scenarios/rt_masked_paths.sh", "masked"),
    "ReadonlyPaths": Elsewhere(["/proc/sys"], "runtime/test_runtime_containers.py", "readonly"),
    "Init": Elsewhere(True, "scenarios/rt_init.sh", "--init"),
}


def test_every_host_config_field_has_a_decision():
    """A field bodies.py reads must be decided here: applied, refused, or kept as Docker keeps it."""
    assert sorted(set(bodies.HOST_CONFIG) - set(DECISIONS)) == [], "HostConfig fields without a decision"
    assert sorted(set(DECISIONS) - set(bodies.HOST_CONFIG)) == [], "decisions for fields bodies.py does not read"


# ---------------------------------------------------------------------------
# the daemon


class _Connection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=60)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


@pytest.fixture(scope="module")
def api(nbdock_host):
    path = nbdock_host.removeprefix("unix://")

    def request(method: str, url: str, body=None):
        connection = _Connection(path)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, url, body=json.dumps(body).encode() if body is not None else None, headers=headers)
        response = connection.getresponse()
        content = response.read()
        connection.close()
        return response.status, json.loads(content) if content else None

    request.host = nbdock_host
    return request


@pytest.fixture(scope="module")
def donor(api):
    """A container others name (--volumes-from, --link)."""
    name = f"audit-donor-{uuid.uuid4().hex[:8]}"
    status, answer = api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["sleep", "300"],
                                                                     "Volumes": {"/data": {}}})
    assert status == 201, answer
    assert api("POST", f"/containers/{name}/start") == (204, None)
    yield name
    api("DELETE", f"/containers/{name}?force=1&v=1")


@pytest.fixture
def created(api):
    names = []
    yield names
    for name in names:
        api("DELETE", f"/containers/{name}?force=1&v=1")


def _value(decision, donor: str):
    text = json.dumps(decision.value).replace("{donor}", donor)
    return json.loads(text)


def _cgroup_file(controller: str, container_id: str, name: str) -> str:
    if VERSION == 2:
        return os.path.join(cgroups.CGROUP_ROOT, cgroups.PARENT, container_id, name)
    return os.path.join(cgroups.CGROUP_ROOT, controller, cgroups.PARENT, container_id, name)


@pytest.mark.parametrize("key", sorted(DECISIONS))
def test_a_non_default_value_is_applied_or_refused_by_name(api, donor, created, key):
    decision = DECISIONS[key]
    name = f"audit-{key.lower()}-{uuid.uuid4().hex[:6]}"
    host = {key: _value(decision, donor), **getattr(decision, "extra", {})}
    body = {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": host}
    status, answer = api("POST", f"/containers/create?name={name}", body)
    if isinstance(decision, Refused):
        assert (status, decision.words in answer["message"]) == (400, True), answer
        assert api("GET", f"/containers/{name}/json")[0] == 404  # nothing left behind
        return
    assert status == 201, answer
    created.append(name)
    if isinstance(decision, Elsewhere):
        with open(os.path.join(TESTS, decision.tests)) as f:
            assert decision.token in f.read(), (decision.tests, decision.token)
        return
    if isinstance(decision, Discarded):
        assert decision.warning in (answer["Warnings"] or []), answer
        assert api("GET", f"/containers/{name}/json")[1]["HostConfig"][key] == 0
        assert api("POST", f"/containers/{name}/start")[0] == 204
        return
    if isinstance(decision, Kept):
        warnings = answer["Warnings"] or []
        assert any(decision.warning in w for w in warnings) if decision.warning else True, warnings
        assert api("GET", f"/containers/{name}/json")[1]["HostConfig"][key] == decision.value
        return
    status, answer = api("POST", f"/containers/{name}/start")
    assert status == 204, answer
    if isinstance(decision, Inside):
        seen = _docker(api.host, "exec", name, *decision.argv)
        assert decision.line in seen.stdout.splitlines(), (seen.stdout, seen.stderr)
        return
    for controller, file_name, text in decision.files[VERSION]:
        with open(_cgroup_file(controller, answer_id(api, name), file_name)) as f:
            content = f.read()
        assert text in content.splitlines(), (file_name, content)


def answer_id(api, name: str) -> str:
    return api("GET", f"/containers/{name}/json")[1]["Id"]


def test_a_throttled_device_that_is_missing_or_no_disk_is_refused_at_create(api):
    for path, words in (("/dev/no-such-disk", "stat /dev/no-such-disk: no such file or directory"),
                        ("/dev/null", "--device-read-bps: /dev/null is not a block device")):
        status, answer = api("POST", "/containers/create", {
            "Image": "busybox", "HostConfig": {"BlkioDeviceReadBps": [{"Path": path, "Rate": 1024}]}})
        assert (status, answer["message"]) == (400, words)


def test_a_blkio_weight_out_of_range_is_refused_in_dockers_words(api):
    status, answer = api("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"BlkioWeight": 5}})
    assert (status, answer["message"]) == (400, "Range of blkio weight is from 10 to 1000")


# ---------------------------------------------------------------------------
# docker update


def test_every_resource_of_the_update_body_is_updatable_or_refused():
    from nbdock.engine import createconfig

    decided = {*createconfig.UPDATABLE_LIMITS, *createconfig.NOT_UPDATABLE, "PidsLimit", "RestartPolicy"}
    assert sorted(set(bodies.UPDATE_CONFIG) - decided) == []


def _docker(host: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, DOCKER_HOST=host))


@pytest.mark.skipif(VERSION != 1, reason="host: blkio.bfq.weight is v1's file")
@pytest.mark.skipif(not cgroups.supports_blkio_weight(), reason="host: no I/O scheduler here holds a weight (no BFQ)")
def test_docker_update_changes_the_block_io_weight_of_a_running_container(nbdock_host, created):
    name = f"audit-update-{uuid.uuid4().hex[:6]}"
    run = _docker(nbdock_host, "run", "-d", "--name", name, "--blkio-weight", "300", "busybox", "sleep", "60")
    assert run.returncode == 0, run.stderr
    created.append(name)
    container_id = run.stdout.strip()
    update = _docker(nbdock_host, "update", "--blkio-weight", "700", name)
    assert update.returncode == 0, update.stderr
    with open(_cgroup_file("blkio", container_id, "blkio.bfq.weight")) as f:
        assert f.read().split()[-1] == "700"


@pytest.mark.parametrize("flag, value", [("--cpu-rt-runtime", "1000"), ("--cpu-rt-period", "100000"),
                                         ("--kernel-memory", "64m")])
def test_docker_update_refuses_what_it_cannot_change_by_name(nbdock_host, created, flag, value):
    name = f"audit-update-{uuid.uuid4().hex[:6]}"
    assert _docker(nbdock_host, "create", "--name", name, "busybox", "true").returncode == 0
    created.append(name)
    update = _docker(nbdock_host, "update", flag, value, name)
    assert update.returncode == 1 and f"{flag} cannot be changed by nbdock's docker update" in update.stderr, update.stderr


#: Config and an endpoint's settings: what nbdock does with each field (the refused ones are tested below).
CONFIG_DECISIONS = {
    **dict.fromkeys(("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts",
                     "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Entrypoint", "Image", "Volumes", "WorkingDir",
                     "MacAddress", "Labels", "StopSignal", "StopTimeout", "Healthcheck", "Shell"), "applied"),
    "NetworkDisabled": "refused",
    "OnBuild": "kept",  # an image's triggers, for docker commit
    "ArgsEscaped": "kept",  # Windows'
}
ENDPOINT_DECISIONS = {
    "IPAMConfig": "applied (IPv4Address; IPv6Address on a network made with --ipv6)", "Links": "applied", "Aliases": "applied",
    "MacAddress": "applied", "DriverOpts": "kept",  # the driver's business: inspect shows them, as Docker's
    # What inspect reports; Docker ignores them in a request too.
    "NetworkID": "kept", "EndpointID": "kept", "Gateway": "kept", "IPAddress": "kept",
}


def test_every_config_and_endpoint_field_has_a_decision():
    config_fields = set(bodies.CONTAINER_CREATE) - {"HostConfig", "NetworkingConfig"}
    assert sorted(config_fields ^ set(CONFIG_DECISIONS)) == []
    assert sorted(set(bodies.ENDPOINT) ^ set(ENDPOINT_DECISIONS)) == []


def test_network_disabled_is_refused_by_name_and_an_ipv6_address_waits_for_its_network(api):
    # As in Docker, an IPv6 address is the network's to check, when the container starts and joins it.
    status, answer = api("POST", "/containers/create", {
        "Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv6Address": "fd00::5"}}}}})
    assert status == 201, answer
    container = answer["Id"]
    try:
        status, answer = api("POST", f"/containers/{container}/start")
        assert (status, answer["message"]) == (400, "user specified IP address is supported on user defined networks only")
    finally:
        api("DELETE", f"/containers/{container}?force=1")
    status, answer = api("POST", "/containers/create", {"Image": "busybox", "NetworkDisabled": True})
    assert (status, answer["message"]) == (400, "Config.NetworkDisabled is not supported by nbdock: use --network none")
