"""The translation of ``docker run``'s flags into the runtime's spec, without root or a daemon.

engine/containers/spec.py is a pure function of a container record: each
test builds the record ``docker create`` would store for some flags and
reads the ContainerSpec (or cgroup Resources) the runtime would be given.
"""

import shutil

import pytest

from nbdock.engine import createconfig
from nbdock.engine.containers import spec
from nbdock.engine.records import ContainerRecord
from nbdock.errors import Conflict, InvalidArgument
from nbdock.runtime import capabilities

CONTAINER_ID = "c0ffee" * 10 + "abcd"
DIRECTORY = "/var/lib/nbdock/containers/" + CONTAINER_ID
LOWER = ["/layers/init", "/layers/busybox"]


def record(config=None, host=None, mount_points=(), name="web") -> ContainerRecord:
    """The record ``docker create`` keeps: Config as sent, HostConfig with Docker's defaults filled in."""
    config = {"Image": "busybox", "Cmd": ["sh"], "Env": [], **(config or {})}
    return ContainerRecord(Id=CONTAINER_ID, Name="/" + name, Created="2026-01-01T00:00:00Z", Image="sha256:b",
                           ImageName="busybox", Path="sh", Args=["-c", "true"], Config=config,
                           HostConfig=createconfig.fill_host_config(host), MountPoints=list(mount_points))


def translate(rec: ContainerRecord, linked=(), donor=None):
    donor = donor or (lambda ref: pytest.fail(f"looked up {ref}"))
    return spec.container_spec(rec, directory=DIRECTORY, lowerdirs=LOWER,
                               namespaces=spec.namespace_modes(rec.HostConfig, donor), linked=list(linked))


def test_no_flags_gives_dockers_defaults():
    result = translate(record())
    assert result.id == CONTAINER_ID
    assert result.process.args == ["sh", "-c", "true"]
    assert result.process.cwd == "/" and result.process.user == "" and not result.process.tty
    assert result.process.capabilities == capabilities.to_mask(capabilities.DOCKER_DEFAULT)
    assert result.process.seccomp == "default"
    assert result.hostname == CONTAINER_ID[:12]  # no --hostname: the short id
    assert result.namespaces == {"mnt": "new", "net": "new", "pid": "new", "ipc": "new", "uts": "new"}
    assert result.rootfs.lowerdirs == LOWER
    assert result.rootfs.upperdir == DIRECTORY + "/upper" and result.rootfs.workdir == DIRECTORY + "/work"
    assert not result.rootfs.readonly
    assert result.etc_files["/etc/hosts"] == DIRECTORY + "/hosts"
    assert result.shm_size == 64 * 1024 * 1024
    assert result.mounts == []
    assert result.sysctls == createconfig.DEFAULT_NET_SYSCTLS  # its own network namespace gets Docker's defaults


def test_env_workdir_user_hostname_domainname():
    rec = record({"Env": ["A=1", "PATH=/bin"], "WorkingDir": "/srv", "User": "1000:1000",
                  "Hostname": "box", "Domainname": "example.org"})
    result = translate(rec)
    assert "A=1" in result.process.env and "HOSTNAME=box" in result.process.env
    assert "PATH=/bin" in result.process.env  # -e PATH replaces Docker's default PATH
    assert result.process.cwd == "/srv" and result.process.user == "1000:1000"
    assert result.hostname == "box" and result.domainname == "example.org"


def test_tty_sets_term_and_the_console_size():
    result = translate(record({"Tty": True}, {"ConsoleSize": [24, 80]}))
    assert result.process.tty and result.process.console_size == [24, 80]
    assert "TERM=xterm" in result.process.env


