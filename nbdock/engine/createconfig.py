"""From ``docker create``'s request and the image's config to the container's effective config.

The rules here are Docker's (moby's daemon/create.go and runconfig):

* the image supplies defaults: Env (by key), Cmd, Entrypoint, WorkingDir,
  User, ExposedPorts, Volumes, Labels, StopSignal;
* ENTRYPOINT and CMD combine into the process's argv: entrypoint + cmd, where
  ``docker run IMAGE args`` replaces CMD, and ``--entrypoint`` replaces
  ENTRYPOINT *and* drops the image's CMD;
* HostConfig gets the defaults ``docker inspect`` shows, and the resource
  limits are checked with Docker's messages.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import stat
from typing import Any

from ..errors import InvalidArgument
from ..network import ipam
from ..runtime import capabilities, cgroups, devices, seccomp
from ..runtime.rlimits import RLIMITS
from .logs import log_options
from .signals import parse_signal
from ..runtime.spec import DEFAULT_PATH, MASKED_PATHS, READONLY_PATHS, Mount

MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
RESTART_POLICIES = ("", "no", "always", "on-failure", "unless-stopped")
#: ``--runtime``: "runc" -- Docker's default, by the name every client and tool expects of the default
#: (docker-py's tests, compose files, scripts) -- is nbdock's own runtime, which implements runc's verbs;
#: "nbdock" names the same one.  `docker info` shows where it really is (Runtimes).
RUNTIMES = ("runc", "nbdock")
#: The logging drivers built into Docker (nbdock has json-file only).
DOCKER_LOG_DRIVERS = ("json-file", "local", "none", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
                      "etwlogs", "gcplogs", "logentries")


def merge_image_config(requested: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The container's Config: what the client asked for, completed by the image's defaults."""
    config = copy.deepcopy(requested)
    for key, default in (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
                         ("AttachStdout", False), ("AttachStderr", False), ("Tty", False), ("OpenStdin", False),
                         ("StdinOnce", False), ("Image", ""), ("WorkingDir", "")):
        config.setdefault(key, default)
        if config[key] is None:
            config[key] = default
    if not config["User"]:
        config["User"] = image.get("User") or ""
    if not config["WorkingDir"]:
        config["WorkingDir"] = image.get("WorkingDir") or ""

    user_env = list(config.get("Env") or [])
    user_keys = {entry.partition("=")[0] for entry in user_env}
    config["Env"] = user_env + [e for e in image.get("Env") or [] if e.partition("=")[0] not in user_keys] or None

    for key in ("ExposedPorts", "Volumes"):
        config[key] = {**(image.get(key) or {}), **(config.get(key) or {})} or None
    if not config["ExposedPorts"]:
        del config["ExposedPorts"]  # left out when empty, as in Docker's JSON (Volumes shows as null)
    labels = dict(image.get("Labels") or {})
    labels.update(config.get("Labels") or {})
    config["Labels"] = labels

    if not config.get("Entrypoint"):
        if not config.get("Cmd"):
            config["Cmd"] = image.get("Cmd")
        if config.get("Entrypoint") is None:
            config["Entrypoint"] = image.get("Entrypoint")
    if not config.get("StopSignal") and image.get("StopSignal"):
        config["StopSignal"] = image["StopSignal"]
    config["Healthcheck"] = merge_image_healthcheck(config.get("Healthcheck"), image.get("Healthcheck"))
    if config["Healthcheck"] is None:
        del config["Healthcheck"]
    if image.get("OnBuild"):
        config.setdefault("OnBuild", None)
    return config


