"""The shapes of the JSON bodies clients send, checked before the engine sees them.

Docker decodes a request body into Go structs, so a value of the wrong type
(``"Cmd": 5``, ``"Memory": "64m"``) fails there, before anything happens.
nbdock's engine works on plain dicts; these checks give the same guarantee:
a wrong type is a 400 that names the field and what it should be, never a
Python exception half-way through creating a container.

A shape is one of:

* a Python type (``str``, ``int``, ``bool``, ``dict``);
* ``[shape]``: a list of values of that shape;
* ``{"Key": shape, ...}``: an object whose listed keys have those shapes;
* :data:`STRINGS`: a list of strings, or one string (Go's ``strslice``:
  ``"Cmd": "date"`` means ``["date"]``);
* :data:`STRING_MAP`: an object of strings (labels, options).

``null`` is accepted everywhere (Go's zero value), and keys not listed here
are left alone: clients newer than nbdock send fields it does not know.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidArgument

STRINGS = "list of strings"
STRING_MAP = "object of strings"

RESTART_POLICY = {"Name": str, "MaximumRetryCount": int}
PORT_BINDINGS = "port bindings"  # {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
MOUNT = {"Type": str, "Source": str, "Target": str, "ReadOnly": bool, "Consistency": str,
         "BindOptions": {"Propagation": str}, "VolumeOptions": {"NoCopy": bool, "Labels": STRING_MAP},
         "TmpfsOptions": {"SizeBytes": int, "Mode": int}}
ENDPOINT = {"IPAMConfig": {"IPv4Address": str, "IPv6Address": str}, "Links": STRINGS, "Aliases": STRINGS,
            "NetworkID": str, "EndpointID": str, "Gateway": str, "IPAddress": str, "MacAddress": str,
            "DriverOpts": STRING_MAP}

CONFIG = {
    "Hostname": str, "Domainname": str, "User": str, "AttachStdin": bool, "AttachStdout": bool,
    "AttachStderr": bool, "ExposedPorts": dict, "Tty": bool, "OpenStdin": bool, "StdinOnce": bool,
    "Env": [str], "Cmd": STRINGS, "Entrypoint": STRINGS, "Image": str, "Volumes": dict, "WorkingDir": str,
    "NetworkDisabled": bool, "MacAddress": str, "OnBuild": [str], "Labels": STRING_MAP, "StopSignal": str,
    "StopTimeout": int, "Shell": STRINGS, "Healthcheck": dict, "ArgsEscaped": bool,
}
HOST_CONFIG = {
    "Binds": [str], "ContainerIDFile": str, "LogConfig": {"Type": str, "Config": STRING_MAP}, "NetworkMode": str,
    "PortBindings": PORT_BINDINGS, "RestartPolicy": RESTART_POLICY, "AutoRemove": bool, "VolumeDriver": str,
    "VolumesFrom": [str], "CapAdd": STRINGS, "CapDrop": STRINGS, "CgroupnsMode": str, "Dns": [str],
    "DnsOptions": [str], "DnsSearch": [str], "ExtraHosts": [str], "GroupAdd": [str], "IpcMode": str, "Cgroup": str,
    "Links": [str], "OomScoreAdj": int, "PidMode": str, "Privileged": bool, "PublishAllPorts": bool,
    "ReadonlyRootfs": bool, "SecurityOpt": [str], "StorageOpt": STRING_MAP, "Tmpfs": STRING_MAP, "UTSMode": str,
    "UsernsMode": str, "ShmSize": int, "Sysctls": STRING_MAP, "Runtime": str, "ConsoleSize": [int],
    "Isolation": str, "CpuShares": int, "Memory": int, "NanoCpus": int, "CgroupParent": str, "BlkioWeight": int,
    "CpuPeriod": int, "CpuQuota": int, "CpuRealtimePeriod": int, "CpuRealtimeRuntime": int, "CpusetCpus": str,
    "CpusetMems": str, "Devices": [dict], "MemoryReservation": int, "MemorySwap": int, "MemorySwappiness": int,
    "OomKillDisable": bool, "PidsLimit": int, "Ulimits": [{"Name": str, "Soft": int, "Hard": int}], "Mounts": [MOUNT], "MaskedPaths": [str],
    "ReadonlyPaths": [str], "Init": bool,
}
CONTAINER_CREATE = {**CONFIG, "HostConfig": HOST_CONFIG, "NetworkingConfig": {"EndpointsConfig": {"*": ENDPOINT}}}
EXEC_CREATE = {"User": str, "Privileged": bool, "Tty": bool, "ConsoleSize": [int], "AttachStdin": bool,
               "AttachStdout": bool, "AttachStderr": bool, "Detach": bool, "DetachKeys": str, "Env": [str],
               "WorkingDir": str, "Cmd": STRINGS}
EXEC_START = {"Detach": bool, "Tty": bool, "ConsoleSize": [int]}
VOLUME_CREATE = {"Name": str, "Driver": str, "DriverOpts": STRING_MAP, "Labels": STRING_MAP}
NETWORK_CREATE = {"Name": str, "CheckDuplicate": bool, "Driver": str, "Internal": bool, "Attachable": bool,
                  "Ingress": bool, "EnableIPv6": bool, "Options": STRING_MAP, "Labels": STRING_MAP,
                  "IPAM": {"Driver": str, "Options": STRING_MAP,
                           "Config": [{"Subnet": str, "IPRange": str, "Gateway": str}]}}
NETWORK_CONNECT = {"Container": str, "EndpointConfig": ENDPOINT, "Force": bool}

_PORT_KEY = re.compile(r"^\d{1,5}(-\d{1,5})?(/(tcp|udp|sctp))?$")
_HOST_PORT = re.compile(r"^(\d{1,5}(-\d{1,5})?)?$")


def check(body: Any, shape: dict, what: str) -> dict:
    """``body`` if it is a JSON object of ``shape``; a 400 naming the first field that is not."""
    if not isinstance(body, dict):
        raise InvalidArgument(f"invalid {what}: expected a JSON object, got {_shown(body)}")
    _check_object(body, shape, "")
    return body


def normalize_strings(body: dict, *keys: str) -> None:
    """Turn Go-``strslice`` fields given as one string into a one-element list (``"Cmd": "date"``)."""
    for key in keys:
        if isinstance(body.get(key), str):
            body[key] = [body[key]]


def _check_object(value: dict, shape: dict, path: str) -> None:
    for key, item in value.items():
        expected = shape.get(key, shape.get("*"))
        if expected is not None:
            _check(item, expected, f"{path}{key}")


def _check(value: Any, shape, path: str) -> None:
    if value is None:
        return
    if shape is STRINGS:
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    elif shape is STRING_MAP:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    elif shape is PORT_BINDINGS:
        _check_port_bindings(value, path)
        return
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise _wrong(path, shape, value)
        for index, item in enumerate(value):
            _check(item, shape[0], f"{path}[{index}]")
        return
    elif isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _wrong(path, shape, value)
        _check_object(value, shape, f"{path}.")
        return
    elif shape is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, shape)
    if not ok:
        raise _wrong(path, shape, value)


def _check_port_bindings(value: Any, path: str) -> None:
    """{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}, with Docker's message for a bad port."""
    if not isinstance(value, dict):
        raise _wrong(path, dict, value)
    for port, bindings in value.items():
        if not _PORT_KEY.match(port):
            raise InvalidArgument(f'invalid port specification: "{port}"')
        _check(bindings, [{"HostIp": str, "HostPort": str}], f"{path}.{port}")
        for binding in bindings or []:
            host_port = (binding or {}).get("HostPort") or ""
            if not _HOST_PORT.match(host_port):
                raise InvalidArgument(f'invalid port specification: "{host_port}"')


_KINDS = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", STRINGS: "a list of strings",
          STRING_MAP: "an object of strings"}


def _describe(shape) -> str:
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
