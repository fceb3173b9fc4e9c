"""HostConfig and Config -> the runtime's ContainerSpec: a pure translation.

``docker run``'s flags arrive as a container record (Config, HostConfig,
MountPoints); the runtime wants a :class:`~nbdock.runtime.spec.ContainerSpec`
(rootfs layers, one process, namespaces, mounts) and the cgroup's
:class:`~nbdock.runtime.cgroups.Resources`.  This module only translates: it
reserves no address, writes no file and looks no other container up.  What
start must find out first (the namespaces of the containers it joins, the
containers it links to, its overlay's lower layers) comes in as arguments,
so the translation of every flag is tested without root
(tests/engine/test_engine_spec.py).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ...errors import Conflict, InvalidArgument
from ...runtime import capabilities
from ...runtime.cgroups import Resources
from ...runtime.spec import ContainerSpec, Mount, Process, Rootfs
from .. import createconfig, links
from ..records import ContainerRecord

#: The HostConfig fields ``docker update`` changes (besides RestartPolicy and PidsLimit).
UPDATABLE_LIMITS = createconfig.UPDATABLE_LIMITS


def container_spec(record: ContainerRecord, *, directory: str, lowerdirs: list[str], namespaces: dict[str, str],
                   linked: list[tuple[str, ContainerRecord]]) -> ContainerSpec:
    """The runtime's spec for ``record``, whose files live in ``directory``.

    ``lowerdirs`` are its overlay's read-only layers (top-most first),
    ``namespaces`` what :func:`namespace_modes` chose for each kind (with the
    network's filled in), ``linked`` the (alias, record) of each ``--link``.
    The hostname is Config.Hostname, or the short id when there is none.
    """
    config, host = record.Config, record.HostConfig
    hostname = config.get("Hostname") or record.short_id
    mode = host.get("NetworkMode") or "default"
    mount_specs = []
    if host.get("IpcMode") == "host":
        mount_specs.append(Mount("/dev/shm", "bind", "/dev/shm"))  # the host's POSIX shared memory too
    for point in record.MountPoints:
        if point["Type"] == "tmpfs":
            mount_specs.append(Mount(point["Destination"], "tmpfs", readonly=not point["RW"],
                                     data=point.get("TmpfsOptions", "")))
        else:
            mount_specs.append(Mount(point["Destination"], "bind", point["Source"], readonly=not point["RW"],
                                     copy_up=point["Type"] == "volume" and bool(point.get("CopyData"))))
    process = Process(
        args=createconfig.with_init(host, [record.Path, *record.Args], mount_specs),
        env=createconfig.environment(config, hostname, links.environment(record.name, linked, mode)),
        cwd=config.get("WorkingDir") or "/",
        user=config.get("User") or "",
        additional_groups=list(host.get("GroupAdd") or []),
        rlimits=createconfig.rlimits(host),
        no_new_privileges=createconfig.no_new_privileges(host), oom_score_adj=host.get("OomScoreAdj") or 0,
        tty=bool(config.get("Tty")),
        console_size=list(host.get("ConsoleSize") or [0, 0]),
        capabilities=capabilities.container_set(host.get("CapAdd") or (), host.get("CapDrop") or (),
                                                bool(host.get("Privileged"))),
        seccomp=createconfig.seccomp_profile(host),
    )
    return ContainerSpec(
        id=record.Id,
        rootfs=Rootfs(lowerdirs, os.path.join(directory, "upper"), os.path.join(directory, "work"),
                      os.path.join(directory, "rootfs"), readonly=bool(host.get("ReadonlyRootfs"))),
        process=process,
        hostname=hostname,
        domainname=config.get("Domainname") or "",
        sysctls=createconfig.sysctls(host),
        namespaces=namespaces,
        mounts=mount_specs,
        etc_files={"/etc/hostname": os.path.join(directory, "hostname"), "/etc/hosts": os.path.join(directory, "hosts"),
                   "/etc/resolv.conf": os.path.join(directory, "resolv.conf")},
        masked_paths=list(host.get("MaskedPaths") or []),
        readonly_paths=list(host.get("ReadonlyPaths") or []),
        shm_size=host.get("ShmSize") or createconfig.DEFAULT_SHM_SIZE,
    )


#: Who a ``container:NAME`` mode joins: its id, its PID 1 (None when it is not running), its HostConfig.
Donor = tuple[str, "int | None", dict[str, Any]]


def namespace_modes(host: dict[str, Any], donor: Callable[[str], Donor]) -> dict[str, str]:
    """The namespaces to make or join, as the runtime's spec names them.

    mnt is always new.  net, pid, ipc and uts are new, the host's (``--pid
    host``) or another running container's (``--pid container:NAME``: the
    path of its PID 1's ``/proc/PID/ns/KIND``, which setns(2) joins).
    ``--cgroupns private`` adds a cgroup namespace.  ``donor(ref)`` looks up
    the container a ``container:`` mode names.
    """
    modes = {"mnt": "new"}
    network_mode = host.get("NetworkMode") or "default"
    if network_mode == "host":
        modes["net"] = "host"
    elif network_mode.startswith("container:"):
        donor_id, pid, _ = donor(network_mode.partition(":")[2])
        if pid is None:
            raise Conflict(f"cannot join network of a non running container: {donor_id}")
        modes["net"] = f"/proc/{pid}/ns/net"
    else:
        modes["net"] = "new"
    for kind, key in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode")):
        mode = host.get(key) or ""
        if mode == "host":
            modes[kind] = "host"
        elif mode.startswith("container:"):
            donor_id, pid, donor_host = donor(mode.partition(":")[2])
            if pid is None:  # Docker's two wordings
                raise Conflict(f"cannot join IPC of a non running container: {donor_id}" if kind == "ipc"
                               else f"container {donor_id} is not running")
            if kind == "ipc" and donor_host.get("IpcMode") != "shareable":
                raise InvalidArgument(f"can't join IPC of container {donor_id}: non-shareable IPC "
                                      "(hint: use IpcMode:shareable for the donor container)")
            modes[kind] = f"/proc/{pid}/ns/{kind}"
        else:
            modes[kind] = "new"
    if host.get("CgroupnsMode") == "private":
        # A cgroup namespace of its own (v2's default anyway, see runtime/container.py): the
        # container's cgroup is "/" in its /proc/self/cgroup.
        modes["cgroup"] = "new"
    return modes


def cgroup_resources(host: dict[str, Any]) -> Resources:
    """The cgroup limits a HostConfig asks for."""
    return Resources(
        memory=host.get("Memory") or 0, memory_swap=host.get("MemorySwap") or 0, nano_cpus=host.get("NanoCpus") or 0,
        cpu_quota=host.get("CpuQuota") or 0, cpu_period=host.get("CpuPeriod") or 0,
        cpu_shares=host.get("CpuShares") or 0, pids_limit=max(host.get("PidsLimit") or 0, 0),
        memory_reservation=host.get("MemoryReservation") or 0, cpuset_cpus=host.get("CpusetCpus") or "",
        cpuset_mems=host.get("CpusetMems") or "", device_rules=tuple(host.get("DeviceCgroupRules") or ()),
        blkio_weight=host.get("BlkioWeight") or 0, throttles=createconfig.throttles(host),
        memory_swappiness=host.get("MemorySwappiness"), oom_kill_disable=bool(host.get("OomKillDisable")),
        cpu_rt_period=host.get("CpuRealtimePeriod") or 0, cpu_rt_runtime=host.get("CpuRealtimeRuntime") or 0,
    )


def updated_host_config(host: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A HostConfig with ``docker update``'s changes, checked as at create.

    Clients send every field, zero meaning "leave as it is" (Docker's rule),
    so only the non-zero ones change anything.
    """
    updated = dict(host)
    updated.update({key: value for key, value in changes.items() if key in UPDATABLE_LIMITS and value})
    if changes.get("PidsLimit") is not None:
        updated["PidsLimit"] = changes["PidsLimit"] if changes["PidsLimit"] > 0 else None
    policy = changes.get("RestartPolicy") or {}
    if policy.get("Name"):
        if updated.get("AutoRemove"):
            raise InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled for the container")
        updated["RestartPolicy"] = {"Name": policy["Name"], "MaximumRetryCount": policy.get("MaximumRetryCount") or 0}
    # Docker's rule, even when the swap is unlimited (0 or -1): a new memory limit above the swap limit needs a new swap.
    if changes.get("Memory") and not changes.get("MemorySwap") and changes["Memory"] > host.get("MemorySwap", 0):
        raise Conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap "
                       "at the same time")
    createconfig.validate_host_config(updated)
    return updated
