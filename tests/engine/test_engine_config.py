"""The engine's pure rules, no root needed: how a create request becomes a container's config.

Each expectation here is Docker's (20.10) behaviour, checked against the
reference engine when it was written.
"""

from __future__ import annotations

import signal

import pytest

from nbdock.engine import createconfig, filtering, mounts
from nbdock.engine.records import ContainerRecord
from nbdock.engine.signals import parse_signal
from nbdock.errors import InvalidArgument
from nbdock.runtime import capabilities
from nbdock.runtime.spec import DEFAULT_PATH


# ---------------------------------------------------------------------------
# Config and HostConfig defaults


def test_the_image_supplies_defaults_and_the_request_wins():
    image = {"Env": ["PATH=/bin", "A=image"], "Cmd": ["sh"], "WorkingDir": "/app", "User": "app",
             "ExposedPorts": {"80/tcp": {}}, "Labels": {"from": "image", "both": "image"}}
    config = createconfig.merge_image_config({"Image": "x", "Env": ["A=mine"], "Labels": {"both": "mine"}}, image)
    assert config["Env"] == ["A=mine", "PATH=/bin"]
    assert (config["Cmd"], config["WorkingDir"], config["User"]) == (["sh"], "/app", "app")
    assert config["Labels"] == {"from": "image", "both": "mine"}
    assert config["ExposedPorts"] == {"80/tcp": {}}


def test_empty_config_fields_look_like_dockers():
    config = createconfig.merge_image_config({"Image": "x"}, {"Cmd": ["sh"]})
    assert config["Env"] is None and config["Volumes"] is None
    assert "ExposedPorts" not in config  # omitted when empty, as in Docker's JSON


def test_entrypoint_replaces_the_images_and_drops_its_cmd():
    image = {"Entrypoint": ["/entry"], "Cmd": ["default"]}
    assert createconfig.command(createconfig.merge_image_config({"Image": "x"}, image)) == ("/entry", ["default"])
    merged = createconfig.merge_image_config({"Image": "x", "Entrypoint": ["/other"]}, image)
    assert createconfig.command(merged) == ("/other", [])
    merged = createconfig.merge_image_config({"Image": "x", "Entrypoint": [""], "Cmd": ["echo", "hi"]}, image)
    assert createconfig.command(merged) == ("echo", ["hi"])
    with pytest.raises(InvalidArgument, match="No command specified"):
        createconfig.command(createconfig.merge_image_config({"Image": "x"}, {}))