def merge_image_healthcheck(requested: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Healthcheck a container gets from the request and its image's HEALTHCHECK.

    Docker merges field by field: ``--health-timeout 2s`` on an image with a
    HEALTHCHECK keeps the image's command and interval and changes only the
    timeout.  (``--no-healthcheck`` sends ``Test: ["NONE"]``, which wins.)
    """
    if not image:
        return requested
    if requested is None:
        return dict(image)
    merged = dict(requested)
    for key in ("Test", "Interval", "Timeout", "StartPeriod", "Retries"):
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    return merged


def command(config: dict[str, Any]) -> tuple[str, list[str]]:
    """(Path, Args) of the container's first process: ENTRYPOINT followed by CMD."""
    entrypoint = [e for e in (config.get("Entrypoint") or [])]
    if entrypoint == [""]:
        entrypoint = []  # --entrypoint "": no entrypoint at all
    argv = entrypoint + list(config.get("Cmd") or [])
    if not argv:
        raise InvalidArgument("No command specified")
    return argv[0], argv[1:]


def fill_host_config(requested: dict[str, Any] | None) -> dict[str, Any]:
    """HostConfig with every default ``docker inspect`` shows."""
    host = copy.deepcopy(requested or {})
    defaults = {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
        "CgroupnsMode": "private" if cgroups.detect() == 2 else "host", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None,
        "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
        "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
        "ShmSize": DEFAULT_SHM_SIZE, "Runtime": "runc", "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0,
        "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "",
        "CpusetMems": "", "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0,
        "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None,
        "OomKillDisable": False, "PidsLimit": None, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": list(MASKED_PATHS),
        "ReadonlyPaths": list(READONLY_PATHS),
    }
    for key, value in defaults.items():
        if host.get(key) is None and value is not None:
            host[key] = value
        host.setdefault(key, value)
    # Clients send every field; Docker takes an empty or zero value as "the default" for these.
    for key in ("NetworkMode", "IpcMode", "CgroupnsMode", "ShmSize", "Runtime"):
        if not host[key]:
            host[key] = defaults[key]
    if host["MemorySwappiness"] == -1:
        host["MemorySwappiness"] = None  # -1 is the CLI's "not set"
    if not host["LogConfig"].get("Type"):
        host["LogConfig"] = {"Type": "json-file", "Config": host["LogConfig"].get("Config") or {}}
    if not host["RestartPolicy"].get("Name"):
        host["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": host["RestartPolicy"].get("MaximumRetryCount", 0)}
    if host.get("Privileged"):
        host["MaskedPaths"], host["ReadonlyPaths"] = [], []
    if host["Memory"] > 0 and not host["MemorySwap"]:
        host["MemorySwap"] = 2 * host["Memory"]  # Docker's default: as much swap as memory
    if host["PidsLimit"] is not None and host["PidsLimit"] <= 0:
        host["PidsLimit"] = None  # 0 and negative both mean "no limit", which Docker records as null
    return host


def validate_host_config(host: dict[str, Any]) -> None:
    """Docker's checks of resource limits and policies, with Docker's messages."""
    validate_decoded_limits(host)
    validate_restart_policy(host)
    validate_resources(host)
    if (host.get("ShmSize") or 0) < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if not -1000 <= (host.get("OomScoreAdj") or 0) <= 1000:
        raise InvalidArgument(f"Invalid value {host['OomScoreAdj']}, range for oom score adj is [-1000, 1000]")
    if host.get("Runtime") not in RUNTIMES:
        raise InvalidArgument(f"Unknown runtime specified {host.get('Runtime')}")
    log_driver = host["LogConfig"]["Type"]
    if log_driver in DOCKER_LOG_DRIVERS and log_driver != "json-file":
        raise InvalidArgument(f"logging driver {log_driver!r} is not supported by nbdock: it keeps json-file logs only")
    if log_driver != "json-file":
        raise InvalidArgument(f'error looking up logging plugin {log_driver}: plugin "{log_driver}" not found')
    log_options(host["LogConfig"].get("Config"))  # --log-opt: max-size, max-file... (Docker's checks, in logs.py)
    no_new_privileges(host)
    check_sysctls(host)
    for limit in host.get("Ulimits") or []:
        if limit.get("Name") not in RLIMITS:
            raise InvalidArgument(f"invalid ulimit type: {limit.get('Name')}")
    for key in ("CapAdd", "CapDrop"):
        try:
            capabilities.normalize(host.get(key) or ())
        except ValueError as e:
            raise InvalidArgument(f"invalid {key}: {e}") from None
    check_seccomp(host)
    check_device_cgroup_rules(host)
    check_platform(host)
    throttles(host)  # every throttled device exists and is a block device
    for key, flag in UNSUPPORTED_HOST_CONFIG:
        if _set(host.get(key)):
            # Refused rather than ignored: a container quietly without its device or its
            # user namespace would teach the wrong thing.
            raise InvalidArgument(f"{flag} is not supported by nbdock (HostConfig.{key})")


# The numbers.  That a value fits its Go type (no int64 overflow, no negative
# uint16) is checked as the request is read (daemon/bodies.py); what is left
# here are Docker's limits on what the kernel can be given.  Docker checks
# them only when a value is set (non-zero): zero means "no limit" or "the
# default" everywhere.

#: The shortest healthcheck interval, timeout or start period Docker allows (1ms, in nanoseconds).
MIN_HEALTHCHECK_DURATION = 1_000_000


def validate_decoded_limits(host: dict[str, Any]) -> None:
    """The checks Docker makes as it decodes a create request (runconfig), before any other."""
    if host.get("IOMaximumBandwidth"):
        raise InvalidArgument("Invalid QoS settings: linux does not support configuration of maximum bandwidth")
    if host.get("IOMaximumIOps"):
        raise InvalidArgument("Invalid QoS settings: linux does not support configuration of maximum IOPs")
    period, runtime = host.get("CpuRealtimePeriod") or 0, host.get("CpuRealtimeRuntime") or 0
    if period and runtime and runtime > period:
        raise InvalidArgument("cpu real-time runtime cannot be higher than cpu real-time period")


def validate_resources(host: dict[str, Any], *, update: bool = False) -> None:
    """Docker's limits on the resource fields (moby's verifyPlatformContainerResources), in its order."""
    memory, swap = host.get("Memory") or 0, host.get("MemorySwap") or 0
    if memory and memory < MIN_MEMORY:  # negative too: the kernel would take it as "no limit"
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if swap > 0 and not memory and not update:  # an update may set the swap of a container that has a limit
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    swappiness = host.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:  # -1: the CLI's "not set"
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    reservation = host.get("MemoryReservation") or 0
    if 0 < reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    if 0 < (host.get("KernelMemory") or 0) < MIN_MEMORY:
        raise InvalidArgument("Minimum kernel memory limit allowed is 6MB")
    nano_cpus = host.get("NanoCpus") or 0
    if nano_cpus and (host.get("CpuPeriod") or 0) > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano_cpus and (host.get("CpuQuota") or 0) > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    cpus = os.cpu_count() or 1
    # Docker itself takes anything from 1 nanocpu; below 0.01 CPU the CFS quota would be under its 1ms minimum.
    if nano_cpus and not 10_000_000 <= nano_cpus <= cpus * 1_000_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available")
    if (host.get("CpuShares") or 0) < 0:
        # Docker takes it, and the container fails to start with runc's words for the refused cpu.shares write.
        raise InvalidArgument("shares: invalid argument")
    cpu_period = host.get("CpuPeriod") or 0
    if cpu_period and not 1000 <= cpu_period <= 1_000_000:  # the range the kernel's cpu.cfs_period_us takes
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if 0 < (host.get("CpuQuota") or 0) < 1000:  # a negative quota is "no limit", as in cpu.cfs_quota_us
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    # Docker checks this range only where it finds blkio.weight, and drops the weight with a warning
    # elsewhere (here: Linux 5.0+ has BFQ's blkio.bfq.weight instead); nbdock writes that one.
    weight = host.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    if update and (host.get("IOMaximumBandwidth") or host.get("IOMaximumIOps")):
        raise InvalidArgument("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")


def validate_healthcheck(config: dict[str, Any]) -> None:
    """Docker's limits on Config.Healthcheck (durations in nanoseconds; 0 means the default)."""
    health = config.get("Healthcheck") or {}
    for key in ("Interval", "Timeout", "Retries", "StartPeriod"):
        value = health.get(key) or 0
        if key == "Retries":
            if value < 0:
                raise InvalidArgument("Retries in Healthcheck cannot be negative")
        elif value and value < MIN_HEALTHCHECK_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")


def validate_restart_policy(host: dict[str, Any]) -> None:
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or ""
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    if name not in ("", "no") and host.get("AutoRemove"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    if policy.get("MaximumRetryCount") and name != "on-failure":
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
    if (policy.get("MaximumRetryCount") or 0) < 0:
        raise InvalidArgument("maximum retry count cannot be negative")


def validate_update(changes: dict[str, Any]) -> list[str]:
    """``docker update``'s request on its own, before it is merged into the container's HostConfig.

    Docker's update body holds only the limits and the restart policy, so
    only their checks apply, and those that compare a field with another
    the update may not send are made on the merged config.  Returns the
    warnings of what this host cannot apply (set to zero in ``changes``).
    """
    validate_restart_policy({"RestartPolicy": changes.get("RestartPolicy")})
    validate_resources(changes, update=True)
    warnings = discard_unsupported(changes)
    for key in NOT_UPDATABLE:
        if _set(changes.get(key)):
            # Docker takes some of these (--kernel-memory with a warning) and drops the rest.
            what = dict(UNSUPPORTED_HOST_CONFIG).get(key) or UPDATE_FLAGS.get(key) or key
            raise InvalidArgument(f"{what} cannot be changed by nbdock's docker update (UpdateConfig.{key})")
    return warnings


#: The limits ``docker update`` changes (in the cgroup at once when the container runs),
#: besides PidsLimit and the restart policy.
UPDATABLE_LIMITS = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod",
                    "CpusetCpus", "CpusetMems", "BlkioWeight")
#: The other resource fields of the update body: refused when set (other fields are not read, as in Docker).
NOT_UPDATABLE = ("CgroupParent", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                 "BlkioDeviceWriteIOps", "CpuRealtimePeriod", "CpuRealtimeRuntime", "Devices", "DeviceCgroupRules",
                 "DeviceRequests", "KernelMemory", "KernelMemoryTCP", "MemorySwappiness", "OomKillDisable", "Ulimits",
                 "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth")
#: The other flags of ``docker update``, for its refusals.
UPDATE_FLAGS = {"KernelMemory": "--kernel-memory", "CpuRealtimePeriod": "--cpu-rt-period", "CpuRealtimeRuntime": "--cpu-rt-runtime"}


def _set(value: Any) -> bool:
    """Whether a field asks for something: not null, empty or zero, nor a negative number
    (-1 and below are the API's "no limit" or "not set", which Docker takes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value > 0
    return bool(value)


#: HostConfig fields nbdock has no implementation of, with the docker flag that sets each.
UNSUPPORTED_HOST_CONFIG = (
    ("Devices", "--device"), ("DeviceRequests", "--gpus"), ("CgroupParent", "--cgroup-parent"),
    # Per-device weights are BFQ's, and the kernel refuses them (EOPNOTSUPP) on a disk with another scheduler.
    ("BlkioWeightDevice", "--blkio-weight-device"),
    # v1's limit of a cgroup's TCP buffers (memory.kmem.tcp.limit_in_bytes); v2 has none.  No docker flag.
    ("KernelMemoryTCP", "a TCP kernel memory limit"),
    # A size for the container's writable layer needs overlay over xfs with project quotas (Docker's rule too).
    ("StorageOpt", "--storage-opt"),
    # Joining another container's cgroup ("container:<id>"): no docker flag sets it.
    ("Cgroup", "a shared cgroup"),
)

#: The I/O throttles: HostConfig's field -> the kind of limit (cgroups.THROTTLE_KINDS).
THROTTLE_FIELDS = {"BlkioDeviceReadBps": "read_bps", "BlkioDeviceWriteBps": "write_bps",
                   "BlkioDeviceReadIOps": "read_iops", "BlkioDeviceWriteIOps": "write_iops"}


def throttles(host: dict[str, Any]) -> tuple[cgroups.Throttle, ...]:
    """``--device-read-bps /dev/vda:1mb`` and its kin, as the kernel's rules: device numbers and rates.

    The device is the host's (stat'ed here, as dockerd does); one that is
    missing or not a block device is refused at create -- Docker finds out at
    start, when the kernel answers ENODEV.  A rate of 0 is no limit: nothing written.
    """
    found = []
    for key, kind in THROTTLE_FIELDS.items():
        for entry in host.get(key) or []:
            path = (entry or {}).get("Path") or ""
            try:
                info = os.stat(path)
            except OSError as e:
                raise InvalidArgument(f"stat {path}: {(e.strerror or '').lower()}") from None
            if not stat.S_ISBLK(info.st_mode):
                raise InvalidArgument(f"{cgroups.THROTTLE_KINDS[kind][2]}: {path} is not a block device")
            if entry.get("Rate"):
                found.append(cgroups.Throttle(kind, os.major(info.st_rdev), os.minor(info.st_rdev), entry["Rate"]))
    return tuple(found)


#: CgroupnsMode: the ones nbdock gives a container on each cgroup version (the first is Docker's default).
#: (On v2, "host" would need the host's whole hierarchy mounted into the container: not done.)
CGROUPNS_MODES = {1: ("host", "private"), 2: ("private",)}


def check_platform(host: dict[str, Any]) -> None:
    """The fields whose values only another platform, driver or cgroup version has, in Docker's words where it has them."""
    isolation = host.get("Isolation") or ""
    if isolation not in ("", "default"):  # process and hyperv are Windows'
        raise InvalidArgument(f'Invalid isolation: "{isolation}" - linux only supports \'default\'')
    driver = host.get("VolumeDriver") or ""
    if driver not in ("", "local"):
        raise InvalidArgument(f"--volume-driver {driver} is not supported by nbdock: it has the local driver only "
                              "(HostConfig.VolumeDriver)")
    mode, version = host.get("CgroupnsMode") or "", cgroups.detect()
    if mode not in ("", "host", "private"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {mode}")
    if mode and mode not in CGROUPNS_MODES[version]:
        raise InvalidArgument(f"--cgroupns {mode} is not supported by nbdock on cgroup v{version}: its containers "
                              f"have --cgroupns {CGROUPNS_MODES[version][0]} (HostConfig.CgroupnsMode)")
    if version == 2:
        # Real-time CPU time is v1's cpu.rt_* files: v2 has no such setting.
        for key, flag in (("CpuRealtimePeriod", "--cpu-rt-period"), ("CpuRealtimeRuntime", "--cpu-rt-runtime")):
            if host.get(key):
                raise InvalidArgument(f"{flag} is not supported by nbdock on cgroup v2, which has no such setting "
                                      f"(HostConfig.{key})")
    if version == 2:  # memory.swappiness and memory.oom_control are v1's; Docker drops them with a warning
        for key, flag in (("MemorySwappiness", "--memory-swappiness"), ("OomKillDisable", "--oom-kill-disable")):
            if host.get(key) is not None and host.get(key) is not False:
                raise InvalidArgument(f"{flag} is not supported by nbdock on cgroup v2, which has no such setting "
                                      f"(HostConfig.{key})")


def discard_unsupported(host: dict[str, Any]) -> list[str]:
    """Set to zero what this host cannot apply and Docker drops with a warning; returns the warnings.

    As Docker, the discarded value is gone from the container's HostConfig
    too (inspect shows 0), so what inspect says is what the kernel was given.
    """
    warnings = []
    if host.get("BlkioWeight") and not cgroups.supports_blkio_weight():
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
        host["BlkioWeight"] = 0
    return warnings


def create_warnings(host: dict[str, Any]) -> list[str]:
    """What Docker warns of at create for fields it accepts and does not apply (or applies at a risk)."""
    warnings = []
    if host.get("KernelMemory"):  # Linux 6.x no longer has kernel memory limits; runc ignores this one
        warnings.append("Specifying a kernel memory limit is deprecated and will be removed in a future release.")
    if host.get("OomKillDisable") and not host.get("Memory"):
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, this can result in "
                        "the system running out of resources.")
    if host.get("CpuCount"):  # Windows' (Docker's CLI refuses it for a Linux daemon; dockerd says nothing)
        warnings.append("linux does not support CPU count. Count discarded.")
    if host.get("CpuPercent"):
        warnings.append("linux does not support CPU percent. Percent discarded.")
    return warnings

