"""Containers as the engine manages them: create, start, wait, stop, kill, remove...

The runtime (nbdock/runtime) knows how to make a process inside namespaces
and a cgroup.  This module adds everything a user of ``docker`` expects on
top: names, images, logs, attached clients, volumes, networks, restart
policies, and a record on disk that survives the daemon.

Kernel work (mounts, cgroups, netlink, fork) is blocking, so it runs in
worker threads (``asyncio.to_thread``); the event loop keeps serving other
clients meanwhile.  Each container has an ``asyncio.Lock`` so that two
requests never change the same container at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any, AsyncIterator

from .. import errors
from ..errors import Conflict, InvalidArgument, NotFound, NotModified
from ..image import reference
from ..image.store import remove_tree
from ..network import Endpoint, ipam
from ..runtime import capabilities, cgroups, namespaces
from ..runtime.cgroups import Resources
from ..runtime.container import Container as RuntimeContainer
from ..runtime.container import ContainerStartError, Started, exit_code_from_status
from ..runtime.spec import ContainerSpec, Mount, Process, Rootfs
from ..runtime.trace import Trace
from . import clock, createconfig, filtering, links, logs, mounts, names
from .health import HealthService, status_line
from .records import ContainerRecord, State
from .signals import parse_signal
from .streams import Listeners, OutputPump, StdinPump, StdioPipes

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("nbdock.engine")

#: The HostConfig fields ``docker update`` changes (besides RestartPolicy and PidsLimit).
UPDATABLE_LIMITS = createconfig.UPDATABLE_LIMITS

#: ``docker wait --condition`` ("" is the default, not-running).
WAIT_CONDITIONS = ("", "not-running", "next-exit", "removed")

#: How long to wait for a process's output to drain after it exited.
OUTPUT_DRAIN_TIMEOUT = 10


@dataclass
class Run:
    """What exists only while a container runs."""

    runtime: RuntimeContainer
    started: Started
    trace: Trace
    log: logs.LogWriter
    endpoints: list[Endpoint]
    exited: asyncio.Future  # resolves to the wait status
    pump: OutputPump | None = None
    stdin: StdinPump | None = None


class ManagedContainer:
    """A container record plus the live objects the engine keeps for it."""

    def __init__(self, record: ContainerRecord):
        self.record = record
        self.lock = asyncio.Lock()
        self.listeners = Listeners()
        self.run: Run | None = None
        self.changed = asyncio.Condition()  # notified at every exit and at removal
        self.exits = 0
        self.removed = False
        self.restart_task: asyncio.Task | None = None
        self.supervisor: asyncio.Task | None = None  # watches the current run until its end is handled

    @property
    def id(self) -> str:
        return self.record.Id

    @property
    def running(self) -> bool:
        return self.run is not None

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


class ContainerService:
    def __init__(self, engine: "Engine"):
        self.engine = engine
        self.root = engine.root
        self._by_id: dict[str, ManagedContainer] = {}
        self._by_name: dict[str, str] = {}
        self.health = HealthService(engine)

    # ------------------------------------------------------------------
    # Looking containers up

    def get(self, ref: str) -> ManagedContainer:
        """By full id, name (with or without "/") or unique id prefix, as Docker resolves them."""
        ref = (ref or "").strip()
        if ref in self._by_id:
            return self._by_id[ref]
        name = ref.lstrip("/")
        if name in self._by_name:
            return self._by_id[self._by_name[name]]
        if ref:
            matches = [c for cid, c in self._by_id.items() if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def all(self) -> list[ManagedContainer]:
        return list(self._by_id.values())

    def using_image(self, image_id: str) -> list[ManagedContainer]:
        return [c for c in self._by_id.values() if c.record.Image == image_id]

    def using_volume(self, name: str) -> list[str]:
        return [c.id for c in self._by_id.values() if any(m.get("Name") == name for m in c.record.MountPoints)]

    def lowerdirs(self, record: ContainerRecord) -> list[str]:
        """The read-only layers of a container's overlay, top-most first: its init layer, then its image's."""
        return [os.path.join(record.directory(self.root), "init")] + self.engine.images.store.lowerdirs(record.Image)

    def _check_name_free(self, name: str) -> None:
        if name in self._by_name:
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container "{self._by_name[name]}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            )

    def _register(self, container: ManagedContainer) -> None:
        self._by_id[container.id] = container
        self._by_name[container.record.name] = container.id

    def _forget(self, container: ManagedContainer) -> None:
        self._by_id.pop(container.id, None)
        if self._by_name.get(container.record.name) == container.id:
            del self._by_name[container.record.name]

    # ------------------------------------------------------------------
    # Restoring state at daemon start

    def restore(self) -> list[ManagedContainer]:
        """Load every container record; a container that was running when the daemon died is now exited."""
        directory = os.path.join(self.root, "containers")
        os.makedirs(directory, exist_ok=True)
        restored = []
        auto_removed: list[ContainerRecord] = []
        for cid in sorted(os.listdir(directory)):
            path = os.path.join(directory, cid, "container.json")
            if not os.path.exists(path):
                # A create the previous daemon did not finish (the record is written last): nothing to keep.
                self._cleanup_dead_run(cid)
                remove_tree(os.path.join(directory, cid))
                continue
            for scratch in (".container.json.tmp", "health.json.tmp"):  # a save cut short before its rename
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, cid, scratch))
            try:
                record = ContainerRecord.load(path)
            except (OSError, ValueError, TypeError) as e:
                log.warning("skipping container %s: unreadable record (%s)", cid, e)
                continue
            # Nothing runs yet, so a cgroup of this container is a dead run's, even one the previous
            # daemon was still starting (the record said "created" then).
            self._cleanup_dead_run(record.Id)
            if record.State.Running or record.State.Status in ("running", "paused", "restarting", "removing"):
                # Its processes died with the previous daemon (the spawner kills them): clean up after them.
                record.State = State(Status="exited", ExitCode=255, StartedAt=record.State.StartedAt,
                                     FinishedAt=clock.rfc3339(), Error="the engine stopped while the container ran")
                self._clear_network_settings(record)
                record.save(self.root)
                if record.HostConfig.get("AutoRemove"):
                    auto_removed.append(record)  # --rm: it would have been removed when it ended
                    continue
            container = ManagedContainer(record)
            self._register(container)
            self.health.restore(container)
            restored.append(container)
        for record in auto_removed:
            shutil.rmtree(record.directory(self.root), ignore_errors=True)
            self._remove_anonymous_volumes(record)
        return restored

    def _cleanup_dead_run(self, container_id: str) -> None:
        """The cgroup of a container whose processes died with the previous daemon."""
        if not re.fullmatch(r"[0-9a-f]{64}", container_id):
            return  # not a container's directory: no cgroup has its name
        cgroup = cgroups.open_cgroup(container_id)
        if cgroup.exists():
            try:
                cgroup.destroy()
            except OSError as e:  # CgroupError too: the daemon still starts, and its log names the cgroup
                log.warning("container %s: cannot remove the cgroup of its previous run: %s", container_id[:12], e)

    # ------------------------------------------------------------------
    # create

    async def create(self, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        config_in = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        host_in = body.get("HostConfig") or {}
        networking = body.get("NetworkingConfig") or {}
        if not config_in.get("Image"):
            raise InvalidArgument("No image was specified")
        if name:
            name = names.check(name)
            self._check_name_free(name)
        host_config = createconfig.fill_host_config(host_in)
        # Checked before the image is looked up, as Docker does: a bad flag is a 400, never a pull.
        warnings = createconfig.validate_request(config_in, host_config, remapped=self.engine.remap is not None,
                                                 networking=networking)
        image = await self.engine.images.find_for_run(config_in["Image"])
        config = createconfig.merge_image_config(config_in, image.config.get("config") or {})
        path, args = createconfig.command(config)
        self._resolve_container_modes(host_config)

        container_id = secrets.token_hex(32)
        name = name or names.generate(self._by_name)
        if not config.get("Hostname"):
            config["Hostname"] = container_id[:12]
        if "host" in (host_config["NetworkMode"], host_config["UTSMode"]) and not body.get("Hostname"):
            config["Hostname"] = os.uname().nodename  # the host's UTS namespace (or its network): its name
        networking = self._links_on_user_network(host_config, networking)
        host_config["Links"] = self._normalize_links(host_config.get("Links"), name)
        record = ContainerRecord(
            Id=container_id, Name="/" + name, Created=clock.rfc3339(), Image=image.id,
            ImageName=config_in["Image"], Path=path, Args=args, Config=config, HostConfig=host_config,
        )
        record.NetworkSettings = self._initial_network_settings(host_config, networking)
        directory = record.directory(self.root)
        self._check_name_free(name)  # again: another create may have taken it while this one awaited
        os.makedirs(directory)
        container = ManagedContainer(record)
        self._register(container)  # the name is taken from here on
        try:
            await asyncio.to_thread(self._prepare_directory, record, image)
            record.MountPoints = await asyncio.to_thread(
                mounts.plan, config, host_config, self.engine.volumes, self._mount_points_to_share
            )
            record.save(self.root)
        except BaseException:
            self._forget(container)
            await asyncio.to_thread(shutil.rmtree, directory, True)
            raise
        self.publish(record, "create")
        return {"Id": container_id, "Warnings": warnings}

    def _mount_points_to_share(self, ref: str) -> list[dict[str, Any]]:
        """The mount points ``--volumes-from ref`` copies.  An unknown container is a 400, as in
        Docker (a 404 from create would make the CLI try to pull an image)."""
        try:
            return self.get(ref).record.MountPoints
        except NotFound as e:
            raise InvalidArgument(e.message) from None

    def _resolve_container_modes(self, host_config: dict[str, Any]) -> None:
        """``--network/--pid/--ipc container:NAME`` are kept as ``container:<id>``, as Docker does.

        An unknown container (or network) is no error yet: like Docker, the
        container is created, and starting it fails.
        """
        for key in ("NetworkMode", "PidMode", "IpcMode"):
            mode = host_config.get(key) or ""
            if mode.startswith("container:"):
                with contextlib.suppress(NotFound):
                    host_config[key] = "container:" + self.get(mode.partition(":")[2]).id

    @staticmethod
    def _links_on_user_network(host_config: dict[str, Any], networking: dict[str, Any]) -> dict[str, Any]:
        """``--link`` with a user-defined ``--network``: moved to that network's endpoint, as Docker does.

        There a link is no /etc/hosts line and no variables, only a DNS alias
        that the embedded resolver answers for this container alone.  Docker
        keeps it as given (``NAME[:ALIAS]``, the target need not exist yet) in
        ``NetworkSettings.Networks[NET].Links``, and ``HostConfig.Links`` is null.
        """
        mode = host_config.get("NetworkMode") or "default"
        links = host_config.get("Links")
        if not links or mode in ("default", "bridge", "host", "none") or mode.startswith("container:"):
            return networking
        endpoints = dict(networking.get("EndpointsConfig") or {})
        endpoint = dict(endpoints.get(mode) or {})
        # The docker CLI sends them in both places; compose only in HostConfig.
        endpoint["Links"] = list(dict.fromkeys([*(endpoint.get("Links") or []), *links]))
        endpoints[mode] = endpoint
        host_config["Links"] = None
        return {**networking, "EndpointsConfig": endpoints}

    def _normalize_links(self, links: list[str] | None, name: str) -> list[str] | None:
        """``--link NAME[:ALIAS]`` kept as Docker keeps it: ``/NAME:/THIS/ALIAS``.

        The linked container must exist now (it must be running at start).
        An unknown one is a 400, as in Docker, not a 404 that would make the
        CLI try to pull an image.
        """
        if not links:
            return None
        normalized = []
        for link in links:
            target, _, alias = link.partition(":")
            try:
                child = self.get(target)
            except NotFound as e:
                raise InvalidArgument(f"could not get container for {target}: {e.message}") from None
            normalized.append(f"/{child.record.name}:/{name}/{(alias or target).lstrip('/')}")
        return normalized

    def _linked(self, record: ContainerRecord) -> list[tuple[str, ContainerRecord]]:
        """(alias, linked container's record) of each ``--link``; each must be running."""
        linked = []
        for link in record.HostConfig.get("Links") or []:
            child_name, _, link_name = link.partition(":")
            alias = link_name.rpartition("/")[2]
            child = self.get(child_name)
            if not child.running:
                raise Conflict(f"Cannot link to a non running container: {child_name} AS {link_name}")
            linked.append((alias, child.record))
        return linked

    def _prepare_directory(self, record: ContainerRecord, image) -> None:
        """The container's directory: its overlay's upper and work dirs, and its "init" layer.

        The init layer (as Docker's "-init" layer) holds empty files and
        directories where the runtime mounts things -- /etc/hosts,
        /etc/hostname, /etc/resolv.conf, /proc, /sys, /dev -- so that they are
        neither missing from an image that lacks them nor counted as the
        container's own changes by ``docker diff`` and ``docker commit``.
        """
        directory = record.directory(self.root)
        for sub in ("upper", "work", "rootfs"):
            os.mkdir(os.path.join(directory, sub), 0o755)
        init = os.path.join(directory, "init")
        for sub in ("etc", "dev", "dev/pts", "dev/shm", "proc", "sys"):
            os.makedirs(os.path.join(init, sub), 0o755, exist_ok=True)
        for empty in (".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "dev/console"):
            mode = 0o755 if empty in (".dockerenv", "dev/console") else 0o644
            with open(os.path.join(init, empty), "w"):
                pass
            os.chmod(os.path.join(init, empty), mode)
        os.symlink("/proc/mounts", os.path.join(init, "etc/mtab"))
        for name in ("hostname", "hosts", "resolv.conf"):
            with open(os.path.join(directory, name), "w"):
                pass
        open(os.path.join(directory, f"{record.Id}-json.log"), "w").close()
        self.engine.images.store.lowerdirs(image.id)  # unpack the layers now, not at first start

    # ------------------------------------------------------------------
    # networks in the record

    def _network_names(self, record: ContainerRecord) -> list[str]:
        """The networks to join at start: the NetworkMode's first, then those added by ``network connect``."""
        return list(record.NetworkSettings.get("Networks") or {})

    def _initial_network_settings(self, host_config: dict[str, Any], networking: dict[str, Any]) -> dict[str, Any]:
        mode = host_config.get("NetworkMode") or "default"
        networks: dict[str, Any] = {}
        if not mode.startswith("container:"):
            primary = "bridge" if mode == "default" else mode
            requested = (networking.get("EndpointsConfig") or {})
            for name in [primary, *[n for n in requested if n not in (primary, "default")]]:
                settings = requested.get(name) or requested.get("default") or {}
                networks[name] = self._blank_endpoint(settings)
        return {
            "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": {}, "SandboxKey": "", "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": networks,
        }

    @staticmethod
    def _blank_endpoint(settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "IPAMConfig": settings.get("IPAMConfig"), "Links": settings.get("Links"), "Aliases": settings.get("Aliases"),
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": settings.get("MacAddress") or "",
            "DriverOpts": settings.get("DriverOpts"),
        }

    def _clear_network_settings(self, record: ContainerRecord) -> None:
        settings = record.NetworkSettings
        for key in ("Bridge", "SandboxID", "SandboxKey", "EndpointID", "Gateway", "IPAddress", "MacAddress"):
            settings[key] = ""
        settings["IPPrefixLen"] = 0
        settings["Ports"] = {}
        for name, endpoint in (settings.get("Networks") or {}).items():
            # A MAC made from the address goes with the interface; one the client asked for stays,
            # for the next start (the address, and the MAC made from it, may then differ).
            made = endpoint.get("IPAddress") and ipam.mac_address(IPv4Address(endpoint["IPAddress"]))
            kept = endpoint.get("MacAddress") if endpoint.get("MacAddress") != made else ""
            settings["Networks"][name] = self._blank_endpoint({**endpoint, "MacAddress": kept})

    # ------------------------------------------------------------------
    # start

    async def start(self, ref: str) -> None:
        container = self.get(ref)
        async with container.lock:
            if container.running:
                raise NotModified("container already started")
            if container.record.State.Status == "removing":
                raise Conflict(f"container {container.id} is marked for removal and cannot be started")
            await self._start(container)

    async def _start(self, container: ManagedContainer) -> None:
        record = container.record
        loop = asyncio.get_running_loop()
        exited: asyncio.Future = loop.create_future()

        def on_exit(status: int) -> None:  # called from the spawner's reader thread
            loop.call_soon_threadsafe(lambda: exited.done() or exited.set_result(status))

        try:
            run, output_fds, stdin_fd = await asyncio.to_thread(self._launch, container, exited, on_exit)
        except ContainerStartError as e:
            error = _start_error(e)
            await self._start_failed(container, e.exit_code if e.exit_code in (126, 127) else 128, error.message)
            raise error from None
        except errors.NbdockError as e:
            await self._start_failed(container, 128, e.message)
            raise
        except Exception as e:
            await self._start_failed(container, 128, str(e))
            raise errors.HostError(f"failed to start container {record.short_id}: {e}") from None

        def sink(stream: str, data: bytes) -> None:
            container.listeners.publish(stream, data)
            run.log.write(stream, data)  # `docker logs -f` reads the file on as it grows

        run.pump = OutputPump(output_fds, sink, container.listeners)  # paused while an attached client is behind
        if stdin_fd is not None:
            run.stdin = StdinPump(stdin_fd, container.listeners.stdin)
        container.run = run
        record.State = State(Status="running", Running=True, Pid=run.started.pid, StartedAt=clock.rfc3339())
        record.ManualStop = False
        record.save(self.root)
        self.publish(record, "start")
        self.health.started(container)
        container.supervisor = loop.create_task(self._supervise(container, run))

    def _launch(self, container: ManagedContainer, exited: asyncio.Future, on_exit):
        """Blocking: everything the kernel must do to start the container (runs in a worker thread)."""
        record = container.record
        directory = record.directory(self.root)
        trace = Trace(os.path.join(directory, "trace.jsonl"))
        trace.emit("process", "start", container=record.Id, image=record.ImageName)
        network = self.engine.networks
        endpoints: list[Endpoint] = []
        runtime: RuntimeContainer | None = None
        pipes = StdioPipes()  # none yet; all closed on failure
        try:
            spec, resources, endpoints = self._build_spec(record, trace)
            runtime = RuntimeContainer(spec, self.engine.spawner, trace)
            runtime.create(resources)
            open_stdin = bool(record.Config.get("OpenStdin"))
            pipes = StdioPipes.open(stdin=open_stdin, tty=bool(record.Config.get("Tty")))

            def before_go(pid: int) -> None:
                netns = f"/proc/{pid}/ns/net"
                if spec.namespaces.get("net") == "new":
                    network.setup_loopback(netns, trace=trace)
                    for endpoint in endpoints:
                        network.plug(endpoint, netns, trace=trace)
                    if endpoints:
                        ports = network.publish(
                            record.Id, endpoints[0], record.HostConfig.get("PortBindings"),
                            (record.Config.get("ExposedPorts") or {}).keys(), bool(record.HostConfig.get("PublishAllPorts")),
                            trace=trace,
                        )
                        record.NetworkSettings["Ports"] = ports

            started = runtime.start(pipes.stdio, on_exit, before_go)
            pipes.close_theirs()
            pipes.use_console(started.console, stdin=open_stdin)
            self._fill_network_settings(record, endpoints)
            log_writer = logs.LogWriter(os.path.join(directory, f"{record.Id}-json.log"),
                                        logs.log_options((record.HostConfig.get("LogConfig") or {}).get("Config")))
            run = Run(runtime, started, trace, log_writer, endpoints, exited)
            return run, pipes.output_fds, pipes.stdin_fd
        except BaseException:
            pipes.close_all()
            self._teardown_network(record, endpoints, trace)
            if runtime is not None:
                with contextlib.suppress(Exception):
                    runtime.delete()
            trace.close()
            raise

    def _build_spec(self, record: ContainerRecord, trace: Trace) -> tuple[ContainerSpec, Resources, list[Endpoint]]:
        """The runtime's spec for this container, and its network endpoints (addresses reserved)."""
        directory = record.directory(self.root)
        config, host = record.Config, record.HostConfig
        lowerdirs = self.lowerdirs(record)
        # What can refuse to start comes before the network reserves anything.
        namespaces_ = {"mnt": "new", "net": "new", **self._shared_namespaces(host)}
        linked = self._linked(record)
        sysctls = createconfig.sysctls(host)
        mode = host.get("NetworkMode") or "default"
        endpoints: list[Endpoint] = []
        network = self.engine.networks
        if mode == "host":
            namespaces_["net"] = "host"
            endpoints = [network.connect("host", record.Id, name=record.name, trace=trace)]
        elif mode.startswith("container:"):
            other = self.get(mode.partition(":")[2])
            if not other.running:
                raise Conflict(f"cannot join network of a non running container: {other.id}")
            namespaces_["net"] = f"/proc/{other.run.started.pid}/ns/net"
            # The network namespace's owner names it: its hostname is ours too (Docker's rule).
            config["Hostname"] = other.record.Config.get("Hostname") or ""
            config["Domainname"] = other.record.Config.get("Domainname") or ""
        else:
            aliases_for = record.NetworkSettings.get("Networks") or {}
            try:
                for index, network_name in enumerate(self._network_names(record)):
                    settings = aliases_for.get(network_name) or {}
                    ipam = settings.get("IPAMConfig") or {}
                    # --mac-address (Config.MacAddress) is the first network's; an endpoint may ask for its own.
                    mac = settings.get("MacAddress") or (config.get("MacAddress") if index == 0 else None)
                    endpoints.append(network.connect(
                        network_name, record.Id, name=record.name, aliases=settings.get("Aliases") or (),
                        links=settings.get("Links") or (), ip=ipam.get("IPv4Address") or None, mac=mac or None,
                        trace=trace,
                    ))
            except BaseException:
                self._teardown_network(record, endpoints, trace)  # the networks joined before the one that failed
                raise
        hostname = config.get("Hostname") or record.short_id
        if mode.startswith("container:"):
            other_dir = other.record.directory(self.root)
            shutil.copyfile(os.path.join(other_dir, "hosts"), os.path.join(directory, "hosts"))
            shutil.copyfile(os.path.join(other_dir, "resolv.conf"), os.path.join(directory, "resolv.conf"))
        else:
            _write(os.path.join(directory, "hosts"), network.hosts_file(
                hostname, endpoints, host.get("ExtraHosts") or (), domainname=config.get("Domainname") or "",
                links=[links.hosts_entry(alias, child) for alias, child in linked]))
            _write(os.path.join(directory, "resolv.conf"), network.resolv_conf(
                endpoints, dns=host.get("Dns") or (), dns_search=host.get("DnsSearch") or (),
                dns_options=host.get("DnsOptions") or ()))
        _write(os.path.join(directory, "hostname"), hostname + "\n")

        mount_specs = []
        if host.get("IpcMode") == "host":
            mount_specs.append(Mount("/dev/shm", "bind", "/dev/shm"))  # the host's POSIX shared memory too
        for point in record.MountPoints:
            if point["Type"] == "tmpfs":
                mount_specs.append(Mount(point["Destination"], "tmpfs", readonly=not point["RW"], data=point.get("TmpfsOptions", "")))
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
            capabilities=capabilities.container_set(host.get("CapAdd") or (), host.get("CapDrop") or (), bool(host.get("Privileged"))),
            seccomp=createconfig.seccomp_profile(host),
        )
        spec = ContainerSpec(
            id=record.Id,
            rootfs=Rootfs(lowerdirs, os.path.join(directory, "upper"), os.path.join(directory, "work"),
                          os.path.join(directory, "rootfs"), readonly=bool(host.get("ReadonlyRootfs"))),
            process=process,
            hostname=hostname,
            domainname=config.get("Domainname") or "",
            sysctls=sysctls,
            namespaces=namespaces_,
            mounts=mount_specs,
            etc_files={"/etc/hostname": os.path.join(directory, "hostname"), "/etc/hosts": os.path.join(directory, "hosts"),
                       "/etc/resolv.conf": os.path.join(directory, "resolv.conf")},
            masked_paths=list(host.get("MaskedPaths") or []),
            readonly_paths=list(host.get("ReadonlyPaths") or []),
            shm_size=host.get("ShmSize") or createconfig.DEFAULT_SHM_SIZE,
        )
        if self.engine.remap is not None:  # --userns-remap: a user namespace, files given to its root (remap.py)
            self.engine.remap.apply(spec, directory, host, record.MountPoints, self.engine.images.store, record.Image)
        return spec, _resources(host), endpoints

    def _shared_namespaces(self, host: dict[str, Any]) -> dict[str, str]:
        """The pid, ipc and uts namespaces: new ones, the host's (``--pid host``), or another
        running container's (``--pid container:NAME``), as the runtime's spec names them."""
        namespaces_ = {}
        for kind, key in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode")):
            mode = host.get(key) or ""
            if mode == "host":
                namespaces_[kind] = "host"
            elif mode.startswith("container:"):
                other = self.get(mode.partition(":")[2])
                if not other.running:  # Docker's two wordings
                    raise Conflict(f"cannot join IPC of a non running container: {other.id}" if kind == "ipc"
                                   else f"container {other.id} is not running")
                if kind == "ipc" and other.record.HostConfig.get("IpcMode") != "shareable":
                    raise InvalidArgument(f"can't join IPC of container {other.id}: non-shareable IPC "
                                          "(hint: use IpcMode:shareable for the donor container)")
                namespaces_[kind] = f"/proc/{other.run.started.pid}/ns/{kind}"
            else:
                namespaces_[kind] = "new"
        if host.get("CgroupnsMode") == "private":
            # A cgroup namespace of its own (v2's default anyway, see runtime/container.py): the
            # container's cgroup is "/" in its /proc/self/cgroup.
            namespaces_["cgroup"] = "new"
        return namespaces_

    def _fill_network_settings(self, record: ContainerRecord, endpoints: list[Endpoint]) -> None:
        settings = record.NetworkSettings
        networks = settings.setdefault("Networks", {})
        for endpoint in endpoints:
            view = endpoint.to_api()
            previous = networks.get(endpoint.network_name) or {}
            # What the client asked for stays as it asked (driver options are the driver's business).
            for key in ("IPAMConfig", "Links", "DriverOpts"):
                view[key] = previous.get(key)
            networks[endpoint.network_name] = view
        if endpoints and endpoints[0].ip_address:
            first = endpoints[0]
            settings.update({
                "Bridge": "", "SandboxKey": f"/proc/{record.State.Pid}/ns/net", "EndpointID": first.endpoint_id,
                "Gateway": first.gateway or "", "IPAddress": first.ip_address, "IPPrefixLen": first.prefix_len,
                "MacAddress": first.mac_address or "",
            })

    def _teardown_network(self, record: ContainerRecord, endpoints: list[Endpoint], trace: Trace) -> None:
        network = self.engine.networks
        with contextlib.suppress(Exception):
            network.unpublish(record.Id, trace=trace)
        for endpoint in endpoints:
            try:
                network.disconnect(endpoint.network_name, record.Id, trace=trace)
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                log.warning("disconnecting %s from %s: %s", record.short_id, endpoint.network_name, e)

    async def _start_failed(self, container: ManagedContainer, exit_code: int, message: str) -> None:
        record = container.record
        record.State.ExitCode = exit_code
        record.State.Error = message
        record.save(self.root)
        if record.HostConfig.get("AutoRemove"):
            await self._remove(container, remove_volumes=True)

    # ------------------------------------------------------------------
    # while it runs, and when it ends

    async def _supervise(self, container: ManagedContainer, run: Run) -> None:
        status = await run.exited
        self.health.halted(container)
        run.pump.unthrottle()  # what is left in the pipes goes to the log, however slow a client
        try:
            await asyncio.wait_for(run.pump.done.wait(), OUTPUT_DRAIN_TIMEOUT)
        except asyncio.TimeoutError:
            run.pump.abandon()
        record = container.record
        exit_code = exit_code_from_status(status)
        oom_killed = False
        with contextlib.suppress(Exception):
            oom_killed = (await asyncio.to_thread(run.runtime.cgroup.stats)).oom_kills > 0
        await asyncio.to_thread(self._release_run, record, run)
        run.log.flush()
        run.log.close()  # ends every `docker logs -f` once it has read the rest
        if run.stdin is not None:
            run.stdin.stop()
        container.run = None
        record.State = State(Status="exited", ExitCode=exit_code, OOMKilled=oom_killed, StartedAt=record.State.StartedAt,
                             FinishedAt=clock.rfc3339())
        self._clear_network_settings(record)
        record.save(self.root)
        if oom_killed:
            self.publish(record, "oom")
        self.publish(record, "die", exitCode=str(exit_code))
        container.listeners.end()
        container.exits += 1
        await container.notify()
        if self._should_restart(container, exit_code):
            container.restart_task = asyncio.get_running_loop().create_task(self._restart_later(container))
        elif record.HostConfig.get("AutoRemove"):
            async with container.lock:
                if not container.removed:
                    await self._remove(container, remove_volumes=True)

    def _release_run(self, record: ContainerRecord, run: Run) -> None:
        self._teardown_network(record, run.endpoints, run.trace)
        try:
            run.runtime.delete()
        except Exception as e:  # noqa: BLE001
            log.warning("removing the cgroup of %s: %s", record.short_id, e)
        run.runtime.release()
        run.trace.emit("process", "exited", container=record.Id)
        run.trace.close()

    # ------------------------------------------------------------------
    # restart policies

    def _should_restart(self, container: ManagedContainer, exit_code: int) -> bool:
        record = container.record
        policy = record.HostConfig.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if record.ManualStop or container.removed or self.engine.shutting_down:
            return False
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure" and exit_code != 0:
            limit = policy.get("MaximumRetryCount") or 0
            return not limit or record.RestartCount < limit
        return False

    async def _restart_later(self, container: ManagedContainer) -> None:
        # Docker waits 100 ms, doubling after each quick failure; a simple version of that back-off.
        delay = min(0.1 * (2 ** min(container.record.RestartCount, 8)), 60)
        # Docker counts a container waiting to restart as running (and restarting).
        container.record.State.Running = container.record.State.Restarting = True
        container.record.State.Status = "restarting"
        await asyncio.sleep(delay)
        async with container.lock:
            if container.removed or container.running or container.record.ManualStop:
                return
            container.record.RestartCount += 1
            try:
                await self._start(container)
            except errors.NbdockError as e:
                log.warning("restarting %s failed: %s", container.record.short_id, e)
                state = container.record.State
                state.Running = state.Restarting = False
                state.Status = "exited"
                container.record.save(self.root)

    async def start_on_boot(self) -> None:
        """Start the containers whose policy says they should be running (always, unless-stopped)."""
        for container in self.all():
            policy = (container.record.HostConfig.get("RestartPolicy") or {}).get("Name")
            if policy == "always" or (policy == "unless-stopped" and not container.record.ManualStop):
                with contextlib.suppress(errors.NbdockError):
                    await self.start(container.id)

    # ------------------------------------------------------------------
    # wait, stop, kill, restart, pause

    def check_wait(self, ref: str, condition: str) -> ManagedContainer:
        """What ``wait`` will refuse, refused now (the daemon must know before it answers its headers)."""
        container = self.get(ref)
        if condition not in WAIT_CONDITIONS:
            raise InvalidArgument(f"invalid condition: {condition}")
        return container

    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        container = self.check_wait(ref, condition)
        async with container.changed:
            if condition == "removed":
                await container.changed.wait_for(lambda: container.removed)
            elif condition == "next-exit":
                seen = container.exits
                await container.changed.wait_for(lambda: container.exits > seen or container.removed)
            elif container.running:
                seen = container.exits
                await container.changed.wait_for(lambda: container.exits > seen or container.removed)
        state = container.record.State
        if container.removed:
            return {"StatusCode": state.ExitCode, "Error": None}  # Docker clears the error of a removed container
        return {"StatusCode": state.ExitCode, "Error": {"Message": state.Error} if state.Error else None}

    async def _wait_exit(self, container: ManagedContainer, timeout: float | None) -> bool:
        run = container.run
        if run is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(run.exited), timeout)
        except asyncio.TimeoutError:
            return False
        async with container.changed:
            await container.changed.wait_for(lambda: container.run is not run)
        return True

    async def stop(self, ref: str, timeout: int | None = None, signal_name: str | None = None) -> None:
        container = self.get(ref)
        async with container.lock:
            if not container.running:
                if self._cancel_pending_restart(container):
                    return
                raise NotModified("container already stopped")
            await self._stop(container, timeout, signal_name)

    def _cancel_pending_restart(self, container: ManagedContainer) -> bool:
        """Stopping a container that waits to be restarted: it stays exited.  Lock held."""
        task = container.restart_task
        if task is None or task.done():
            return False
        task.cancel()
        record = container.record
        record.ManualStop = True
        record.State.Running = record.State.Restarting = False
        record.State.Status = "exited"
        record.save(self.root)
        return True

    async def _stop(self, container: ManagedContainer, timeout: int | None, signal_name: str | None) -> None:
        record = container.record
        record.ManualStop = True
        if container.restart_task is not None:
            container.restart_task.cancel()
        stop_signal = parse_signal(signal_name or record.Config.get("StopSignal"), signal.SIGTERM)
        if timeout is None:
            timeout = record.Config.get("StopTimeout") or 10
        run = container.run
        self._send_signal(record, run, stop_signal)
        if timeout < 0 or not await self._wait_exit(container, timeout):
            # PID 1 ignores signals it has no handler for (the kernel's rule for namespace init
            # processes), so a `sleep` never dies of SIGTERM: SIGKILL cannot be ignored.
            if container.run is run:
                self._send_signal(record, run, signal.SIGKILL)
            await self._wait_exit(container, None)
        self.publish(record, "stop")

    def _send_signal(self, record: ContainerRecord, run: Run, number: int) -> None:
        """A signal to the container's PID 1, and the ``kill`` event Docker emits for each one
        (``docker stop`` shows ``kill 15``, then ``kill 9`` if the timeout passes, before ``die``)."""
        with contextlib.suppress(ProcessLookupError):
            run.runtime.kill(number)
        self.publish(record, "kill", signal=str(int(number)))

    async def kill(self, ref: str, number: int = signal.SIGKILL) -> None:
        container = self.get(ref)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if number == signal.SIGKILL:
            container.record.ManualStop = True
        with contextlib.suppress(ProcessLookupError):
            container.run.runtime.kill(number)
        self.publish(container.record, "kill", signal=str(number))
        if number == signal.SIGKILL:
            await self._wait_exit(container, None)

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        container = self.get(ref)
        async with container.lock:
            if container.running:
                await self._stop(container, timeout, None)
            await self._start(container)
        self.publish(container.record, "restart")

    async def update(self, ref: str, changes: dict[str, Any]) -> None:
        """``docker update``: new limits and restart policy, applied to the cgroup at once if it runs."""
        container = self.get(ref)
        createconfig.validate_update(changes)  # the request itself first
        async with container.lock:
            record = container.record
            try:
                host = _updated_host_config(record.HostConfig, changes)
                if container.running:
                    await asyncio.to_thread(container.run.runtime.cgroup.update, _resources(host))
            except errors.NbdockError as e:
                raise type(e)(f"Cannot update container {record.Id}: {e.message}") from None
            except OSError as e:
                raise errors.HostError(f"Cannot update container {record.Id}: {e}") from None
            record.HostConfig = host
            record.save(self.root)
        self.publish(record, "update")

    async def pause(self, ref: str) -> None:
        container = self.get(ref)
        async with container.lock:
            if not container.running:
                raise Conflict(f"Container {container.id} is not running")
            if container.record.State.Paused:
                raise Conflict(f"Container {container.id} is already paused")
            self.health.halted(container)
            try:
                await asyncio.to_thread(container.run.runtime.pause)
            except BaseException:
                self.health.resumed(container)
                raise
            container.record.State.Paused = True
            container.record.State.Status = "paused"
            container.record.save(self.root)
        self.publish(container.record, "pause")

    async def unpause(self, ref: str) -> None:
        container = self.get(ref)
        async with container.lock:
            if not container.record.State.Paused or not container.running:
                raise Conflict(f"Container {container.id} is not paused")
            await asyncio.to_thread(container.run.runtime.resume)
            container.record.State.Paused = False
            container.record.State.Status = "running"
            container.record.save(self.root)
            self.health.resumed(container)
        self.publish(container.record, "unpause")

    # ------------------------------------------------------------------
    # remove, rename, prune

    async def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        container = self.get(ref)
        async with container.lock:
            if container.removed:
                return
            # Docker counts a container waiting to be restarted by its policy as running too.
            waiting_to_restart = container.restart_task is not None and not container.restart_task.done()
            if container.running or waiting_to_restart:
                if not force:
                    state = container.record.State
                    word = "paused" if state.Paused else "restarting" if waiting_to_restart else "running"
                    procedure = "Stop the container before attempting removal or force remove"
                    if word == "paused":
                        procedure = "Unpause and then " + procedure.lower()
                    raise Conflict(f"You cannot remove a {word} container {container.id}. {procedure}")
                container.record.ManualStop = True
            if container.running:
                self._send_signal(container.record, container.run, signal.SIGKILL)
                await self._wait_exit(container, None)
            await self._remove(container, remove_volumes=volumes)

    async def remove_link(self, link_name: str) -> None:
        """``docker rm --link CONTAINER/ALIAS``: CONTAINER forgets its ``--link`` named ALIAS.

        Both containers stay; the link is gone from CONTAINER's HostConfig.Links,
        so its next start sets no variables or hosts entry for it.  (A running
        container keeps what it was given at its start, as in Docker.)
        """
        name = "/" + link_name.lstrip("/")
        owner_name, _, alias = name.rpartition("/")
        if not owner_name:
            raise Conflict("Conflict, cannot remove the default link name of the container")
        try:
            container = self.get(owner_name)
        except NotFound:
            raise NotFound(f"No such container: {link_name}") from None
        async with container.lock:
            record = container.record
            wanted = f"/{record.name}/{alias}"
            kept = [link for link in record.HostConfig.get("Links") or [] if link.partition(":")[2] != wanted]
            if len(kept) == len(record.HostConfig.get("Links") or []):
                raise NotFound(f"No such container: {link_name}")
            record.HostConfig["Links"] = kept or None
            record.save(self.root)

    async def _remove(self, container: ManagedContainer, *, remove_volumes: bool) -> None:
        """Delete a stopped container's directory and (with -v/--rm) its anonymous volumes.  Lock held."""
        record = container.record
        record.State.Status = "removing"
        if container.restart_task is not None:
            container.restart_task.cancel()
        await asyncio.to_thread(shutil.rmtree, record.directory(self.root), True)
        self._forget(container)
        self.health.forget(container.id)
        if remove_volumes:
            await asyncio.to_thread(self._remove_anonymous_volumes, record)
        container.removed = True
        self.publish(record, "destroy")
        await container.notify()

    def _remove_anonymous_volumes(self, record: ContainerRecord) -> None:
        """``rm -v`` and ``--rm``: the container's anonymous volumes that no other container uses."""
        for point in record.MountPoints:
            if point.get("Anonymous") and point.get("Name") and not self.using_volume(point["Name"]):
                with contextlib.suppress(errors.NbdockError):
                    self.engine.volumes.remove(point["Name"], users=[])

    async def rename(self, ref: str, new_name: str) -> None:
        if not ref or not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        container = self.get(ref)
        new_name = new_name.removeprefix("/")
        if new_name == container.record.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        try:
            names.check("/" + new_name)
            self._check_name_free(new_name)
        except (InvalidArgument, Conflict) as e:
            raise type(e)(f"Error when allocating new name: {e.message}") from None
        old = container.record.name
        del self._by_name[old]
        container.record.Name = "/" + new_name
        self._by_name[new_name] = container.id
        container.record.save(self.root)
        self.publish(container.record, "rename", oldName="/" + old)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        deleted, reclaimed = [], 0
        for container in self.all():
            record = container.record
            labels = record.Config.get("Labels") or {}
            if (container.running or not filtering.labels_match(labels, filters.get("label", []), filters.get("label!", []))
                    or not filtering.created_before(record.Created, filters.get("until", []))):
                continue
            reclaimed += await asyncio.to_thread(_dir_size, os.path.join(container.record.directory(self.root), "upper"))
            await self.remove(container.id)
            deleted.append(container.id)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ------------------------------------------------------------------
    # networks after create: docker network connect / disconnect

    async def connect_network(self, network_ref: str, container_ref: str, endpoint_config: dict[str, Any]) -> None:
        """Attach a container to one more network: now if it runs, at its next start otherwise."""
        container = self.get(container_ref)
        network = await asyncio.to_thread(self.engine.networks.get, network_ref)
        name = network["Name"]
        record = container.record
        mode = record.HostConfig.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:") or name in ("host", "none"):
            raise errors.Forbidden("container cannot be disconnected from host network or connected to host network"
                                   if "host" in (mode, name) else "container sharing network namespace with another "
                                   "container or host cannot be connected to any other network")
        async with container.lock:
            networks = record.NetworkSettings.setdefault("Networks", {})
            if name in networks:
                raise errors.Forbidden(f"endpoint with name {record.name} already exists in network {name}")
            networks[name] = self._blank_endpoint(endpoint_config)
            if container.running:
                run = container.run
                ipam = endpoint_config.get("IPAMConfig") or {}

                def plug() -> Endpoint:
                    endpoint = self.engine.networks.connect(
                        name, record.Id, name=record.name, aliases=endpoint_config.get("Aliases") or (),
                        links=endpoint_config.get("Links") or (), ip=ipam.get("IPv4Address") or None,
                        mac=endpoint_config.get("MacAddress") or None, trace=run.trace)
                    try:
                        self.engine.networks.plug(endpoint, f"/proc/{run.started.pid}/ns/net", trace=run.trace)
                    except BaseException:
                        self.engine.networks.disconnect(name, record.Id, trace=run.trace)
                        raise
                    return endpoint

                try:
                    endpoint = await asyncio.to_thread(plug)
                except BaseException:
                    del networks[name]
                    raise
                run.endpoints.append(endpoint)
                self._fill_network_settings(record, [endpoint])
            record.save(self.root)
        self.engine.events.publish("network", "connect", network["Id"], {"container": record.Id, "name": name, "type": "bridge"})

    async def disconnect_network(self, network_ref: str, container_ref: str, force: bool = False) -> None:
        container = self.get(container_ref)
        network = await asyncio.to_thread(self.engine.networks.get, network_ref)
        name = network["Name"]
        record = container.record
        async with container.lock:
            networks = record.NetworkSettings.get("Networks") or {}
            if name not in networks:
                raise errors.Forbidden(f"container {record.Id} is not connected to network {name}")
            if container.running:
                run = container.run
                endpoint = next((e for e in run.endpoints if e.network_name == name), None)
                if endpoint is not None:
                    if endpoint is run.endpoints[0]:
                        await asyncio.to_thread(self.engine.networks.unpublish, record.Id, trace=run.trace)
                    await asyncio.to_thread(self.engine.networks.disconnect, name, record.Id, trace=run.trace)
                    run.endpoints.remove(endpoint)
            del networks[name]
            record.save(self.root)
        self.engine.events.publish("network", "disconnect", network["Id"], {"container": record.Id, "name": name, "type": "bridge"})

    # ------------------------------------------------------------------
    # reading: inspect, list, logs

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        container = self.get(ref)
        record = container.record
        view = record.to_inspect(self.root)
        # The overlay's read-only part, top-most first: the init layer, then the image's layers.
        view["GraphDriver"]["Data"]["LowerDir"] = ":".join(self.lowerdirs(record))
        health = self.health.inspect(container.id)
        if health is not None:
            view["State"]["Health"] = health
        if size:
            view.update(self._sizes(container.record))
        return view

    def list(self, *, all: bool = False, filters: dict[str, list[str]] | None = None, limit: int = -1,
             size: bool = False) -> list[dict[str, Any]]:
        filters = filters or {}
        _check_filter_values(filters)
        window = tuple(self.get(filters[key][0]).record.Created if filters.get(key) else ""
                       for key in ("since", "before"))
        chosen = [c for c in self.all() if (all or c.running or "status" in filters or "exited" in filters)]
        chosen = [c for c in chosen if _matches(c, filters, window, self.health.filter_value(c.id))]
        chosen.sort(key=lambda c: c.record.Created, reverse=True)
        if limit is not None and limit > 0:
            chosen = chosen[:limit]
        result = []
        for container in chosen:
            summary = container.record.to_summary()
            summary["Status"] = status_line(summary["Status"], container.record.State, self.health.get(container.id))
            if size:
                summary.update(self._sizes(container.record))
            result.append(summary)
        return result

    def _sizes(self, record: ContainerRecord) -> dict[str, int]:
        """SizeRw (the container's own changes) and SizeRootFs (those plus its image's layers)."""
        size_rw = _dir_size(os.path.join(record.directory(self.root), "upper"))
        return {"SizeRw": size_rw, "SizeRootFs": size_rw + self.engine.images.store.get(record.Image).size}

    async def logs(self, ref: str, *, follow: bool = False, tail: int | None = None, since: float = 0,
                   until: float = 0) -> AsyncIterator[list[logs.LogEntry]]:
        """The container's log entries, a batch at a time, then (with follow) new ones until it stops."""
        container = self.get(ref)
        record = container.record
        path = os.path.join(record.directory(self.root), f"{container.id}-json.log")
        run = container.run
        if run is not None:
            options = run.log.options
        else:
            try:
                options = logs.log_options((record.HostConfig.get("LogConfig") or {}).get("Config"))
            except errors.NbdockError:
                options = logs.LogOptions()  # a record from before the options were checked
        # Opened here, on the event loop that runs the writer: the history ends where following starts.
        reader = logs.LogReader(path, options, run.log if run is not None else None)
        try:
            async for batch in reader.history(tail=tail, since=since, until=until):
                yield batch
            if follow and not until:
                async for batch in reader.follow(since=since):
                    yield batch
        finally:
            reader.close()

    # ------------------------------------------------------------------
    # helpers

    def publish(self, record: ContainerRecord, action: str, **extra: str) -> None:
        """A container event, with the attributes Docker gives them: image, name, the labels, ``extra``."""
        attributes = {"image": record.ImageName, "name": record.name, **(record.Config.get("Labels") or {}), **extra}
        self.engine.events.publish("container", action, record.Id, attributes)

    def runtime_of(self, ref: str) -> RuntimeContainer:
        container = self.get(ref)
        if container.run is None:
            raise Conflict(f"Container {container.id} is not running")
        return container.run.runtime

    def namespaces(self, ref: str) -> list[dict[str, Any]]:
        container = self.get(ref)
        if container.run is None:
            raise Conflict(f"Container {container.id} is not running")
        return namespaces.compare_with_host(container.run.started.pid)

    async def shutdown(self) -> None:
        """Stop every running container: SIGTERM (or its stop signal), SIGKILL after its timeout."""
        running = [c for c in self.all() if c.running]
        supervisors = [c.supervisor for c in running if c.supervisor is not None]
        await asyncio.gather(*(self._stop_for_shutdown(c) for c in running), return_exceptions=True)
        # Each run's end is handled in full (logs flushed, --rm containers removed) before the engine goes.
        await asyncio.gather(*supervisors, return_exceptions=True)

    async def _stop_for_shutdown(self, container: ManagedContainer) -> None:
        async with container.lock:
            if container.running:
                await self._stop(container, None, None)
                container.record.ManualStop = False  # a daemon restart is not the user's stop


