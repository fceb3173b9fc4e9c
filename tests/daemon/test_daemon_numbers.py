"""Numbers in create and update bodies: what fits the Go type, and Docker's limits on what is set.

Docker decodes a body into Go structs, so a number that its field's Go type
cannot hold (beyond int64, negative for a uint16, ``1.5`` or ``1e3`` for an
integer) is refused before anything happens, in the words of Go's decoder;
then Docker checks the values it would hand the kernel (memory at least
6MB, swappiness 0..100...).  Every integer field of ``docker create`` and
``docker update`` is tried here through HTTP, as the docker CLI sends it.

The refusals are also sent to the reference dockerd when
NBDOCK_REF_DOCKER_HOST is set: the expected messages below are Docker's own,
not nbdock's idea of them.  The one difference on purpose is the status of
the decoder's errors: Docker 20.10 answers them with a 500 (as for a daemon
failure), nbdock with a 400 (the client's mistake).
"""

from __future__ import annotations

import http.client
import json
import os
import socket

import pytest

pytestmark = pytest.mark.root

INT64 = ("int64", -(2 ** 63), 2 ** 63 - 1)
INT = ("int", -(2 ** 63), 2 ** 63 - 1)
UINT = ("uint", 0, 2 ** 64 - 1)
UINT16 = ("uint16", 0, 2 ** 16 - 1)
UINT64 = ("uint64", 0, 2 ** 64 - 1)
FILE_MODE = ("fs.FileMode", 0, 2 ** 32 - 1)
DURATION = ("time.Duration", -(2 ** 63), 2 ** 63 - 1)

# (body with {} where the number goes, the field as Go's decoder names it, its Go type)
CREATE_FIELDS = [
    ('{"StopTimeout": {}}', "ContainerConfigWrapper.StopTimeout", INT),
    ('{"Healthcheck": {"Interval": {}}}', "HealthConfig.Healthcheck.Interval", DURATION),
    ('{"Healthcheck": {"Timeout": {}}}', "HealthConfig.Healthcheck.Timeout", DURATION),
    ('{"Healthcheck": {"StartPeriod": {}}}', "HealthConfig.Healthcheck.StartPeriod", DURATION),
    ('{"Healthcheck": {"Retries": {}}}', "HealthConfig.Healthcheck.Retries", INT),
    ('{"HostConfig": {"ConsoleSize": [{}, 0]}}', "HostConfig.HostConfig.ConsoleSize", UINT),
    ('{"HostConfig": {"OomScoreAdj": {}}}', "HostConfig.HostConfig.OomScoreAdj", INT),
    ('{"HostConfig": {"ShmSize": {}}}', "HostConfig.HostConfig.ShmSize", INT64),
    ('{"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": {}}}}',
     "RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount", INT),
    ('{"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": {}}}]}}',
     "TmpfsOptions.HostConfig.Mounts.TmpfsOptions.SizeBytes", INT64),
    ('{"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Mode": {}}}]}}',
     "TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode", FILE_MODE),
    ('{"HostConfig": {"DeviceRequests": [{"Count": {}}]}}', "DeviceRequest.HostConfig.DeviceRequests.Count", INT),
]
# The resource limits, in create's HostConfig and in update's body.
RESOURCE_FIELDS = [
    ("CpuShares", INT64), ("Memory", INT64), ("NanoCpus", INT64), ("BlkioWeight", UINT16), ("CpuPeriod", INT64),
    ("CpuQuota", INT64), ("CpuRealtimePeriod", INT64), ("CpuRealtimeRuntime", INT64), ("KernelMemory", INT64),
    ("KernelMemoryTCP", INT64), ("MemoryReservation", INT64), ("MemorySwap", INT64), ("MemorySwappiness", INT64),
    ("PidsLimit", INT64), ("CpuCount", INT64), ("CpuPercent", INT64), ("IOMaximumIOps", UINT64),
    ("IOMaximumBandwidth", UINT64),
]
# Resource fields inside lists: (field, the list item with {} for the number, the item's Go struct, the key).
RESOURCE_LIST_FIELDS = [
    ("BlkioWeightDevice", '{"Path": "/dev/null", "Weight": {}}', "WeightDevice", "Weight", UINT16),
    ("BlkioDeviceReadBps", '{"Path": "/dev/null", "Rate": {}}', "ThrottleDevice", "Rate", UINT64),
    ("BlkioDeviceWriteBps", '{"Path": "/dev/null", "Rate": {}}', "ThrottleDevice", "Rate", UINT64),
    ("BlkioDeviceReadIOps", '{"Path": "/dev/null", "Rate": {}}', "ThrottleDevice", "Rate", UINT64),
    ("BlkioDeviceWriteIOps", '{"Path": "/dev/null", "Rate": {}}', "ThrottleDevice", "Rate", UINT64),
    ("Ulimits", '{"Name": "nofile", "Soft": {}, "Hard": 1}', "Ulimit", "Soft", INT64),
    ("Ulimits", '{"Name": "nofile", "Soft": 1, "Hard": {}}', "Ulimit", "Hard", INT64),
]


def _create_cases():
    cases = list(CREATE_FIELDS)
    for field, go_type in RESOURCE_FIELDS:
        cases.append(('{"HostConfig": {"%s": {}}}' % field, f"HostConfig.HostConfig.{field}", go_type))
    for field, item, struct, key, go_type in RESOURCE_LIST_FIELDS:
        cases.append(('{"HostConfig": {"%s": [%s]}}' % (field, item), f"{struct}.HostConfig.{field}.{key}", go_type))
    return cases


def _update_cases():
    cases = [('{"%s": {}}' % field, f"UpdateConfig.{field}", go_type) for field, go_type in RESOURCE_FIELDS]
    for field, item, struct, key, go_type in RESOURCE_LIST_FIELDS:
        cases.append(('{"%s": [%s]}' % (field, item), f"{struct}.{field}.{key}", go_type))
    cases.append(('{"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": {}}}',
                  "RestartPolicy.RestartPolicy.MaximumRetryCount", INT))
    return cases


def _unfitting(go_type):
    """Numbers the Go type cannot hold, as written in the body: one past each end, a fraction, an exponent."""
    _, low, high = go_type
    return [str(high + 1), str(low - 1), "1.5", "1.0", "1e3"]


def _with_number(template: str, number: str) -> str:
    return template.replace("{}", number)


def _id(case):
    return case[1]


class Api:
    """Raw HTTP on a unix socket, the body sent as written (so that ``1e3`` stays ``1e3``)."""

    def __init__(self, host: str):
        self.path = host.removeprefix("unix://")

    def post(self, url: str, body: str) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("localhost", timeout=60)
        connection.sock = socket.socket(socket.AF_UNIX)
        connection.sock.connect(self.path)
        connection.request("POST", url, body=body.encode(), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        content = response.read()
        connection.close()
        return response.status, json.loads(content) if content else {}

    def get(self, url: str):
        connection = http.client.HTTPConnection("localhost", timeout=60)
        connection.sock = socket.socket(socket.AF_UNIX)
        connection.sock.connect(self.path)
        connection.request("GET", url)
        response = connection.getresponse()
        content = response.read()
        connection.close()
        return response.status, json.loads(content) if content else {}

    def delete(self, url: str) -> int:
        connection = http.client.HTTPConnection("localhost", timeout=60)
        connection.sock = socket.socket(socket.AF_UNIX)
        connection.sock.connect(self.path)
        connection.request("DELETE", url)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status


REF = os.environ.get("NBDOCK_REF_DOCKER_HOST", "")


@pytest.fixture(scope="module", params=["nbdock", "docker"])
def daemon(request, nbdock_host):
    """(name, Api) of nbdock, and of the reference dockerd when there is one: the refusals must read the same."""
    if request.param == "docker":
        if not REF.startswith("unix://"):
            pytest.skip("no reference dockerd (NBDOCK_REF_DOCKER_HOST)")
        return "docker", Api(REF)
    return "nbdock", Api(nbdock_host)


@pytest.fixture(scope="module")
def nbdock(nbdock_host):
    return Api(nbdock_host)


def _created(api: Api, status: int, answer: dict) -> None:
    """Remove what a create that should have been refused made, so that a failing test leaves nothing behind."""
    if status == 201:
        api.delete(f"/containers/{answer['Id']}?force=1")


def _create(api: Api, body: str) -> tuple[int, dict]:
    status, answer = api.post("/containers/create", body)
    _created(api, status, answer)
    return status, answer


def _decode_status(name: str) -> int:
    return 500 if name == "docker" else 400  # Docker 20.10's status for its decoder's errors, see the docstring


def _with_image(body: str) -> str:
    return '{"Image": "busybox", "Labels": {"nbdock-test": "numbers"}, ' + body.lstrip()[1:]


@pytest.mark.parametrize("case", _create_cases(), ids=_id)
def test_create_refuses_numbers_the_go_type_cannot_hold(daemon, case):
    name, api = daemon
    template, field, go_type = case
    for number in _unfitting(go_type):
        status, answer = _create(api, _with_image(_with_number(template, number)))
        assert (status, answer.get("message")) == (
            _decode_status(name),
            f"json: cannot unmarshal number {number} into Go struct field {field} of type {go_type[0]}")


@pytest.mark.parametrize("case", _update_cases(), ids=_id)
def test_update_refuses_numbers_the_go_type_cannot_hold(daemon, case):
    name, api = daemon
    template, field, go_type = case
    status, answer = api.post("/containers/create", _with_image('{"Cmd": ["true"]}'))
    assert status == 201, answer
    try:
        for number in _unfitting(go_type):
            got = api.post(f"/containers/{answer['Id']}/update", _with_number(template, number))
            assert (got[0], got[1].get("message")) == (
                _decode_status(name),
                f"json: cannot unmarshal number {number} into Go struct field {field} of type {go_type[0]}")
    finally:
        api.delete(f"/containers/{answer['Id']}?force=1")


def test_a_number_of_the_wrong_kind_names_the_field(nbdock):
    status, answer = _create(nbdock, _with_image('{"HostConfig": {"PidsLimit": "100"}}'))
    assert (status, answer["message"]) == (400, 'invalid value for HostConfig.PidsLimit: expected an integer, got "100"')


def test_the_extremes_of_each_type_are_taken(nbdock):
    body = {"Image": "busybox", "HostConfig": {"PidsLimit": 2 ** 63 - 1, "BlkioWeight": 0, "ConsoleSize": [2 ** 64 - 1, 0],
                                                "OomScoreAdj": -1000, "Ulimits": [{"Name": "nofile", "Soft": 5, "Hard": 5}]}}
    status, answer = nbdock.post("/containers/create", json.dumps(body))
    assert status == 201, answer
    try:
        _, inspect = nbdock.get(f"/containers/{answer['Id']}/json")
        host = inspect["HostConfig"]
        assert (host["PidsLimit"], host["ConsoleSize"], host["OomScoreAdj"]) == (2 ** 63 - 1, [2 ** 64 - 1, 0], -1000)
    finally:
        nbdock.delete(f"/containers/{answer['Id']}?force=1")


# (HostConfig or Config given, Docker's message, whether Docker says it as it decodes (a 500 in 20.10)).
CPUS = os.cpu_count() or 1
CREATE_LIMITS = [
    ({"HostConfig": {"Memory": 1000}}, "Minimum memory limit allowed is 6MB", False),
    ({"HostConfig": {"Memory": -1}}, "Minimum memory limit allowed is 6MB", False),
    ({"HostConfig": {"Memory": 10_000_000, "MemorySwap": 5_000_000}},
     "Minimum memoryswap limit should be larger than memory limit, see usage", False),
    ({"HostConfig": {"MemorySwap": 50_000_000}},
     "You should always set the Memory limit when using Memoryswap limit, see usage", False),
    ({"HostConfig": {"MemoryReservation": 1000}}, "Minimum memory reservation allowed is 6MB", False),
    ({"HostConfig": {"Memory": 10_000_000, "MemoryReservation": 20_000_000}},
     "Minimum memory limit can not be less than memory reservation limit, see usage", False),
    ({"HostConfig": {"KernelMemory": 1000}}, "Minimum kernel memory limit allowed is 6MB", False),
    ({"HostConfig": {"MemorySwappiness": 200}}, "Invalid value: 200, valid memory swappiness range is 0-100", False),
    ({"HostConfig": {"MemorySwappiness": -2}}, "Invalid value: -2, valid memory swappiness range is 0-100", False),
    ({"HostConfig": {"ShmSize": -1}}, "SHM size can not be less than 0", False),
    ({"HostConfig": {"OomScoreAdj": 1001}}, "Invalid value 1001, range for oom score adj is [-1000, 1000]", False),
    ({"HostConfig": {"OomScoreAdj": -1001}}, "Invalid value -1001, range for oom score adj is [-1000, 1000]", False),
    ({"HostConfig": {"CpuPeriod": 999}},
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", False),
    ({"HostConfig": {"CpuPeriod": -1}},
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", False),
    ({"HostConfig": {"CpuPeriod": 1_000_001}},
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", False),
    ({"HostConfig": {"CpuQuota": 999}}, "CPU cfs quota can not be less than 1ms (i.e. 1000)", False),
    ({"HostConfig": {"NanoCpus": -1}},
     f"Range of CPUs is from 0.01 to {CPUS}.00, as there are only {CPUS} CPUs available", False),
    ({"HostConfig": {"NanoCpus": (CPUS + 1) * 1_000_000_000}},
     f"Range of CPUs is from 0.01 to {CPUS}.00, as there are only {CPUS} CPUs available", False),
    ({"HostConfig": {"NanoCpus": 100_000_000, "CpuPeriod": 100_000}},
     "Conflicting options: Nano CPUs and CPU Period cannot both be set", False),
    ({"HostConfig": {"NanoCpus": 100_000_000, "CpuQuota": 5000}},
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set", False),
    ({"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}},
     "maximum retry count cannot be negative", False),
    ({"HostConfig": {"IOMaximumBandwidth": 5}},
     "Invalid QoS settings: linux does not support configuration of maximum bandwidth", True),
    ({"HostConfig": {"IOMaximumIOps": 5}},
     "Invalid QoS settings: linux does not support configuration of maximum IOPs", True),
    ({"HostConfig": {"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000}},
     "cpu real-time runtime cannot be higher than cpu real-time period", True),
    ({"Healthcheck": {"Interval": 999_999}}, "Interval in Healthcheck cannot be less than 1ms", False),
    ({"Healthcheck": {"Interval": -5}}, "Interval in Healthcheck cannot be less than 1ms", False),
    ({"Healthcheck": {"Timeout": 5}}, "Timeout in Healthcheck cannot be less than 1ms", False),
    ({"Healthcheck": {"StartPeriod": 5}}, "StartPeriod in Healthcheck cannot be less than 1ms", False),
    ({"Healthcheck": {"Retries": -1}}, "Retries in Healthcheck cannot be negative", False),
]


@pytest.mark.parametrize("body, message, decoding", CREATE_LIMITS, ids=[c[1][:40] + str(c[0]) for c in CREATE_LIMITS])
def test_create_refuses_what_docker_limits(daemon, body, message, decoding):
    name, api = daemon
    status, answer = _create(api, json.dumps({"Image": "busybox", "Labels": {"nbdock-test": "numbers"}, **body}))
    assert (status, answer.get("message")) == (_decode_status(name) if decoding else 400, message)


# Values Docker takes at create although they look wrong (and what each means).
CREATE_TAKEN = [
    {"PidsLimit": -5},  # no limit
    {"MemorySwap": -1},  # unlimited swap
    {"MemorySwappiness": -1},  # the CLI's "not set"
    {"CpuQuota": -1},  # no quota
    {"MemoryReservation": -1, "KernelMemoryTCP": -1, "CpuRealtimePeriod": -1},
    {"Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": -1}}]},
]


@pytest.mark.parametrize("host", CREATE_TAKEN, ids=[json.dumps(h) for h in CREATE_TAKEN])
def test_create_takes_what_docker_takes(nbdock, host):
    status, answer = nbdock.post("/containers/create", json.dumps({"Image": "busybox", "HostConfig": host}))
    try:
        assert status == 201, answer
    finally:
        _created(nbdock, status, answer)


def test_create_takes_a_negative_stop_timeout(nbdock):
    status, answer = nbdock.post("/containers/create", json.dumps({"Image": "busybox", "StopTimeout": -1}))
    try:
        assert status == 201, answer
    finally:
        _created(nbdock, status, answer)


UPDATE_LIMITS = [
    ({"Memory": 1000}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": -1}, "Minimum memory limit allowed is 6MB"),
    ({"MemorySwappiness": 200}, "Invalid value: 200, valid memory swappiness range is 0-100"),
    ({"MemoryReservation": 1000}, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 10_000_000, "MemoryReservation": 20_000_000},
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ({"KernelMemory": 1000}, "Minimum kernel memory limit allowed is 6MB"),
    ({"CpuPeriod": 5}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"CpuQuota": 5}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"NanoCpus": -1}, f"Range of CPUs is from 0.01 to {CPUS}.00, as there are only {CPUS} CPUs available"),
    ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}, "maximum retry count cannot be negative"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
     "maximum retry count cannot be used with restart policy 'always'"),
    ({"IOMaximumIOps": 5}, "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"),
]


@pytest.fixture()
def created(daemon):
    """(name, Api, id) of a created (not started) busybox container, removed after the test."""
    name, api = daemon
    status, answer = api.post("/containers/create", json.dumps(
        {"Image": "busybox", "Cmd": ["sleep", "30"], "Labels": {"nbdock-test": "numbers"}}))
    assert status == 201, answer
    yield name, api, answer["Id"]
    api.delete(f"/containers/{answer['Id']}?force=1")


@pytest.mark.parametrize("body, message", UPDATE_LIMITS, ids=[json.dumps(c[0]) for c in UPDATE_LIMITS])
def test_update_refuses_what_docker_limits(created, body, message):
    _, api, container = created
    status, answer = api.post(f"/containers/{container}/update", json.dumps(body))
    assert (status, answer.get("message")) == (400, message)
    _, inspect = api.get(f"/containers/{container}/json")
    assert (inspect["HostConfig"]["Memory"], inspect["HostConfig"]["CpuQuota"]) == (0, 0)  # nothing changed


def test_update_ignores_what_it_cannot_change(created):
    """Docker's update body holds the limits and the restart policy: ShmSize, OomScoreAdj... are not read."""
    _, api, container = created
    status, answer = api.post(f"/containers/{container}/update",
                              json.dumps({"ShmSize": -1, "OomScoreAdj": 5000, "ConsoleSize": [-1, 0]}))
    assert status == 200, answer
    _, inspect = api.get(f"/containers/{container}/json")
    assert (inspect["HostConfig"]["ShmSize"], inspect["HostConfig"]["OomScoreAdj"]) == (64 * 1024 * 1024, 0)


def test_update_takes_limits_in_range(created):
    _, api, container = created
    # Docker's rule: a memory limit above the swap limit (unlimited here) needs a new swap limit with it.
    status, reply = api.post(f"/containers/{container}/update", json.dumps({"Memory": 64 * 1024 * 1024}))
    assert (status, reply.get("message")) == (409, f"Cannot update container {container}: Memory limit should be "
                                              "smaller than already set memoryswap limit, update the memoryswap "
                                              "at the same time")
    status, reply = api.post(f"/containers/{container}/update", json.dumps(
        {"Memory": 64 * 1024 * 1024, "MemorySwap": 128 * 1024 * 1024, "MemorySwappiness": -1, "CpuQuota": 50_000,
         "CpuPeriod": 100_000}))
    assert status == 200, reply
    _, inspect = api.get(f"/containers/{container}/json")
    host = inspect["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["CpuQuota"], host["CpuPeriod"]) == (
        64 * 1024 * 1024, 128 * 1024 * 1024, 50_000, 100_000)


def test_a_refused_create_leaves_no_container(nbdock):
    before = nbdock.get("/containers/json?all=1")[1]
    for body in ('{"Image": "busybox", "HostConfig": {"Memory": 9223372036854775808}}',
                 '{"Image": "busybox", "HostConfig": {"ShmSize": -1}}'):
        assert nbdock.post("/containers/create", body)[0] == 400
    assert nbdock.get("/containers/json?all=1")[1] == before
