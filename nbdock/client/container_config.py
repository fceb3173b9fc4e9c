"""``run``/``create`` flags -> the JSON body of ``POST /containers/create``.

The daemon never sees ``-p 8080:80`` or ``-m 64m``: the docker CLI turns
every flag into a field of one JSON document with three parts --

* ``Config``: what the container *is* (image, command, environment, user,
  the ports it exposes), stored in the container and in images committed
  from it (these are the top-level keys);
* ``HostConfig``: how *this host* runs it (port bindings, binds, memory and
  CPU limits, capabilities, restart policy) -- never copied into an image;
* ``NetworkingConfig``: which network it joins first, and its aliases there.

:func:`create_body` produces the same document the docker CLI 28 sends,
field for field (zero values included), so the daemon cannot tell nbdock's
clients from docker's.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from ..errors import InvalidArgument
from ..goformat import parse_go_duration
from .flags import Parsed, FlagError

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


@dataclass
class CreateRequest:
    """What ``docker create``/``run`` sends: the body and the ``?name=`` of ``POST /containers/create``."""

    name: str | None
    body: dict


def create_body(parsed: Parsed, *, console_size: tuple[int, int] = (0, 0)) -> CreateRequest:
    """Build the create request from parsed ``run``/``create`` words.

    ``console_size`` is (rows, columns) of the terminal a ``-t`` container
    will be shown on, ``(0, 0)`` when there is none.
    """
    options = parsed.options
    image, command = parsed.args[0], parsed.args[1:]
    detached = options.get("detach", False) if parsed.command.name == "run" else True
    restart = parse_restart_policy(options["restart"])
    if options["rm"] and restart["Name"] != "no":
        raise FlagError("conflicting options: cannot specify both --restart and --rm", parsed.command)
    exposed, bindings = parse_ports(options["publish"], options["expose"])
    anonymous_volumes, binds = parse_volumes(options["volume"])
    network = options["network"] or options["net"] or "default"
    if options["network_alias"] and network in ("default", "bridge", "host", "none"):
        raise FlagError("network-scoped aliases are only supported for user-defined networks", parsed.command)

    config: dict = {
        "Hostname": options["hostname"] or "",
        "Domainname": "",
        "User": options["user"] or "",
        "AttachStdin": options["interactive"] and not detached,
        "AttachStdout": not detached,
        "AttachStderr": not detached,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    config.update({
        "Tty": options["tty"],
        "OpenStdin": options["interactive"],
        "StdinOnce": options["interactive"] and not detached,
        "Env": parse_env(options["env_file"], options["env"]) or None,
        "Cmd": command or None,
        **parse_healthcheck(parsed),
        "Image": image,
        "Volumes": anonymous_volumes,
        "WorkingDir": options["workdir"] or "",
        "Entrypoint": [options["entrypoint"]] if "entrypoint" in parsed.given else None,
        "OnBuild": None,
        "Labels": parse_labels(options["label"]),
    })
    if options["stop_signal"]:
        config["StopSignal"] = options["stop_signal"]
    if options["stop_timeout"] is not None:
        config["StopTimeout"] = _integer(parsed, "stop-timeout", options["stop_timeout"])

    host = zero_host_config()
    host.update({
        "Binds": binds or None,
        "NetworkMode": network,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": options["rm"],
        "VolumesFrom": options["volumes_from"] or None,
        "ConsoleSize": list(console_size) if options["tty"] else [0, 0],
        "CapAdd": [_capability(name) for name in options["cap_add"]] or None,
        "CapDrop": [_capability(name) for name in options["cap_drop"]] or None,
        "SecurityOpt": security_options(options["security_opt"]) or None,
        "PublishAllPorts": options["publish_all"],
        "ReadonlyRootfs": options["read_only"],
        "CpuShares": _integer(parsed, "cpu-shares", options["cpu_shares"]) if options["cpu_shares"] else 0,
        "Memory": parse_bytes(options["memory"], "memory") if options["memory"] else 0,
        "NanoCpus": parse_cpus(options["cpus"]) if options["cpus"] else 0,
        "MemorySwap": _memory_swap(options["memory_swap"]),
        "PidsLimit": _integer(parsed, "pids-limit", options["pids_limit"]) if options["pids_limit"] else 0,
        "UsernsMode": options["userns"] or "",  # the daemon checks it: "" or "host"
    })
    if options["tmpfs"]:
        host["Tmpfs"] = parse_tmpfs(options["tmpfs"])
    if options["mount"]:
        host["Mounts"] = [parse_mount(spec) for spec in options["mount"]]
    if options.get("init"):
        host["Init"] = True  # as the docker CLI: the field is sent only when the flag is given

    endpoint = zero_endpoint()
    endpoint["Aliases"] = options["network_alias"] or None
    body = {**config, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": {network: endpoint}}}
    return CreateRequest(options["name"], body)


# ---------------------------------------------------------------------------
# One function per flag syntax


def parse_bytes(text: str, flag: str) -> int:
    """Docker's sizes: ``64m``, ``1.5g``, ``512k``, ``1024`` -- units of 1024, case ignored, ``b``/``ib`` optional."""
    match = _SIZE.match(text.strip())
    if not match:
        raise FlagError(f'invalid argument "{text}" for "--{flag}" flag: invalid size: \'{text}\'')
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower() if unit else None])


