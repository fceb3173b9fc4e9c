"""A container's life: create, start, supervise, restart, stop, kill, pause, update, remove.

The runtime (nbdock/runtime) knows how to make a process inside namespaces
and a cgroup.  This module adds everything a user of ``docker`` expects on
top: names, images, logs, attached clients, volumes, networks, restart
policies, and a record on disk that survives the daemon.

Kernel work (mounts, cgroups, netlink, fork) is blocking, so it runs in
worker threads (``asyncio.to_thread``); the event loop keeps serving other
clients meanwhile.  Each container has an ``asyncio.Lock`` so that two
requests never change the same container at once.

The service's parts are its neighbours in this package: the registry (who
exists, by id and name), spec (the pure HostConfig -> ContainerSpec
translation), networking (endpoints, /etc/hosts, network connect) and
listing (inspect, ps, logs).
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
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from ... import errors
from ...errors import Conflict, InvalidArgument, NotFound, NotModified
from ...image.store import Image, ImageStore, remove_tree
from ...network import Endpoint, NetworkManager
from ...runtime import cgroups, namespaces
from ...runtime.cgroups import Resources
from ...runtime.container import Container as RuntimeContainer
from ...runtime.container import exit_code_from_status
from ...runtime.errors import ContainerStartError
from ...runtime.spec import ContainerSpec
from ...runtime.trace import Trace
from .. import clock, createconfig, filtering, logs, mounts, names
from ..errorcontext import in_context, warn_and_go_on
from ..events import EventBus
from ..health import HealthService, Launcher
from ..records import ContainerRecord, State
from ..signals import parse_signal
from ..starterrors import start_error
from ..streams import OutputPump, StdinPump, StdioPipes
from . import listing, networking, registry, spec
from .listing import ContainerListing
from .networking import ContainerNetworking
from .registry import Container, ContainerRegistry, Run

if TYPE_CHECKING:
    from ...runtime.spawner import Spawner
    from ..remap import UsernsRemap
    from ..volumes import VolumeStore

log = logging.getLogger("nbdock.engine")

#: ``docker wait --condition`` ("" is the default, not-running).
WAIT_CONDITIONS = ("", "not-running", "next-exit", "removed")

#: How long to wait for a process's output to drain after it exited.
OUTPUT_DRAIN_TIMEOUT = 10


class ContainerService:
    """Every container's life, given its collaborators (the engine, engine.py, wires them):

    ``root`` is the data root (each container's directory is under it);
    ``image_store`` the images it creates containers from and whose layers it
    mounts; ``volumes`` and ``networks`` what it mounts and plugs in;
    ``events`` where its container events go; ``spawner`` the runtime's fork
    server that starts its processes; ``remap`` the ``--userns-remap``
    mapping, or None; ``probe_launcher`` what runs a health probe in a
    container (the engine's: an exec, :class:`..health.ExecProbe`); and
    ``shutting_down`` says whether the engine is stopping (no restart
    policy applies then).
    """

    def __init__(self, root: str, *, image_store: ImageStore, volumes: VolumeStore, networks: NetworkManager,
                 events: EventBus, spawner: Spawner, remap: UsernsRemap | None,
                 probe_launcher: Callable[[Container], Launcher], shutting_down: Callable[[], bool]):
        self.root = root
        self.image_store = image_store
        self.volumes = volumes
        self.events = events
        self.spawner = spawner
        self.remap = remap
        self.shutting_down = shutting_down
        self.registry = ContainerRegistry()
        self.health = HealthService(self.root, self.publish, launcher=probe_launcher)
        self.networking = ContainerNetworking(networks, self.registry, events,
                                              lambda record: record.directory(self.root))
        self.listing = ContainerListing(self.registry, self.root, image_store, self.health, self.lowerdirs)

    # ------------------------------------------------------------------
    # Looking containers up (the registry's), reading them (the listing's)

    def get(self, ref: str) -> Container:
        return self.registry.get(ref)

    def all(self) -> list[Container]:
        return self.registry.all()

    def using_image(self, image_id: str) -> list[Container]:
        return self.registry.using_image(image_id)

    def using_volume(self, name: str) -> list[str]:
        return self.registry.using_volume(name)

    def lowerdirs(self, record: ContainerRecord) -> list[str]:
        """The read-only layers of a container's overlay, top-most first: its init layer, then its image's."""
        return registry.lowerdirs(record, self.root, self.image_store.lowerdirs(record.Image))

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        return self.listing.inspect(ref, size)

    def list(self, **options) -> list[dict[str, Any]]:
        return self.listing.list(**options)

    def logs(self, ref: str, **options) -> AsyncIterator[list[logs.LogEntry]]:
        return self.listing.logs(ref, **options)

    # ------------------------------------------------------------------
    # Restoring state at daemon start

    def restore(self) -> list[Container]:
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
                networking.clear_network_settings(record)
                record.save(self.root)
                if record.HostConfig.get("AutoRemove"):
                    auto_removed.append(record)  # --rm: it would have been removed when it ended
                    continue
            container = Container(record)
            self.registry.register(container)
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
        networking_config = body.get("NetworkingConfig") or {}
        if not config_in.get("Image"):
            raise InvalidArgument("No image was specified")
        if name:
            name = names.check(name)
            self.registry.check_name_free(name)
        host_config = createconfig.fill_host_config(host_in)
        # Checked before the image is looked up, as Docker does: a bad flag is a 400, never a pull.
        warnings = createconfig.validate_request(config_in, host_config, remapped=self.remap is not None)
        image = await self._image_for_run(config_in["Image"])
        config = createconfig.merge_image_config(config_in, image.config.get("config") or {})
        path, args = createconfig.command(config)
        self._resolve_container_modes(host_config)

        container_id = secrets.token_hex(32)
        name = name or names.generate(self.registry.names())
        if not config.get("Hostname"):
            config["Hostname"] = container_id[:12]
        if "host" in (host_config["NetworkMode"], host_config["UTSMode"]) and not body.get("Hostname"):
            config["Hostname"] = os.uname().nodename  # the host's UTS namespace (or its network): its name
        networking_config = networking.links_on_user_network(host_config, networking_config)
        host_config["Links"] = self.networking.normalize_links(host_config.get("Links"), name)
        record = ContainerRecord(
            Id=container_id, Name="/" + name, Created=clock.rfc3339(), Image=image.id,
            ImageName=config_in["Image"], Path=path, Args=args, Config=config, HostConfig=host_config,
        )
        record.NetworkSettings = networking.initial_network_settings(host_config, networking_config)
        directory = record.directory(self.root)
        self.registry.check_name_free(name)  # again: another create may have taken it while this one awaited
        os.makedirs(directory)
        container = Container(record)
        self.registry.register(container)  # the name is taken from here on
        try:
            await asyncio.to_thread(self._prepare_directory, record, image)
            record.MountPoints = await asyncio.to_thread(
                mounts.plan, config, host_config, self.volumes, self._mount_points_to_share
            )
            record.save(self.root)
        except BaseException:
            self.registry.forget(container)
            await asyncio.to_thread(shutil.rmtree, directory, True)
            raise
        self.publish(record, "create")
        return {"Id": container_id, "Warnings": warnings}

    async def _image_for_run(self, ref: str) -> Image:
        """The image to create a container from; NotFound with Docker's message makes clients pull."""
        try:
            return await asyncio.to_thread(self.image_store.get, ref)
        except NotFound:
            shown = ref if ("@" in ref or ":" in ref.rsplit("/", 1)[-1]) else f"{ref}:latest"
            raise NotFound(f"No such image: {shown}") from None

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
        self.image_store.lowerdirs(image.id)  # unpack the layers now, not at first start

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

    async def _start(self, container: Container) -> None:
        record = container.record
        loop = asyncio.get_running_loop()
        exited: asyncio.Future = loop.create_future()

        def on_exit(status: int) -> None:  # called from the spawner's reader thread
            loop.call_soon_threadsafe(lambda: exited.done() or exited.set_result(status))

        try:
            run, output_fds, stdin_fd = await asyncio.to_thread(self._launch, container, exited, on_exit)
        except ContainerStartError as e:
            error = start_error(e, record.Config.get("Env") or [])
            await self._start_failed(container, e.exit_code if e.exit_code in (126, 127) else 128, error.message)
            raise error from None
        except errors.NbdockError as e:
            await self._start_failed(container, 128, e.message)
            raise
        except OSError as e:  # a mount, a cgroup file, a namespace the kernel refused
            await self._start_failed(container, 128, str(e))
            raise errors.HostError(f"failed to start container {record.short_id}: {e}") from None
        # Anything else is a bug in nbdock: it reaches the daemon's HTTP boundary, which answers 500
        # and logs its traceback once (_launch has already released what it had taken).

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

    def _launch(self, container: Container, exited: asyncio.Future, on_exit):
        """Blocking: everything the kernel must do to start the container (runs in a worker thread)."""
        record = container.record
        directory = record.directory(self.root)
        trace = Trace(os.path.join(directory, "trace.jsonl"))
        trace.emit("process", "start", container=record.Id, image=record.ImageName)
        endpoints: list[Endpoint] = []
        runtime: RuntimeContainer | None = None
        pipes = StdioPipes()  # none yet; all closed on failure
        try:
            spec_, resources, endpoints = self._build_spec(record, trace)
            runtime = RuntimeContainer(spec_, self.spawner, trace)
            runtime.create(resources)
            open_stdin = bool(record.Config.get("OpenStdin"))
            pipes = StdioPipes.open(stdin=open_stdin, tty=bool(record.Config.get("Tty")))

            def before_go(pid: int) -> None:
                if spec_.namespaces.get("net") == "new":
                    self.networking.plug(record, endpoints, f"/proc/{pid}/ns/net", trace)

            started = runtime.start(pipes.stdio, on_exit, before_go)
            pipes.close_theirs()
            pipes.use_console(started.console, stdin=open_stdin)
            networking.fill_network_settings(record, endpoints)
            log_writer = logs.LogWriter(os.path.join(directory, f"{record.Id}-json.log"),
                                        logs.log_options((record.HostConfig.get("LogConfig") or {}).get("Config")))
            run = Run(runtime, started, trace, log_writer, endpoints, exited)
            return run, pipes.output_fds, pipes.stdin_fd
        except BaseException:
            pipes.close_all()
            self.networking.teardown(record, endpoints, trace)
            if runtime is not None:
                try:
                    runtime.delete()
                except Exception as e:  # noqa: BLE001 - the start's own error is the one raised
                    warn_and_go_on(log, f"removing the cgroup of {record.short_id} after a failed start", e)
            trace.close()
            raise

    def _build_spec(self, record: ContainerRecord, trace: Trace) -> tuple[ContainerSpec, Resources, list[Endpoint]]:
        """The runtime's spec for this container, and its network endpoints (addresses reserved).

        What can refuse to start (a donor container not running, a link to a
        stopped one, a flag the translation refuses) comes before the network
        reserves anything; the hosts files are written once the addresses are known.
        """
        directory = record.directory(self.root)
        host = record.HostConfig
        namespaces_ = spec.namespace_modes(host, self._donor)
        linked = self.networking.linked(record)
        donor = None
        mode = host.get("NetworkMode") or "default"
        if mode.startswith("container:"):
            donor = self.get(mode.partition(":")[2]).record
            # The network namespace's owner names it: its hostname is ours too (Docker's rule).
            record.Config["Hostname"] = donor.Config.get("Hostname") or ""
            record.Config["Domainname"] = donor.Config.get("Domainname") or ""
        container_spec = spec.container_spec(record, directory=directory, lowerdirs=self.lowerdirs(record),
                                             namespaces=namespaces_, linked=linked)
        endpoints = self.networking.join(record, trace)
        try:
            self.networking.write_etc_files(record, endpoints, linked, donor)
            if self.remap is not None:  # --userns-remap: a user namespace, files given to its root (remap.py)
                self.remap.apply(container_spec, directory, host, record.MountPoints, self.image_store, record.Image)
        except BaseException:
            self.networking.teardown(record, endpoints, trace)
            raise
        return container_spec, spec.cgroup_resources(host), endpoints

    def _donor(self, ref: str) -> spec.Donor:
        """The container a ``container:NAME`` mode joins: its id, its PID 1 if it runs, its HostConfig."""
        other = self.get(ref)
        return other.id, other.run.started.pid if other.running else None, other.record.HostConfig

    async def _start_failed(self, container: Container, exit_code: int, message: str) -> None:
        record = container.record
        record.State.ExitCode = exit_code
        record.State.Error = message
        record.save(self.root)
        if record.HostConfig.get("AutoRemove"):
            await self._remove(container, remove_volumes=True)

    # ------------------------------------------------------------------
    # while it runs, and when it ends

    async def _supervise(self, container: Container, run: Run) -> None:
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
        try:
            oom_killed = (await asyncio.to_thread(run.runtime.cgroup.stats)).oom_kills > 0
        except (OSError, ValueError):
            pass  # its cgroup's files are gone or unreadable: no OOM kill is known of
        except Exception as e:  # noqa: BLE001 - the end of the run must still be handled
            warn_and_go_on(log, f"reading the OOM kills of {record.short_id}", e)
        await asyncio.to_thread(self._release_run, record, run)
        run.log.flush()
        run.log.close()  # ends every `docker logs -f` once it has read the rest
        if run.stdin is not None:
            run.stdin.stop()
        container.run = None
        record.State = State(Status="exited", ExitCode=exit_code, OOMKilled=oom_killed, StartedAt=record.State.StartedAt,
                             FinishedAt=clock.rfc3339())
        networking.clear_network_settings(record)
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
        self.networking.teardown(record, run.endpoints, run.trace)
        try:
            run.runtime.delete()
        except Exception as e:  # noqa: BLE001 - the run's end must still be handled
            warn_and_go_on(log, f"removing the cgroup of {record.short_id}", e)
        run.runtime.release()
        run.trace.emit("process", "exited", container=record.Id)
        run.trace.close()

    # ------------------------------------------------------------------
    # restart policies

    def _should_restart(self, container: Container, exit_code: int) -> bool:
        record = container.record
        policy = record.HostConfig.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if record.ManualStop or container.removed or self.shutting_down():
            return False
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure" and exit_code != 0:
            limit = policy.get("MaximumRetryCount") or 0
            return not limit or record.RestartCount < limit
        return False

    async def _restart_later(self, container: Container) -> None:
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

    def check_wait(self, ref: str, condition: str) -> Container:
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

    async def _wait_exit(self, container: Container, timeout: float | None) -> bool:
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

    def _cancel_pending_restart(self, container: Container) -> bool:
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

    async def _stop(self, container: Container, timeout: int | None, signal_name: str | None) -> None:
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

    async def update(self, ref: str, changes: dict[str, Any]) -> list[str]:
        """``docker update``: new limits and restart policy, applied to the cgroup at once if it runs.

        Returns the warnings of what this host cannot apply (discarded, as Docker does).
        """
        container = self.get(ref)
        warnings = createconfig.validate_update(changes)  # the request itself first
        async with container.lock:
            record = container.record
            try:
                host = spec.updated_host_config(record.HostConfig, changes)
                if container.running:
                    await asyncio.to_thread(container.run.runtime.cgroup.update, spec.cgroup_resources(host))
            except errors.NbdockError as e:
                raise in_context(e, f"Cannot update container {record.Id}") from None
            except OSError as e:
                raise errors.HostError(f"Cannot update container {record.Id}: {e}") from None
            record.HostConfig = host
            record.save(self.root)
        self.publish(record, "update")
        return warnings

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

    async def _remove(self, container: Container, *, remove_volumes: bool) -> None:
        """Delete a stopped container's directory and (with -v/--rm) its anonymous volumes.  Lock held."""
        record = container.record
        record.State.Status = "removing"
        if container.restart_task is not None:
            container.restart_task.cancel()
        await asyncio.to_thread(shutil.rmtree, record.directory(self.root), True)
        self.registry.forget(container)
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
                    self.volumes.remove(point["Name"], users=[])

    async def rename(self, ref: str, new_name: str) -> None:
        if not ref or not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        container = self.get(ref)
        new_name = new_name.removeprefix("/")
        if new_name == container.record.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        try:
            names.check("/" + new_name)
            self.registry.check_name_free(new_name)
        except (InvalidArgument, Conflict) as e:
            raise in_context(e, "Error when allocating new name") from None
        old = container.record.name
        self.registry.rename(container, new_name)
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
            reclaimed += await asyncio.to_thread(listing.dir_size, os.path.join(container.record.directory(self.root), "upper"))
            await self.remove(container.id)
            deleted.append(container.id)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ------------------------------------------------------------------
    # networks after create: docker network connect / disconnect (the networking part's)

    async def connect_network(self, network_ref: str, container_ref: str, endpoint_config: dict[str, Any]) -> None:
        await self.networking.connect(network_ref, container_ref, endpoint_config, self._save)

    async def disconnect_network(self, network_ref: str, container_ref: str, force: bool = False) -> None:
        await self.networking.disconnect(network_ref, container_ref, self._save)

    # ------------------------------------------------------------------
    # helpers

    def _save(self, record: ContainerRecord) -> None:
        record.save(self.root)

    def publish(self, record: ContainerRecord, action: str, **extra: str) -> None:
        """A container event, with the attributes Docker gives them: image, name, the labels, ``extra``."""
        attributes = {"image": record.ImageName, "name": record.name, **(record.Config.get("Labels") or {}), **extra}
        self.events.publish("container", action, record.Id, attributes)

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

    async def _stop_for_shutdown(self, container: Container) -> None:
        async with container.lock:
            if container.running:
                await self._stop(container, None, None)
                container.record.ManualStop = False  # a daemon restart is not the user's stop