#: ``--device-cgroup-rule``'s form, as Docker checks it: "<a|b|c> <major|*>:<minor|*> <some of rwm>".
DEVICE_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def check_device_cgroup_rules(host: dict[str, Any]) -> None:
    """``--device-cgroup-rule``: each an allow rule for the device cgroup (see runtime/devices.py).

    Docker finds a malformed rule only at start; nbdock says so at create, in Docker's words.
    """
    for rule in host.get("DeviceCgroupRules") or []:
        try:
            if not isinstance(rule, str) or not DEVICE_CGROUP_RULE.match(rule):
                raise ValueError(rule)
            devices.parse_rule(rule)  # numbers beyond the kernel's dev_t too
        except ValueError:
            raise InvalidArgument(f"invalid device cgroup rule format: '{rule}'") from None


def validate_userns_mode(host: dict[str, Any], remapped: bool) -> None:
    """``--userns``: "" (the daemon's choice: a user namespace with --userns-remap) or "host" (none).

    With --userns-remap, Docker's conflicts: a privileged container, or one
    sharing the host's network or PID namespace, must opt out with
    ``--userns=host`` -- those namespaces belong to the host's user
    namespace, and root in another one could not use them as asked.
    """
    mode = host.get("UsernsMode") or ""
    if mode not in ("", "host"):
        raise InvalidArgument(f"invalid USER mode: {mode} (--userns takes only host)")
    if not remapped or mode == "host":
        return
    if host.get("Privileged"):
        raise InvalidArgument("privileged mode is incompatible with user namespaces.  You must run the container "
                              "in the host namespace when running privileged mode")
    if (host.get("NetworkMode") or "") == "host":
        raise InvalidArgument("cannot share the host's network namespace when user namespaces are enabled")
    if (host.get("PidMode") or "") == "host":
        raise InvalidArgument("cannot share the host PID namespace when user namespaces are enabled")