def _updated_host_config(host: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
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


def _resources(host: dict[str, Any]) -> Resources:
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


def _start_error(error: ContainerStartError) -> errors.NbdockError:
    """The API error for a process that could not start; its wording decides the CLI's exit code.

    A command that cannot run (126, 127) is reported in the words Docker 20.10
    relays from containerd and runc; the CLI looks for "executable file not
    found", "no such file or directory" or "permission denied" in them.
    """
    if error.exit_code == 127:
        return errors.CommandNotFound(runtime_error_message("create", error))
    if error.exit_code == 126:
        return errors.CommandNotExecutable(runtime_error_message("create", error))
    return errors.InvalidArgument(str(error))


def runtime_error_message(operation: str, error: Exception) -> str:
    """Docker's wording of a runc failure to start a container's ("create") or an exec's ("exec") process."""
    if operation == "create":
        return f"failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: {error}: unknown"
    return f"OCI runtime exec failed: exec failed: unable to start container process: {error}: unknown"


def _write(path: str, content: str) -> None:
    """Rewrite a file *in place*: it may be bind-mounted into a container, and a rename would
    swap the inode out from under that mount."""
    with open(path, "w") as f:
        f.write(content)


def _dir_size(path: str) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


#: The values ``docker ps --filter status=`` accepts.
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def _check_filter_values(filters: dict[str, list[str]]) -> None:
    """Docker's errors for filter values that can never match."""
    for status in filters.get("status", []):
        if status not in STATUSES:
            raise InvalidArgument(f"Invalid filter 'status={status}'")
    for health in filters.get("health", []):
        if health not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidArgument(f"Unrecognised filter value for health: {health}")
    for code in filters.get("exited", []):
        if not code.lstrip("-").isdigit():
            raise InvalidArgument(f"invalid exit code filter: {code!r} is not an integer")


def _matches(container: ManagedContainer, filters: dict[str, list[str]],
             created_between: tuple[str, str], health: str) -> bool:
    """``docker ps --filter``: each filter given must match one of its values (labels: all of them).

    ``created_between`` is the (since, before) window the since= and before=
    filters set, as Created times ("" for no bound); ``health`` is the container's
    health status (starting, healthy, unhealthy, or none).
    """
    record = container.record
    since, before = created_between
    if (since and record.Created <= since) or (before and record.Created >= before):
        return False
    checks = {
        # Names are matched as regular expressions, with and without the leading "/".
        "name": lambda v: re.search(v, record.Name) or re.search(v, record.name),
        "id": lambda v: record.Id.startswith(v),
        "status": lambda v: record.State.Status == v,
        "exited": lambda v: (not record.State.Running and record.State.StartedAt != clock.ZERO_TIME
                             and record.State.ExitCode == int(v)),
        "ancestor": lambda v: _is_ancestor(record, v),
        "volume": lambda v: any(m.get("Name") == v or m.get("Destination") == v for m in record.MountPoints),
        "network": lambda v: any(v in (name, (endpoint or {}).get("NetworkID"))
                                 for name, endpoint in (record.NetworkSettings.get("Networks") or {}).items()),
        "expose": lambda v: _port_key(v) in (record.Config.get("ExposedPorts") or {}),
        "publish": lambda v: _port_key(v) in (record.NetworkSettings.get("Ports") or {}) and
                             bool(record.NetworkSettings["Ports"][_port_key(v)]),
        "health": lambda v: v == health,
        "is-task": lambda v: v.lower() in ("false", "0"),
        "isolation": lambda v: v == "default",
    }
    for key, values in filters.items():
        if key in checks and values and not any(checks[key](v) for v in values):
            return False
    return filtering.labels_match(record.Config.get("Labels") or {}, filters.get("label", []), filters.get("label!", []))


def _port_key(value: str) -> str:
    """"80" or "80/udp" as the key of ExposedPorts and Ports ("80/tcp")."""
    return value if "/" in value else f"{value}/tcp"


def _is_ancestor(record: ContainerRecord, wanted: str) -> bool:
    if record.Image == wanted or record.Image.removeprefix("sha256:").startswith(wanted.removeprefix("sha256:")):
        return True
    with contextlib.suppress(Exception):
        return reference.normalize(record.ImageName) == reference.normalize(wanted)
    return False