def test_group_add_ulimit_no_new_privileges_oom_score_adj():
    result = translate(record(host={"GroupAdd": ["audio", "123"], "OomScoreAdj": 500,
                                    "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                                    "SecurityOpt": ["no-new-privileges"]}))
    assert result.process.additional_groups == ["audio", "123"]
    assert result.process.rlimits == [["nofile", 1024, 2048]]
    assert result.process.no_new_privileges and result.process.oom_score_adj == 500


def test_cap_add_cap_drop_and_privileged():
    added = translate(record(host={"CapAdd": ["NET_ADMIN"], "CapDrop": ["CHOWN"]})).process.capabilities
    assert "NET_ADMIN" in capabilities.from_mask(added) and "CHOWN" not in capabilities.from_mask(added)
    privileged = translate(record(host={"Privileged": True})).process.capabilities
    assert privileged == capabilities.container_set(privileged=True)


def test_seccomp_unconfined_read_only_and_shm_size():
    result = translate(record(host={"SecurityOpt": ["seccomp=unconfined"], "ReadonlyRootfs": True,
                                    "ShmSize": 1 << 20}))
    assert result.process.seccomp == "unconfined"
    assert result.rootfs.readonly and result.shm_size == 1 << 20


def test_volumes_binds_and_tmpfs_become_mounts():
    points = [
        {"Type": "volume", "Destination": "/data", "Source": "/vol/data", "RW": True, "CopyData": True},
        {"Type": "bind", "Destination": "/src", "Source": "/home/me/src", "RW": False},
        {"Type": "tmpfs", "Destination": "/run", "RW": True, "TmpfsOptions": "size=1m"},
    ]
    mounts = translate(record(mount_points=points)).mounts
    assert [(m.destination, m.type, m.source, m.readonly, m.copy_up) for m in mounts] == [
        ("/data", "bind", "/vol/data", False, True),  # a new volume takes a copy of the image's files
        ("/src", "bind", "/home/me/src", True, False),
        ("/run", "tmpfs", "", False, False),
    ]
    assert mounts[2].data == "size=1m"


def test_ipc_host_binds_the_hosts_shared_memory():
    result = translate(record(host={"IpcMode": "host"}))
    assert result.namespaces["ipc"] == "host"
    assert result.mounts[0].destination == "/dev/shm" and result.mounts[0].source == "/dev/shm"


@pytest.mark.skipif(not (shutil.which("docker-init") or shutil.which("tini-static")), reason="host: no docker-init or tini-static")
def test_init_runs_first_and_is_mounted():
    result = translate(record(host={"Init": True}))
    assert result.process.args == [createconfig.INIT_PATH, "--", "sh", "-c", "true"]
    assert result.mounts[-1].destination == createconfig.INIT_PATH and result.mounts[-1].readonly


def test_sysctl_in_own_network_namespace_and_refused_in_the_hosts():
    assert translate(record(host={"Sysctls": {"net.ipv4.ip_forward": "1"}})).sysctls["net.ipv4.ip_forward"] == "1"
    with pytest.raises(InvalidArgument, match='sysctl "net.ipv4.ip_forward" not allowed in host network namespace'):
        translate(record(host={"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}}))


def test_host_namespaces():
    result = translate(record(host={"NetworkMode": "host", "PidMode": "host", "UTSMode": "host"}))
    assert (result.namespaces["net"], result.namespaces["pid"], result.namespaces["uts"]) == ("host", "host", "host")
    assert result.sysctls == {}  # the host's network namespace: no defaults written into it


def test_another_containers_namespaces_are_joined_by_their_proc_path():
    donors = {"db": ("d" * 64, 4242, {"IpcMode": "shareable"})}
    result = translate(record(host={"NetworkMode": "container:db", "PidMode": "container:db",
                                    "IpcMode": "container:db"}), donor=donors.__getitem__)
    assert result.namespaces["net"] == "/proc/4242/ns/net"
    assert result.namespaces["pid"] == "/proc/4242/ns/pid"
    assert result.namespaces["ipc"] == "/proc/4242/ns/ipc"


def test_joining_a_stopped_or_private_donor_is_refused_in_dockers_words():
    stopped = {"db": ("d" * 64, None, {})}.__getitem__
    with pytest.raises(Conflict, match="cannot join network of a non running container: d{64}"):
        translate(record(host={"NetworkMode": "container:db"}), donor=stopped)
    with pytest.raises(Conflict, match="container d{64} is not running"):
        translate(record(host={"PidMode": "container:db"}), donor=stopped)
    private = {"db": ("d" * 64, 7, {"IpcMode": "private"})}.__getitem__
    with pytest.raises(InvalidArgument, match="non-shareable IPC"):
        translate(record(host={"IpcMode": "container:db"}), donor=private)


def test_cgroupns_private_adds_a_cgroup_namespace():
    assert translate(record(host={"CgroupnsMode": "private"})).namespaces["cgroup"] == "new"
    assert "cgroup" not in translate(record(host={"CgroupnsMode": "host"})).namespaces


def test_masked_and_readonly_paths():
    result = translate(record(host={"MaskedPaths": ["/proc/kcore"], "ReadonlyPaths": ["/proc/sys"]}))
    assert result.masked_paths == ["/proc/kcore"] and result.readonly_paths == ["/proc/sys"]


def test_link_sets_the_linked_containers_variables():
    child = record({"Env": ["SECRET=1"], "ExposedPorts": {"5432/tcp": {}}}, name="db")
    child.NetworkSettings = {"Networks": {"bridge": {"IPAddress": "172.17.0.5"}}, "IPAddress": "172.17.0.5"}
    env = translate(record(host={"Links": ["/db:/web/database"]}), linked=[("database", child)]).process.env
    assert "DATABASE_NAME=/web/database" in env
    assert "DATABASE_ENV_SECRET=1" in env


def test_resources_from_memory_cpus_and_pids_flags():
    resources = spec.cgroup_resources(createconfig.fill_host_config(
        {"Memory": 64 << 20, "MemorySwap": 128 << 20, "NanoCpus": 500_000_000, "PidsLimit": 50,
         "CpuShares": 512, "CpusetCpus": "0"}))
    assert (resources.memory, resources.memory_swap, resources.nano_cpus) == (64 << 20, 128 << 20, 500_000_000)
    assert (resources.pids_limit, resources.cpu_shares, resources.cpuset_cpus) == (50, 512, "0")
    assert spec.cgroup_resources(createconfig.fill_host_config({"PidsLimit": -1})).pids_limit == 0  # unlimited


def test_update_changes_only_what_is_given_and_keeps_dockers_rules():
    host = createconfig.fill_host_config({"Memory": 64 << 20, "MemorySwap": 128 << 20})
    updated = spec.updated_host_config(host, {"Memory": 0, "CpuShares": 256, "PidsLimit": 0})
    assert updated["Memory"] == 64 << 20 and updated["CpuShares"] == 256 and updated["PidsLimit"] is None
    with pytest.raises(Conflict, match="Memory limit should be smaller than already set memoryswap limit"):
        spec.updated_host_config(host, {"Memory": 256 << 20})
    with pytest.raises(InvalidArgument, match="AutoRemove is enabled"):
        spec.updated_host_config({**host, "AutoRemove": True}, {"RestartPolicy": {"Name": "always"}})


def test_the_translation_changes_nothing_it_is_given():
    rec = record({"Env": ["A=1"]}, {"CapAdd": ["NET_ADMIN"]},
                 [{"Type": "tmpfs", "Destination": "/run", "RW": True}])
    before = (repr(rec.Config), repr(rec.HostConfig), repr(rec.MountPoints))
    translate(rec)
    assert (repr(rec.Config), repr(rec.HostConfig), repr(rec.MountPoints)) == before
