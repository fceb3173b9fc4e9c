"""The checks of request bodies (nbdock/daemon/bodies.py), no daemon needed."""

from __future__ import annotations

import pytest

from nbdock.daemon import bodies
from nbdock.errors import InvalidArgument


def test_a_well_formed_create_body_passes_and_unknown_keys_are_left_alone():
    body = {"Image": "busybox", "Cmd": ["sh"], "Env": None, "Tty": False, "NewerThanNbdock": 1,
            "HostConfig": {"Memory": 0, "Binds": ["/a:/b"], "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                           "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": None},
                           "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1}}],
                           "Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 2}], "Annotations": {"x": "y"}},
            "NetworkingConfig": {"EndpointsConfig": {"default": {"Aliases": ["a"], "IPAMConfig": None}}}}
    assert bodies.check(body, bodies.CONTAINER_CREATE, "container config") is body


@pytest.mark.parametrize("body, message", [
    ({"Cmd": 5}, "invalid value for Cmd: expected a list of strings, got 5"),
    ({"Tty": "yes"}, 'invalid value for Tty: expected a boolean, got "yes"'),
    ({"Labels": {"a": 1}}, 'invalid value for Labels: expected an object of strings, got {"a": 1}'),
    ({"HostConfig": {"Memory": True}}, "invalid value for HostConfig.Memory: expected an integer, got true"),
    ({"HostConfig": {"Binds": "/a:/b"}}, 'invalid value for HostConfig.Binds: expected a list of strings, got "/a:/b"'),
    ({"HostConfig": {"Mounts": [{"ReadOnly": "no"}]}},
     'invalid value for HostConfig.Mounts[0].ReadOnly: expected a boolean, got "no"'),
    ({"HostConfig": {"PortBindings": {"eighty": []}}}, 'invalid port specification: "eighty"'),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "x"}]}}}, 'invalid port specification: "x"'),
    ({"NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": [1]}}}},
     "invalid value for NetworkingConfig.EndpointsConfig.n.Aliases: expected a list of strings, got [1]"),
])
def test_wrong_types_name_the_field(body, message):
    with pytest.raises(InvalidArgument) as raised:
        bodies.check(body, bodies.CONTAINER_CREATE, "container config")
    assert raised.value.message == message


def test_the_body_must_be_an_object():
    with pytest.raises(InvalidArgument, match="invalid volume config: expected a JSON object, got"):
        bodies.check([1], bodies.VOLUME_CREATE, "volume config")


def test_one_string_is_a_one_element_list_as_in_go():
    body = {"Cmd": "date", "Entrypoint": ["/bin/sh", "-c"]}
    bodies.check(body, bodies.CONTAINER_CREATE, "container config")
    bodies.normalize_strings(body, "Cmd", "Entrypoint")
    assert body == {"Cmd": ["date"], "Entrypoint": ["/bin/sh", "-c"]}


def test_keys_in_another_case_are_the_fields_as_go_matches_them():
    """Go's decoder takes ``CPURealtimePeriod`` for CpuRealtimePeriod and ``detachKeys`` for DetachKeys
    (docker-py writes both so); an exact spelling wins, and a map's keys are left as they are."""
    body = {"Image": "busybox", "HostConfig": {"CPURealtimePeriod": 1000, "memory": 5, "Memory": 7},
            "Labels": {"memory": "a label, not a field"}}
    bodies.check(body, bodies.CONTAINER_CREATE, "container config")
    assert body["HostConfig"]["CpuRealtimePeriod"] == 1000 and "CPURealtimePeriod" not in body["HostConfig"]
    assert body["HostConfig"]["Memory"] == 7
    assert body["Labels"] == {"memory": "a label, not a field"}
    exec_body = {"Cmd": ["cat"], "detachKeys": "ctrl-x"}
    bodies.check(exec_body, bodies.EXEC_CREATE, "exec config")
    assert exec_body == {"Cmd": ["cat"], "DetachKeys": "ctrl-x"}
    with pytest.raises(InvalidArgument, match="HostConfig.CpuRealtimePeriod"):
        bodies.check({"HostConfig": {"cpurealtimeperiod": "x"}}, bodies.CONTAINER_CREATE, "container config")