#: The sysctls a container may set: those the kernel keeps per IPC or network namespace (Docker's list).
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")

#: What Docker sets in every container's own network namespace: any user may bind low ports and
#: send pings (no CAP_NET_RAW needed), and there is no IPv6 (nbdock's networks have none).
DEFAULT_NET_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647",
                       "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}


def sysctls(host: dict[str, Any]) -> dict[str, str]:
    """The sysctls to write in a new container: Docker's defaults for its own network namespace, then ``--sysctl``.

    A setting of a namespace the container shares with the host would change
    the host: refused at start, as Docker does, in the words Docker relays from
    runc ("failed to create shim task: OCI runtime create failed: ..."), which
    its clients see; the error's explanation says why, in nbdock's words.
    """
    mode = host.get("NetworkMode") or "default"
    for key in host.get("Sysctls") or {}:
        shared = ("network", mode == "host") if key.startswith("net.") else ("IPC", host.get("IpcMode") == "host")
        if shared[1]:
            raise InvalidArgument(f'failed to create shim task: OCI runtime create failed: runc create failed: '
                                  f'sysctl "{key}" not allowed in host {shared[0]} namespace: unknown',
                                  f"nbdock: the container shares the host's {shared[0]} namespace, so setting "
                                  f"{key} would change the host; the message above is Docker's wording, kept for its clients")
    own_network = mode != "host" and not mode.startswith("container:")
    return {**(DEFAULT_NET_SYSCTLS if own_network else {}), **(host.get("Sysctls") or {})}