def _memory_swap(text: str | None) -> int:
    if not text:
        return 0
    return -1 if text.strip() == "-1" else parse_bytes(text, "memory-swap")


def parse_cpus(text: str) -> int:
    """``--cpus 1.5`` -> ``NanoCpus`` 1_500_000_000: the CPU time the container may use per second, in ns."""
    try:
        cpus = float(text)
    except ValueError:
        raise FlagError(f'invalid argument "{text}" for "--cpus" flag: failed to parse {text} as a rational number') from None
    if cpus < 0:
        raise FlagError(f'invalid argument "{text}" for "--cpus" flag: CPUs can not be negative')
    return round(cpus * 1e9)


def _integer(parsed: Parsed, flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FlagError(f'invalid argument "{text}" for "--{flag}" flag: strconv.ParseInt: parsing "{text}": invalid syntax', parsed.command) from None


def parse_duration(text: str, flag: str) -> int:
    """A Go duration (``200ms``, ``1.5s``, ``1m30s``, ``0``) in nanoseconds, as the CLI's duration flags read it."""
    try:
        return parse_go_duration(text)
    except InvalidArgument as e:
        raise FlagError(f'invalid argument "{text}" for "--{flag}" flag: {e.message}') from None


def parse_healthcheck(parsed: Parsed) -> dict:
    """``--health-*`` and ``--no-healthcheck`` -> ``{"Healthcheck": ...}``, or nothing when none is given.

    As the CLI: only the fields set are sent (a missing Test keeps the image's
    command, the daemon merges them), ``--no-healthcheck`` is ``Test: ["NONE"]``.
    """
    options = parsed.options
    durations = {key: parse_duration(options[flag.replace("-", "_")], flag) if options[flag.replace("-", "_")] else 0
                 for key, flag in (("Interval", "health-interval"), ("Timeout", "health-timeout"),
                                   ("StartPeriod", "health-start-period"))}
    retries = _integer(parsed, "health-retries", options["health_retries"]) if options["health_retries"] else 0
    if options["no_healthcheck"]:
        if options["health_cmd"] or retries or any(durations.values()):
            raise FlagError("--no-healthcheck conflicts with --health-* options", parsed.command)
        return {"Healthcheck": {"Test": ["NONE"]}}
    if not (options["health_cmd"] or retries or any(durations.values())):
        return {}
    for key, flag in (("Interval", "health-interval"), ("Timeout", "health-timeout")):
        if durations[key] < 0:
            raise FlagError(f"--{flag} cannot be negative", parsed.command)
    if retries < 0:
        raise FlagError("--health-retries cannot be negative", parsed.command)
    if durations["StartPeriod"] < 0:
        raise FlagError("--health-start-period cannot be negative", parsed.command)
    health: dict = {}
    if options["health_cmd"]:
        health["Test"] = ["CMD-SHELL", options["health_cmd"]]
    health.update({key: value for key, value in durations.items() if value})
    if retries:
        health["Retries"] = retries
    return {"Healthcheck": health}


def parse_restart_policy(text: str) -> dict:
    """``no``, ``always``, ``unless-stopped`` or ``on-failure[:max-retries]``."""
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES:
        raise FlagError(f'invalid restart policy format: "{text}"')
    if count and name != "on-failure":
        raise FlagError("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
    if count and not count.isdigit():
        raise FlagError(f'invalid restart policy format: maximum retry count must be an integer: "{count}"')
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def parse_env(env_files: list[str], values: list[str]) -> list[str]:
    """``--env-file`` lines first, then ``-e`` values.  ``-e NAME`` alone copies NAME from our environment."""
    env: list[str] = []
    for path in env_files:
        try:
            with open(path, encoding="utf-8") as file:
                lines = file.read().splitlines()
        except OSError as error:
            raise FlagError(f"open {path}: {error.strerror.lower()}") from None
        for number, line in enumerate(lines, 1):
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("="):
                raise FlagError(f"invalid environment variable in {path} line {number}: {line!r}: no variable name")
            env.extend(_env_entry(line))
    for value in values:
        if value.startswith("="):
            raise FlagError(f"invalid environment variable: {value}")
        env.extend(_env_entry(value))
    return env


def _env_entry(text: str) -> list[str]:
    if "=" in text:
        return [text]
    return [f"{text}={os.environ[text]}"] if text in os.environ else []


def parse_labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, _, content = value.partition("=")
        labels[key] = content
    return labels


def parse_ports(publish: list[str], expose: list[str]) -> tuple[dict, dict]:
    """``-p [ip:][host_port:]container_port[/proto]`` (ports may be ranges ``8000-8001``) and ``--expose``.

    Returns ``ExposedPorts`` (``{"80/tcp": {}}``) and ``PortBindings``
    (``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``).
    """
    exposed: dict[str, dict] = {}
    bindings: dict[str, list] = {}
    for spec in publish:
        host_ip, host_part, container_ports, protocol = _split_publish(spec)
        host_ports = [str(port) for port in _port_range(host_part, spec)] if host_part else []
        if len(host_ports) > 1 and len(container_ports) == 1:
            host_ports = [host_part]  # one container port, any free host port of the range
        elif host_ports and len(host_ports) != len(container_ports):
            raise FlagError(f"invalid ranges specified for container and host Ports: {spec}")
        for index, port in enumerate(container_ports):
            key = f"{port}/{protocol}"
            exposed[key] = {}
            host_port = host_ports[index] if host_ports else ""
            bindings.setdefault(key, []).append({"HostIp": host_ip, "HostPort": host_port})
    for spec in expose:
        port_text, _, protocol = spec.partition("/")
        for port in _port_range(port_text, spec):
            exposed[f"{port}/{protocol or 'tcp'}"] = {}
    return dict(sorted(exposed.items())), dict(sorted(bindings.items()))


def _split_publish(spec: str) -> tuple[str, str, list[int], str]:
    text, _, protocol = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
    protocol = protocol.lower()
    if protocol not in ("tcp", "udp", "sctp"):
        raise FlagError(f"invalid proto: {protocol}")
    host_ip = ""
    if text.startswith("["):  # an IPv6 address: [::1]:8080:80
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2 :]
    parts = text.split(":")
    if len(parts) == 3:
        host_ip, host_part, container_part = parts
    elif len(parts) == 2:
        host_part, container_part = parts
    elif len(parts) == 1:
        host_part, container_part = "", parts[0]
    else:
        raise FlagError(f"invalid port format for --publish: {spec}")
    if not container_part:
        raise FlagError(f"no port specified: {spec}<empty>")
    return host_ip, host_part, _port_range(container_part, spec), protocol


def _port_range(text: str, spec: str) -> list[int]:
    low, _, high = text.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise FlagError(f'invalid containerPort: {text} (in "{spec}")') from None
    if not (0 < first <= last <= 65535):
        raise FlagError(f"invalid port range: {text} (in \"{spec}\")")
    return list(range(first, last + 1))


def parse_volumes(values: list[str]) -> tuple[dict, list[str]]:
    """``-v /path`` is an anonymous volume (``Config.Volumes``); ``-v src:dst[:opts]`` a bind or named volume.

    A relative host path (``./data``) is made absolute here, on the client:
    the daemon has no idea what our working directory is.
    """
    anonymous: dict[str, dict] = {}
    binds: list[str] = []
    for value in values:
        parts = value.split(":")
        if len(parts) == 1:
            if not value.startswith("/"):
                raise FlagError(f"invalid volume specification: '{value}': invalid mount config for type \"volume\": invalid mount path: '{value}' mount path must be absolute")
            anonymous[value] = {}
            continue
        if len(parts) > 3 or not parts[0] or not parts[1]:
            raise FlagError(f"invalid volume specification: '{value}'")
        source = parts[0]
        if source.startswith("."):
            parts[0] = os.path.abspath(source)
        binds.append(":".join(parts))
    return anonymous, binds


def parse_tmpfs(values: list[str]) -> dict[str, str]:
    mounts = {}
    for value in values:
        path, _, mount_options = value.partition(":")
        mounts[path] = mount_options
    return mounts


def parse_mount(spec: str) -> dict:
    """``--mount type=bind,src=/x,dst=/y,readonly`` -> one entry of ``HostConfig.Mounts``."""
    mount: dict = {"Type": "volume"}
    tmpfs_options: dict = {}
    for field in spec.split(","):
        key, has_value, value = field.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro"):
            if has_value and value.lower() not in ("true", "false", "1", "0"):
                raise FlagError(f"invalid value for {key}: {value}")
            mount["ReadOnly"] = not has_value or value.lower() in ("true", "1")
            continue
        if not has_value:
            raise FlagError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            if value not in ("bind", "volume", "tmpfs"):
                raise FlagError(f"invalid mount type: {value!r} (nbdock knows bind, volume and tmpfs)")
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "destination", "dst"):
            mount["Target"] = value
        elif key == "tmpfs-size":
            tmpfs_options["SizeBytes"] = parse_bytes(value, "mount")
        elif key == "tmpfs-mode":
            tmpfs_options["Mode"] = int(value, 8)
        elif key == "bind-propagation":
            mount.setdefault("BindOptions", {})["Propagation"] = value
        else:
            raise FlagError(f"unexpected key '{key}' in '{spec}'")
    if "Target" not in mount:
        raise FlagError("target is required")
    if tmpfs_options:
        mount["TmpfsOptions"] = tmpfs_options
    return mount