def test_host_config_defaults_replace_the_clis_zero_values():
    host = createconfig.fill_host_config({"NetworkMode": "", "IpcMode": "", "ShmSize": 0, "MemorySwappiness": -1,
                                          "LogConfig": {"Type": ""}, "RestartPolicy": {"Name": ""}, "CgroupnsMode": ""})
    assert host["NetworkMode"] == "default" and host["IpcMode"] == "private"
    assert host["ShmSize"] == 64 * 1024 * 1024 and host["MemorySwappiness"] is None
    assert host["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert host["CgroupnsMode"] in ("host", "private")


def test_memory_swap_defaults_to_twice_the_memory_and_pids_limit_zero_means_none():
    assert createconfig.fill_host_config({"Memory": 64 << 20})["MemorySwap"] == 128 << 20
    assert createconfig.fill_host_config({"Memory": 64 << 20, "MemorySwap": -1})["MemorySwap"] == -1
    assert createconfig.fill_host_config({"PidsLimit": -5})["PidsLimit"] is None
    assert createconfig.fill_host_config({"PidsLimit": 10})["PidsLimit"] == 10


@pytest.mark.parametrize("host, message", [
    ({"Memory": 1 << 20}, "Minimum memory limit allowed is 6MB"),
    ({"MemorySwap": 10 << 20}, "You should always set the Memory limit when using Memoryswap limit"),
    ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit should be larger than memory limit"),
    ({"NanoCpus": 1}, "Range of CPUs is from 0.01"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy 'sometimes'"),
    ({"RestartPolicy": {"Name": "always"}, "AutoRemove": True}, "can't create 'AutoRemove' container with restart policy"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}, "maximum retry count cannot be used"),
    ({"CpuShares": -1}, "shares: invalid argument"),
    ({"CapAdd": ["NOPE"]}, 'invalid CapAdd: unknown capability: "CAP_NOPE"'),
    ({"CapDrop": ["chown", "nada"]}, 'invalid CapDrop: unknown capability: "CAP_NADA"'),
    ({"LogConfig": {"Type": "bogus"}}, 'error looking up logging plugin bogus: plugin "bogus" not found'),
    ({"LogConfig": {"Type": "syslog"}}, "not supported by nbdock"),
    ({"SecurityOpt": ["bogus"]}, 'invalid --security-opt 1: "bogus"'),
    ({"SecurityOpt": ["colour=red"]}, 'invalid --security-opt 2: "colour=red"'),
    ({"Ulimits": [{"Name": "files", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: files"),
])
def test_host_config_checks_with_dockers_messages(host, message):
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        createconfig.validate_host_config(createconfig.fill_host_config(host))


def test_security_options():
    assert createconfig.no_new_privileges({"SecurityOpt": ["no-new-privileges"]}) is True
    assert createconfig.no_new_privileges({"SecurityOpt": ["no-new-privileges:true"]}) is True
    assert createconfig.no_new_privileges({"SecurityOpt": ["no-new-privileges=false", "seccomp=unconfined"]}) is False
    assert createconfig.no_new_privileges({}) is False


@pytest.mark.parametrize("config, host, message", [
    ({"Hostname": "x"}, {"NetworkMode": "container:abc"}, "conflicting options: hostname and the network mode"),
    ({}, {"NetworkMode": "container:abc", "Dns": ["1.1.1.1"]}, "conflicting options: dns and the network mode"),
    ({}, {"NetworkMode": "container:abc", "ExtraHosts": ["a:1.2.3.4"]}, "custom host-to-IP mapping"),
    ({}, {"NetworkMode": "container:abc", "PortBindings": {"80/tcp": []}}, "port publishing and the container type"),
    ({"ExposedPorts": {"80/tcp": {}}}, {"NetworkMode": "container:abc"}, "port exposing and the container type"),
    ({}, {"NetworkMode": "container:"}, "invalid container format container:<name|id>"),
])
def test_what_sharing_a_network_namespace_excludes(config, host, message):
    with pytest.raises(InvalidArgument, match=message.replace("|", r"\|")):
        createconfig.validate_network_mode(config, host)


def test_host_network_discards_published_ports_with_a_warning():
    assert createconfig.validate_network_mode({}, {"NetworkMode": "host", "PortBindings": {"80/tcp": []}}) == [
        "Published ports are discarded when using host network mode"]
    assert createconfig.validate_network_mode({}, {"NetworkMode": "none", "PortBindings": {"80/tcp": []}}) == []


@pytest.mark.parametrize("host, message", [
    ({"PidMode": "bogus"}, "invalid PID mode: bogus"),
    ({"IpcMode": "bogus"}, "Invalid IPC mode: bogus"),
    ({"UTSMode": "container:x"}, "invalid UTS mode: container:x"),
])
def test_namespace_modes(host, message):
    with pytest.raises(InvalidArgument, match=message):
        createconfig.validate_namespace_modes({}, host)
    createconfig.validate_namespace_modes({}, {"PidMode": "container:abc", "IpcMode": "shareable", "UTSMode": "host"})
    with pytest.raises(InvalidArgument, match="hostname and the UTS mode"):
        createconfig.validate_namespace_modes({"Hostname": "x"}, {"UTSMode": "host"})


def test_config_checks():
    with pytest.raises(InvalidArgument, match="the working directory 'rel' is invalid"):
        createconfig.validate_config({"WorkingDir": "rel"})
    with pytest.raises(InvalidArgument, match="Invalid signal: NOPE"):
        createconfig.validate_config({"StopSignal": "NOPE"})
    createconfig.validate_config({"WorkingDir": "/abs", "StopSignal": "SIGUSR1"})


def test_environment_defaults():
    assert createconfig.environment({"Env": ["PATH=/mine", "X=1"]}, "host1") == ["PATH=/mine", "HOSTNAME=host1", "X=1"]
    assert "TERM=xterm" in createconfig.environment({"Tty": True}, "h")


# ---------------------------------------------------------------------------
# signals and capabilities


def test_signal_names():
    assert parse_signal("KILL") == parse_signal("SIGKILL") == parse_signal("9") == signal.SIGKILL
    assert parse_signal("usr1") == signal.SIGUSR1
    assert parse_signal("", signal.SIGTERM) == signal.SIGTERM
    for bad in ("NOPE", "0", "999"):
        with pytest.raises(InvalidArgument, match=f"Invalid signal: {bad}"):
            parse_signal(bad)


def test_capability_sets_follow_dockers_rules():
    default = capabilities.to_mask(capabilities.DOCKER_DEFAULT)
    kill, chown, net_admin = (capabilities.to_mask([name]) for name in ("KILL", "CHOWN", "NET_ADMIN"))
    assert capabilities.container_set() == default
    assert capabilities.container_set(["NET_ADMIN"], ["chown"]) == (default | net_admin) & ~chown
    assert capabilities.container_set(["kill"], ["ALL"]) == kill  # drop ALL keeps exactly the adds
    everything = (1 << (capabilities.last_capability() + 1)) - 1
    assert capabilities.container_set(["ALL"], ["CAP_CHOWN"]) == everything & ~chown
    assert capabilities.normalize(["net_admin", "CAP_KILL", "all"]) == ["CAP_NET_ADMIN", "CAP_KILL", "ALL"]


# ---------------------------------------------------------------------------
# mounts


def test_bind_specs():
    point = mounts.parse_bind("/host:/ctr:ro")
    assert (point["Type"], point["Source"], point["Destination"], point["RW"], point["Mode"]) == (
        "bind", "/host", "/ctr", False, "ro")
    named = mounts.parse_bind("data:/d:nocopy")
    assert (named["Type"], named["Name"], named["CopyData"], named["Anonymous"]) == ("volume", "data", False, False)
    anonymous = mounts.parse_bind("/anon/")
    assert (anonymous["Destination"], anonymous["Anonymous"]) == ("/anon", True)


@pytest.mark.parametrize("spec, message", [
    ("/a:b", "invalid volume specification: '/a:b': invalid mount config for type \"bind\": invalid mount path: "
             "'b' mount path must be absolute"),
    ("/data:ro", "invalid volume specification: '/data:ro'"),
    ("/a:/b:bogus", "invalid mode: bogus"),
    ("/a:/b:ro,rw", "invalid mode: ro,rw"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("v:/", "invalid specification: destination can't be '/'"),
])
def test_bad_bind_specs(spec, message):
    with pytest.raises(InvalidArgument) as raised:
        mounts.parse_bind(spec)
    assert message in raised.value.message


def test_mount_entries():
    tmpfs = mounts.parse_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o1777}})
    assert tmpfs["TmpfsOptions"] == "size=1024,mode=1777"
    with pytest.raises(InvalidArgument, match="bind source path does not exist: /no/such/dir"):
        mounts.parse_mount({"Type": "bind", "Source": "/no/such/dir", "Target": "/x"})
    with pytest.raises(InvalidArgument, match='invalid mount config for type "volume": invalid mount path'):
        mounts.parse_mount({"Type": "volume", "Target": "relative"})
    with pytest.raises(InvalidArgument, match="mount type unknown"):
        mounts.parse_mount({"Type": "nfs", "Target": "/x"})


# ---------------------------------------------------------------------------
# filters and listings


def test_filter_values():
    assert filtering.truth(["true"], "dangling") is True and filtering.truth(["0"], "dangling") is False
    with pytest.raises(InvalidArgument, match=r"Invalid filter 'dangling=\[maybe\]'"):
        filtering.truth(["maybe"], "dangling")
    labels = {"a": "1", "b": "2"}
    assert filtering.labels_match(labels, ["a", "b=2"])
    assert not filtering.labels_match(labels, ["a=2"])
    assert not filtering.labels_match(labels, [], ["b"])


def test_points_in_time():
    assert filtering.point_in_time("1700000000.5") == 1700000000.5
    assert filtering.point_in_time("1h30m", now=10_000) == 10_000 - 5400
    assert filtering.point_in_time("2020-01-01T00:00:00Z") == 1577836800
    with pytest.raises(InvalidArgument, match="invalid time 'soon'"):
        filtering.point_in_time("soon")


def test_ps_command_column_quotes_arguments_with_spaces():
    record = ContainerRecord(Id="a" * 64, Name="/n", Created="2020-01-01T00:00:00Z", Image="sha256:x", ImageName="i",
                             Path="sh", Args=["-c", "echo hi; exit 1"], Config={}, HostConfig={})
    assert record.to_summary()["Command"] == "sh -c 'echo hi; exit 1'"


def test_sysctls_of_the_containers_own_namespaces():
    own = createconfig.sysctls(createconfig.fill_host_config({"Sysctls": {"kernel.shmmax": "1000"}}))
    assert own["net.ipv4.ip_unprivileged_port_start"] == "0" and own["kernel.shmmax"] == "1000"
    assert createconfig.sysctls(createconfig.fill_host_config({"NetworkMode": "host"})) == {}
    with pytest.raises(InvalidArgument, match='sysctl "net.ipv4.ip_forward" not allowed in host network namespace'):
        createconfig.sysctls(createconfig.fill_host_config({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}}))
    with pytest.raises(InvalidArgument, match="sysctl 'vm.swappiness' is not whitelisted"):
        createconfig.check_sysctls({"Sysctls": {"vm.swappiness": "1"}})
    with pytest.raises(InvalidArgument, match=r"range for oom score adj is \[-1000, 1000\]"):
        createconfig.validate_host_config(createconfig.fill_host_config({"OomScoreAdj": 2000}))


def test_link_environment_and_hosts_entry_as_docker_writes_them():
    from nbdock.engine import links

    child = ContainerRecord(Id="c" * 64, Name="/pg", Created="2020-01-01T00:00:00Z", Image="sha256:x", ImageName="i",
                            Path="sleep", Args=[], Config={"Hostname": "cccccccccccc", "Env": ["PATH=/bin", "FOO=bar"],
                                                           "ExposedPorts": {"80/udp": {}, "5432/tcp": {}}},
                            HostConfig={}, NetworkSettings={"Networks": {"bridge": {"IPAddress": "10.0.0.2"}}})
    assert links.hosts_entry("db", child) == ("db cccccccccccc pg", "10.0.0.2")
    assert links.hosts_entry("pg", child) == ("pg cccccccccccc", "10.0.0.2")
    assert links.environment("web", [("my-db", child)], "default") == [
        "MY_DB_PORT=udp://10.0.0.2:80",
        "MY_DB_PORT_80_UDP=udp://10.0.0.2:80", "MY_DB_PORT_80_UDP_ADDR=10.0.0.2", "MY_DB_PORT_80_UDP_PORT=80",
        "MY_DB_PORT_80_UDP_PROTO=udp",
        "MY_DB_PORT_5432_TCP=tcp://10.0.0.2:5432", "MY_DB_PORT_5432_TCP_ADDR=10.0.0.2",
        "MY_DB_PORT_5432_TCP_PORT=5432", "MY_DB_PORT_5432_TCP_PROTO=tcp",
        "MY_DB_NAME=/web/my-db", "MY_DB_ENV_FOO=bar",
    ]
    assert links.environment("web", [("db", child)], "mynet") == []  # variables only on the default bridge
    env = createconfig.environment({"Env": ["DB_NAME=mine"]}, "h", ["DB_NAME=/web/db", "DB_ENV_X=1"])
    assert env == [f"PATH={DEFAULT_PATH}", "HOSTNAME=h", "DB_NAME=mine", "DB_ENV_X=1"]


@pytest.mark.parametrize("field, value, flag", [
    ("Devices", [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}], "--device"),
    ("CgroupParent", "/mine", "--cgroup-parent"),
])
def test_what_nbdock_cannot_do_is_refused_not_ignored(field, value, flag):
    with pytest.raises(InvalidArgument, match=f"{flag} is not supported by nbdock"):
        createconfig.validate_host_config(createconfig.fill_host_config({field: value}))