def check_sysctls(host: dict[str, Any]) -> None:
    """Only the settings the kernel keeps per namespace (Docker's list); the rest belong to the whole host."""
    for key in host.get("Sysctls") or {}:
        if not (key.startswith(("net.", "fs.mqueue.")) or key in IPC_SYSCTLS):
            raise InvalidArgument(f"sysctl '{key}' is not whitelisted")


def rlimits(host: dict[str, Any]) -> list[list]:
    """``--ulimit`` as the runtime takes it: [name, soft, hard]."""
    return [[limit["Name"], limit["Soft"], limit["Hard"]] for limit in host.get("Ulimits") or []]


def no_new_privileges(host: dict[str, Any]) -> bool:
    """Whether ``--security-opt`` asks for no-new-privileges, with Docker's errors for what it cannot mean.

    label and apparmor settings are accepted and have no effect: nbdock applies
    no SELinux label or AppArmor profile.  seccomp is :func:`seccomp_profile`'s.
    """
    wanted = False
    for option in host.get("SecurityOpt") or []:
        if option == "no-new-privileges":
            wanted = True
            continue
        if option == "disable":
            continue
        key, separator, value = option.partition("=") if "=" in option else option.partition(":")
        if not separator:
            raise InvalidArgument(f'invalid --security-opt 1: "{option}"')
        if key == "no-new-privileges":
            if value.lower() not in ("true", "false", "1", "0", "t", "f"):
                raise InvalidArgument(f'invalid --security-opt 2: "{option}"')
            wanted = value.lower() in ("true", "1", "t")
        elif key not in ("label", "apparmor", "seccomp"):
            raise InvalidArgument(f'invalid --security-opt 2: "{option}"')
    return wanted


def seccomp_profile(host: dict[str, Any]) -> str:
    """The container's seccomp setting for the runtime: "default", "unconfined" or a profile's JSON text.

    ``--security-opt seccomp=unconfined`` turns the filter off and
    ``seccomp=<profile>`` replaces Docker's default profile; the docker CLI
    reads the profile's file and sends its JSON inline.  As in Docker, the
    last seccomp option wins, an empty value means the default, and
    ``--privileged`` means unconfined whatever the options say.
    """
    if host.get("Privileged"):
        return seccomp.UNCONFINED
    return _seccomp_option(host) or seccomp.DEFAULT


def _seccomp_option(host: dict[str, Any]) -> str:
    """The value of the last ``seccomp=`` security option ("" if none)."""
    value = ""
    for option in host.get("SecurityOpt") or []:
        key, separator, given = option.partition("=") if "=" in option else option.partition(":")
        if separator and key == "seccomp":
            value = given
    return value


def check_seccomp(host: dict[str, Any]) -> None:
    """A profile that would not load is refused at create (Docker finds out only at start, same words)."""
    text = _seccomp_option(host)
    if host.get("Privileged") or text in ("", seccomp.UNCONFINED):
        return
    mask = capabilities.container_set(host.get("CapAdd") or (), host.get("CapDrop") or (), bool(host.get("Privileged")))
    try:
        seccomp.check(text, mask)  # a profile's JSON text: even "default", which Docker 20.10 cannot decode
    except seccomp.ProfileError as e:
        if e.from_runtime:  # Docker relays these from runc at start; nbdock finds them itself, at create
            raise InvalidArgument(f"failed to create shim task: OCI runtime create failed: runc create failed: {e}: unknown",
                                  "nbdock: the seccomp profile cannot be loaded into the kernel; the message above "
                                  "is Docker's wording, kept for its clients") from None
        raise InvalidArgument(str(e)) from None


def exec_seccomp(host: dict[str, Any], exec_capabilities: int) -> str:
    """An exec'd process's filter: the container's (runc exec applies it), resolved for the container's capabilities."""
    setting = seccomp_profile(host)
    own = capabilities.container_set(host.get("CapAdd") or (), host.get("CapDrop") or (), bool(host.get("Privileged")))
    return setting if exec_capabilities == own else seccomp.pinned(setting, own)  # exec --privileged


#: The values of PidMode, IpcMode and UTSMode besides "container:<name|id>" (where allowed).
NAMESPACE_MODES = {"PidMode": ("", "host"), "IpcMode": ("", "none", "private", "shareable", "host"), "UTSMode": ("", "host")}


def validate_namespace_modes(config: dict[str, Any], host: dict[str, Any]) -> None:
    """Docker's checks of --pid, --ipc and --uts (the modes, and what --uts host excludes)."""
    for key, modes in NAMESPACE_MODES.items():
        mode = host.get(key) or ""
        joins_container = key != "UTSMode" and mode.startswith("container:") and mode.partition(":")[2]
        if mode not in modes and not joins_container:
            kind = key.removesuffix("Mode").upper()
            raise InvalidArgument(f"{'Invalid' if kind == 'IPC' else 'invalid'} {kind} mode: {mode}")  # sic
    if host.get("UTSMode") == "host" and config.get("Hostname"):
        raise InvalidArgument("conflicting options: hostname and the UTS mode")


def validate_request(config: dict[str, Any], host: dict[str, Any], *, remapped: bool = False) -> list[str]:
    """Every check of a create request (its Config and its filled-in HostConfig; an endpoint's
    addresses are the network's to check, when the container joins it); returns the warnings.
    A field this host cannot apply is set to zero in ``host`` (discard_unsupported).

    ``remapped``: the daemon runs with --userns-remap.
    """
    validate_config(config)
    validate_host_config(host)
    validate_namespace_modes(config, host)
    validate_userns_mode(host, remapped)
    return discard_unsupported(host) + create_warnings(host) + validate_network_mode(config, host)