def security_options(options: list[str]) -> list[str]:
    """``--security-opt`` as the docker CLI sends it: a seccomp profile *file* is read here, on the
    client's machine, and sent as its compact JSON (``seccomp=<json>``), since the daemon may not see
    the client's files; ``seccomp=unconfined`` and the other options go as written."""
    sent = []
    for option in options:
        key, separator, value = option.partition("=")
        if not separator and option != "no-new-privileges":
            if ":" not in option:
                raise FlagError(f'Invalid --security-opt: "{option}"')
            key, _, value = option.partition(":")
        if key == "seccomp" and value != "unconfined":
            try:
                with open(value, "rb") as f:
                    profile = json.loads(f.read())
            except OSError as e:
                raise FlagError(f"opening seccomp profile ({value}) failed: open {value}: {e.strerror.lower()}") from None
            except ValueError as e:
                raise FlagError(f"compacting json for seccomp profile ({value}) failed: {e}") from None
            option = "seccomp=" + json.dumps(profile, separators=(",", ":"), ensure_ascii=False)
        sent.append(option)
    return sent


def _capability(name: str) -> str:
    """``net_admin`` and ``NET_ADMIN`` are ``CAP_NET_ADMIN``, as the CLI normalises them (``ALL`` stays)."""
    name = name.upper()
    return name if name == "ALL" or name.startswith("CAP_") else "CAP_" + name


# ---------------------------------------------------------------------------
# The zero values the CLI always sends


def zero_host_config() -> dict:
    """Every ``HostConfig`` field docker CLI 28 sends, at its zero value, in its order."""
    return {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}}, "NetworkMode": "default",
        "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
        "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None, "CapDrop": None,
        "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None,
        "IpcMode": "", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
        "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
        "ShmSize": 0, "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
        "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": -1, "OomKillDisable": False, "PidsLimit": 0, "Ulimits": [], "CpuCount": 0,
        "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
    }


def zero_endpoint() -> dict:
    """An ``EndpointsConfig`` entry as the CLI sends it: only ``Aliases`` comes from the flags."""
    return {
        "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None, "GwPriority": 0,
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }
