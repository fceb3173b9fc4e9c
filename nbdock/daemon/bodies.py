"""The shapes of the JSON bodies clients send, checked before the engine sees them.

Docker decodes a request body into Go structs, so a value of the wrong type
(``"Cmd": 5``, ``"Memory": "64m"``) fails there, before anything happens.
nbdock's engine works on plain dicts; these checks give the same guarantee:
a wrong type is a 400 that names the field and what it should be, never a
Python exception half-way through creating a container.

A shape is one of:

* a Python type (``str``, ``bool``, ``dict``);
* a Go integer type (:data:`INT64`, :data:`UINT16`...): an integer within
  that type's range, refused otherwise in the very words of Go's decoder
  (``json: cannot unmarshal number 1e3 into Go struct field
  HostConfig.HostConfig.Memory of type int64``);
* ``[shape]``: a list of values of that shape;
* ``{"Key": shape, ...}``: an object whose listed keys have those shapes;
* ``Struct("HostConfig", {...})``: the same, for an object Docker decodes
  into that Go struct: Go's errors name the innermost struct of a field, so
  every object that holds an integer is one;
* :data:`STRINGS`: a list of strings, or one string (Go's ``strslice``:
  ``"Cmd": "date"`` means ``["date"]``);
* :data:`STRING_MAP`: an object of strings (labels, options).

``null`` is accepted everywhere (Go's zero value), and keys not listed here
are left alone: clients newer than nbdock send fields it does not know.

Every refusal is a 400.  (Docker 20.10 answers its decoder's errors with a
500, as if the daemon had failed; the mistake is the client's, so nbdock
says 400, with the same message.)
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidArgument

STRINGS = "list of strings"
STRING_MAP = "object of strings"


class GoInt:
    """A Go integer type: the values it holds, and its name as Go's decoder prints it.

    Go's ``encoding/json`` refuses a number that does not fit the field's type
    -- too big, negative for an unsigned type, or written with a fraction or
    an exponent (``1.5``, ``1.0``, ``1e3``) -- with an error quoting the number
    as sent.  Python's ``int`` has no bounds, so without this check
    ``"Memory": 9223372036854775808`` would be taken, stored, and make
    ``docker inspect`` fail in the client, which decodes with Go too.
    """

    def __init__(self, name: str, bits: int, signed: bool) -> None:
        self.name = name
        self.low = -(2 ** (bits - 1)) if signed else 0
        self.high = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1

    def __repr__(self) -> str:
        return self.name


INT64 = GoInt("int64", 64, True)
INT = GoInt("int", 64, True)  # Go's int and uint are 64 bits on the platforms Docker runs on (amd64, arm64)
UINT = GoInt("uint", 64, False)
UINT16 = GoInt("uint16", 16, False)
UINT64 = GoInt("uint64", 64, False)
FILE_MODE = GoInt("fs.FileMode", 32, False)  # os.FileMode is a uint32
DURATION = GoInt("time.Duration", 64, True)  # nanoseconds, an int64


class Struct(dict):
    """An object shape that is a Go struct: ``name`` is the type Go's decoder names in its errors."""

    def __init__(self, name: str, fields: dict) -> None:
        super().__init__(fields)
        self.name = name


class JsonFraction(float):
    """A JSON number written with a fraction or an exponent, which keeps its text (Go's errors quote it)."""

    def __new__(cls, text: str) -> "JsonFraction":
        number = super().__new__(cls, text)
        number.text = text
        return number


def loads(raw: bytes | str) -> Any:
    """A request body parsed as JSON, its non-integer numbers remembering how they were written."""
    return json.loads(raw, parse_float=JsonFraction)


RESTART_POLICY = Struct("RestartPolicy", {"Name": str, "MaximumRetryCount": INT})
PORT_BINDINGS = "port bindings"  # {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
MOUNT = {"Type": str, "Source": str, "Target": str, "ReadOnly": bool, "Consistency": str,
         "BindOptions": {"Propagation": str}, "VolumeOptions": {"NoCopy": bool, "Labels": STRING_MAP},
         "TmpfsOptions": Struct("TmpfsOptions", {"SizeBytes": INT64, "Mode": FILE_MODE})}
ENDPOINT = {"IPAMConfig": {"IPv4Address": str, "IPv6Address": str}, "Links": STRINGS, "Aliases": STRINGS,
            "NetworkID": str, "EndpointID": str, "Gateway": str, "IPAddress": str, "MacAddress": str,
            "DriverOpts": STRING_MAP}
HEALTH_CONFIG = Struct("HealthConfig", {"Test": STRINGS, "Interval": DURATION, "Timeout": DURATION,
                                        "StartPeriod": DURATION, "Retries": INT})
WEIGHT_DEVICE = Struct("WeightDevice", {"Path": str, "Weight": UINT16})
THROTTLE_DEVICE = Struct("ThrottleDevice", {"Path": str, "Rate": UINT64})

#: Config, as ``docker create`` and ``docker commit`` send it (Go decodes both with runconfig's wrapper).
CONFIG = Struct("ContainerConfigWrapper", {
    "Hostname": str, "Domainname": str, "User": str, "AttachStdin": bool, "AttachStdout": bool,
    "AttachStderr": bool, "ExposedPorts": dict, "Tty": bool, "OpenStdin": bool, "StdinOnce": bool,
    "Env": [str], "Cmd": STRINGS, "Entrypoint": STRINGS, "Image": str, "Volumes": dict, "WorkingDir": str,
    "NetworkDisabled": bool, "MacAddress": str, "OnBuild": [str], "Labels": STRING_MAP, "StopSignal": str,
    "StopTimeout": INT, "Shell": STRINGS, "Healthcheck": HEALTH_CONFIG, "ArgsEscaped": bool,
})
#: The resource limits (Go's container.Resources), shared by create's HostConfig and ``docker update``.
RESOURCES = {
    "CpuShares": INT64, "Memory": INT64, "NanoCpus": INT64, "CgroupParent": str, "BlkioWeight": UINT16,
    "BlkioWeightDevice": [WEIGHT_DEVICE], "BlkioDeviceReadBps": [THROTTLE_DEVICE],
    "BlkioDeviceWriteBps": [THROTTLE_DEVICE], "BlkioDeviceReadIOps": [THROTTLE_DEVICE],
    "BlkioDeviceWriteIOps": [THROTTLE_DEVICE], "CpuPeriod": INT64, "CpuQuota": INT64, "CpuRealtimePeriod": INT64,
    "CpuRealtimeRuntime": INT64, "CpusetCpus": str, "CpusetMems": str, "Devices": [dict],
    "DeviceCgroupRules": [str], "DeviceRequests": [Struct("DeviceRequest", {"Driver": str, "Count": INT})],
    "KernelMemory": INT64, "KernelMemoryTCP": INT64, "MemoryReservation": INT64, "MemorySwap": INT64,
    "MemorySwappiness": INT64, "OomKillDisable": bool, "PidsLimit": INT64,
    "Ulimits": [Struct("Ulimit", {"Name": str, "Soft": INT64, "Hard": INT64})], "CpuCount": INT64,
    "CpuPercent": INT64, "IOMaximumIOps": UINT64, "IOMaximumBandwidth": UINT64,
}
HOST_CONFIG = Struct("HostConfig", {
    "Binds": [str], "ContainerIDFile": str, "LogConfig": {"Type": str, "Config": STRING_MAP}, "NetworkMode": str,
    "PortBindings": PORT_BINDINGS, "RestartPolicy": RESTART_POLICY, "AutoRemove": bool, "VolumeDriver": str,
    "VolumesFrom": [str], "CapAdd": STRINGS, "CapDrop": STRINGS, "CgroupnsMode": str, "Dns": [str],
    "DnsOptions": [str], "DnsSearch": [str], "ExtraHosts": [str], "GroupAdd": [str], "IpcMode": str, "Cgroup": str,
    "Links": [str], "OomScoreAdj": INT, "PidMode": str, "Privileged": bool, "PublishAllPorts": bool,
    "ReadonlyRootfs": bool, "SecurityOpt": [str], "StorageOpt": STRING_MAP, "Tmpfs": STRING_MAP, "UTSMode": str,
    "UsernsMode": str, "ShmSize": INT64, "Sysctls": STRING_MAP, "Runtime": str, "ConsoleSize": [UINT],
    "Isolation": str, **RESOURCES, "Mounts": [MOUNT], "MaskedPaths": [str], "ReadonlyPaths": [str], "Init": bool,
})
#: The body of ``docker create`` (Go's runconfig.ContainerConfigWrapper: Config with HostConfig beside it).
CONTAINER_CREATE = Struct("ContainerConfigWrapper", {
    **CONFIG, "HostConfig": HOST_CONFIG, "NetworkingConfig": {"EndpointsConfig": {"*": ENDPOINT}}})
#: The body of ``docker update``: the resources and the restart policy; Docker ignores any other field.
UPDATE_CONFIG = Struct("UpdateConfig", {**RESOURCES, "RestartPolicy": RESTART_POLICY})
EXEC_CREATE = Struct("ExecConfig", {
    "User": str, "Privileged": bool, "Tty": bool, "ConsoleSize": [UINT], "AttachStdin": bool, "AttachStdout": bool,
    "AttachStderr": bool, "Detach": bool, "DetachKeys": str, "Env": [str], "WorkingDir": str, "Cmd": STRINGS})
EXEC_START = Struct("ExecStartCheck", {"Detach": bool, "Tty": bool, "ConsoleSize": [UINT]})
VOLUME_CREATE = {"Name": str, "Driver": str, "DriverOpts": STRING_MAP, "Labels": STRING_MAP}
NETWORK_CREATE = {"Name": str, "CheckDuplicate": bool, "Driver": str, "Internal": bool, "Attachable": bool,
                  "Ingress": bool, "EnableIPv6": bool, "Options": STRING_MAP, "Labels": STRING_MAP,
                  "IPAM": {"Driver": str, "Options": STRING_MAP,
                           "Config": [{"Subnet": str, "IPRange": str, "Gateway": str, "AuxiliaryAddresses": STRING_MAP}]}}
NETWORK_CONNECT = {"Container": str, "EndpointConfig": ENDPOINT, "Force": bool}

_PORT_KEY = re.compile(r"^\d{1,5}(-\d{1,5})?(/(tcp|udp|sctp))?$")
_HOST_PORT = re.compile(r"^(\d{1,5}(-\d{1,5})?)?$")


def check(body: Any, shape: dict, what: str) -> dict:
    """``body`` if it is a JSON object of ``shape``; a 400 naming the first field that is not."""
    if not isinstance(body, dict):
        raise InvalidArgument(f"invalid {what}: expected a JSON object, got {_shown(body)}")
    _check_object(body, shape, "", _GoField(getattr(shape, "name", ""), ""))
    return body


def normalize_strings(body: dict, *keys: str) -> None:
    """Turn Go-``strslice`` fields given as one string into a one-element list (``"Cmd": "date"``)."""
    for key in keys:
        if isinstance(body.get(key), str):
            body[key] = [body[key]]


class _GoField:
    """Where a value is, as Go's decoder says it: the innermost struct's type, and the keys from the body's top."""

    def __init__(self, struct: str, keys: str) -> None:
        self.struct, self.keys = struct, keys

    def child(self, key: str) -> "_GoField":
        return _GoField(self.struct, f"{self.keys}.{key}" if self.keys else key)

    def inside(self, shape) -> "_GoField":
        return _GoField(shape.name, self.keys) if isinstance(shape, Struct) else self

    def __str__(self) -> str:
        return f"{self.struct}.{self.keys}"


# Fields are checked in the order the body lists them: the first error is the
# one reported, as with Go's decoder, which also reads the document in order.
def _check_object(value: dict, shape: dict, path: str, go: _GoField) -> None:
    go = go.inside(shape)
    _canonical_keys(value, shape)
    for key, item in value.items():
        expected = shape.get(key, shape.get("*"))
        if expected is not None:
            _check(item, expected, f"{path}{key}", go.child(key))


def _canonical_keys(value: dict, shape: dict) -> None:
    """Rename keys written in another case to the field's own spelling, as Go's decoder matches them.

    encoding/json prefers an exact match but accepts a case-insensitive one:
    docker-py sends ``CPURealtimePeriod`` for HostConfig.CpuRealtimePeriod and
    ``detachKeys`` for ExecConfig.DetachKeys, and dockerd takes both.  The
    engine reads fields by their exact names, so the body is put right here.
    """
    if "*" in shape:
        return  # a map (labels, endpoints by network name): its keys are data, not fields
    fields = {name.lower(): name for name in shape}
    for key in [key for key in value if key not in shape]:
        name = fields.get(key.lower())
        if name is not None and name not in value:
            value[name] = value.pop(key)


def _check(value: Any, shape, path: str, go: _GoField) -> None:
    if value is None:
        return
    if isinstance(shape, GoInt) or shape is int:
        _check_integer(value, INT64 if shape is int else shape, path, go)
        return
    if shape is STRINGS:
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    elif shape is STRING_MAP:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    elif shape is PORT_BINDINGS:
        _check_port_bindings(value, path, go)
        return
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise _wrong(path, shape, value)
        for index, item in enumerate(value):
            _check(item, shape[0], f"{path}[{index}]", go)  # Go names a list's items by the list's field
        return
    elif isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _wrong(path, shape, value)
        _check_object(value, shape, f"{path}.", go)
        return
    else:
        ok = isinstance(value, shape)
    if not ok:
        raise _wrong(path, shape, value)


def _check_integer(value: Any, shape: GoInt, path: str, go: _GoField) -> None:
    """A number that fits the Go integer type ``shape``, refused in the words of Go's decoder otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong(path, shape, value)
    if isinstance(value, float) or not shape.low <= value <= shape.high:
        written = value.text if isinstance(value, JsonFraction) else repr(value)
        raise InvalidArgument(f"json: cannot unmarshal number {written} into Go struct field {go} of type {shape.name}")


def _check_port_bindings(value: Any, path: str, go: _GoField) -> None:
    """{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}, with Docker's message for a bad port."""
    if not isinstance(value, dict):
        raise _wrong(path, dict, value)
    for port, bindings in value.items():
        if not _PORT_KEY.match(port):
            raise InvalidArgument(f'invalid port specification: "{port}"')
        _check(bindings, [{"HostIp": str, "HostPort": str}], f"{path}.{port}", go)
        for binding in bindings or []:
            host_port = (binding or {}).get("HostPort") or ""
            if not _HOST_PORT.match(host_port):
                raise InvalidArgument(f'invalid port specification: "{host_port}"')


_KINDS = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", STRINGS: "a list of strings",
          STRING_MAP: "an object of strings"}


def _describe(shape) -> str:
    if isinstance(shape, GoInt):
        return "an integer"
    if isinstance(shape, list):
        return "a list of " + _describe(shape[0]).split(" ", 1)[1] + "s"
    if isinstance(shape, dict):
        return "an object"
    return _KINDS[shape]


def _wrong(path: str, shape, value: Any) -> InvalidArgument:
    return InvalidArgument(f"invalid value for {path}: expected {_describe(shape)}, got {_shown(value)}")


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