def validate_config(config: dict[str, Any]) -> None:
    """Docker's checks of the container's Config."""
    working_dir = config.get("WorkingDir") or ""
    if working_dir and not working_dir.startswith("/"):
        raise InvalidArgument(f"the working directory '{working_dir}' is invalid, it needs to be an absolute path")
    if config.get("StopSignal"):
        parse_signal(config["StopSignal"])
    if config.get("MacAddress"):
        ipam.parse_mac(config["MacAddress"])  # checked now, though only a start uses it
    if config.get("NetworkDisabled"):
        raise InvalidArgument("Config.NetworkDisabled is not supported by nbdock: use --network none")
    validate_healthcheck(config)


def validate_network_mode(config: dict[str, Any], host: dict[str, Any]) -> list[str]:
    """Docker's checks of what a network mode excludes (moby's validateNetContainerMode); returns warnings.

    ``config`` is the Config as the client sent it (a Hostname nbdock fills
    in later does not count).  A container that shares another's network
    namespace cannot have its own hostname, DNS, hosts entries or ports:
    they belong to the namespace's owner.
    """
    mode = host.get("NetworkMode") or "default"
    if mode.startswith("container:"):
        if not mode.partition(":")[2]:
            raise InvalidArgument("Invalid network mode: invalid container format container:<name|id>")
        conflicts = (
            (config.get("Hostname"), "conflicting options: hostname and the network mode"),
            (host.get("Links"), "conflicting options: container type network can't be used with links. "
                                "This would result in undefined behavior"),
            (host.get("Dns"), "conflicting options: dns and the network mode"),
            (host.get("ExtraHosts"), "conflicting options: custom host-to-IP mapping and the network mode"),
            (config.get("MacAddress"), "conflicting options: mac-address and the network mode"),
            (host.get("PortBindings") or host.get("PublishAllPorts"),
             "conflicting options: port publishing and the container type network mode"),
            (config.get("ExposedPorts"), "conflicting options: port exposing and the container type network mode"),
        )
        for present, message in conflicts:
            if present:
                raise InvalidArgument(message)
    if mode == "host" and config.get("MacAddress"):
        raise InvalidArgument("conflicting options: mac-address and the network mode")
    if mode == "host" and host.get("PortBindings"):
        return ["Published ports are discarded when using host network mode"]
    return []


def environment(config: dict[str, Any], hostname: str, linked: list[str] = ()) -> list[str]:
    """The process environment: what Docker always sets (PATH, HOSTNAME, TERM with a tty), the
    variables of ``--link`` (``linked``), then Config.Env.

    As in Docker, a Config.Env entry replaces a default of the same name in
    place, and is appended otherwise.
    """
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    if config.get("Tty"):
        env["TERM"] = "xterm"
    for entry in linked:
        key, _, value = entry.partition("=")
        env[key] = value
    for entry in config.get("Env") or []:
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
    return [f"{key}={value}" for key, value in env.items()]


#: Where ``--init`` puts the init in the container, as Docker does.
INIT_PATH = "/sbin/docker-init"


def init_binary() -> str:
    """The host's init for ``--init``: ``docker-init``, which Docker's packages install (a static tini).

    It is bind-mounted into the container, where no C library need exist,
    so only a static build will do: Debian's tini package ships one as
    tini-static (docker.io links docker-init to it).
    """
    for name in ("docker-init", "tini-static"):
        path = shutil.which(name)
        if path:
            return os.path.realpath(path)
    raise InvalidArgument('exec: "docker-init": executable file not found in $PATH (apt-get install tini)')


def with_init(host: dict[str, Any], args: list[str], mounts: list[Mount]) -> list[str]:
    """``--init``: the init runs as PID 1 and starts the user's command as its child.

    PID 1 is special to the kernel: a signal it has no handler for is not
    delivered (so Ctrl-C and ``docker stop`` seem ignored), and orphaned
    processes are re-parented to it, to be reaped.  tini installs handlers
    that forward signals to the child, and reaps every orphan.
    """
    if not host.get("Init"):
        return args
    mounts.append(Mount(INIT_PATH, "bind", init_binary(), readonly=True))
    return [INIT_PATH, "--", *args]
