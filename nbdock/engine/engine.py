"""The Engine: the one object behind the daemon's API.

It owns the stores and services and wires them together: the image store,
volumes, networks, the registry client, the runtime's spawner, and the
services for containers, execs, images, stats, files, the teaching views
and the builder's backend.  It is the composition root: the one module
that imports the services, each given its collaborators, none the engine.
The daemon (nbdock/daemon) is a thin HTTP layer that turns requests into
calls on this object.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import threading
import sys

from .. import __version__
from ..image.store import ImageStore
from ..network import NetworkManager
from ..network.overlay import ClusterConfig
from ..registry import RegistryClient, RegistryConfig
from ..runtime import cgroups
from ..runtime.spawner import Spawner
from .buildbackend import EngineBuildBackend
from .containers import ContainerService
from .events import EventBus
from .execs import ExecService
from .health import ExecProbe
from .filesystem import ContainerFiles
from .remap import UsernsRemap
from .images import ImageService
from .stats import ContainerStats
from .teaching import TeachingViews
from .volumes import VolumeStore

log = logging.getLogger("nbdock.engine")

#: The Docker Engine API version nbdock speaks, and the oldest it accepts.
API_VERSION = "1.44"
MIN_API_VERSION = "1.24"


#: How long a daemon's shutdown waits for its containers to stop (dockerd's --shutdown-timeout: 15 s).
SHUTDOWN_TIMEOUT = 15.0

class Engine:
    def __init__(self, data_root: str, *, offline: bool = False, registry_mirrors=(), insecure_registries=(),
                 cluster: ClusterConfig | None = None, userns_remap: str | None = None):
        self.root = os.path.abspath(data_root)
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o711)
        self.offline = offline
        self.shutting_down = False
        self.events = EventBus()
        self.spawner = Spawner()
        self.volumes = VolumeStore(self.root)
        self.cluster = cluster  # --cluster-store and --cluster-advertise: overlay networks (network/overlay.py)
        self.networks = NetworkManager(self.root, cluster=cluster)
        store = ImageStore(self.root)
        self.registry = RegistryClient(store, RegistryConfig(
            insecure_registries=list(insecure_registries), mirrors=list(registry_mirrors), offline=offline))
        # --userns-remap default|USER[:GROUP]: every container (but --userns=host ones) in a user namespace.
        self.remap = UsernsRemap(self.root, userns_remap) if userns_remap else None
        if self.remap is not None:
            store.remapped_root = self.remap.root  # commit and build turn its containers' ids back (store.py)
        self.cgroup_version = cgroups.detect()
        self.containers = ContainerService(
            self.root, image_store=store, volumes=self.volumes, networks=self.networks, events=self.events,
            spawner=self.spawner, remap=self.remap, shutting_down=lambda: self.shutting_down,
            # A health probe is an exec; the execs service is made next (it needs this one), hence late-bound.
            probe_launcher=lambda container: lambda argv: ExecProbe.launch(self.execs, container, argv))
        self.execs = ExecService(self.containers)
        self.images = ImageService(store, self.containers, events=self.events, registry=self.registry,
                                   root=self.root, offline=offline)
        self.stats = ContainerStats(self.containers)  # docker stats, docker top
        self.files = ContainerFiles(self.containers, self.root, self.spawner,  # docker cp, export, diff
                                    remap=self.remap, image_store=store)
        self.build_backend = EngineBuildBackend(self.containers, self.images, self.root)  # what the builder drives
        self.teaching = TeachingViews(self.containers, store, self.root)  # the notebooks' views (/nbdock/v1)

    async def start(self) -> None:
        """Bring the engine up: the spawner, the networks, and every container remembered on disk.

        This is also where a previous run that was killed (SIGKILL, power cut) is
        reconciled, before anything new starts: its scratch files and unused
        layers (``ImageStore.reconcile``), half-made volumes, its networks'
        links and chains (``networks.start``), and the containers that were
        running (``containers.restore``: their cgroups, their state).
        """
        self.spawner.start()
        await asyncio.to_thread(self._reconcile_files)
        await asyncio.to_thread(self.networks.start)
        await asyncio.to_thread(self.containers.restore)
        await self.containers.start_on_boot()

    def _reconcile_files(self) -> None:
        removed = self.images.store.reconcile() + self.volumes.reconcile()
        for path in removed:
            log.info("removed %s, left by a previous run", os.path.relpath(path, self.root))

    async def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Stop every container, then take down what the engine set up on the host.

        Bounded, as dockerd's --shutdown-timeout: a container (or a client
        holding one) that will not let go must not keep the daemon alive.  What
        is still running then is killed by the spawner, which ends every
        process it started when the daemon closes its socket.
        """
        self.shutting_down = True
        try:
            await asyncio.wait_for(self.containers.shutdown(), timeout)
        except asyncio.TimeoutError:
            still = [c.record.name for c in self.containers.all() if c.running]
            log.warning("containers still stopping after %g s (%s): killing what is left", timeout,
                        ", ".join(still) or "their supervisors")
        await asyncio.to_thread(self.networks.shutdown)
        self.spawner.stop()

    # ------------------------------------------------------------------
    # system

    def version(self) -> dict:
        details = {
            "ApiVersion": API_VERSION, "Arch": _go_arch(), "BuildTime": "", "Experimental": "false",
            "GitCommit": "nbdock", "GoVersion": f"python{platform.python_version()}", "KernelVersion": platform.release(),
            "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
        }
        return {
            "Platform": {"Name": "nbdock"},
            "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "nbdock",
            "GoVersion": f"python{platform.python_version()}",
            "Os": "linux",
            "Arch": _go_arch(),
            "KernelVersion": platform.release(),
            "BuildTime": "",
        }

    def info(self) -> dict:
        containers = self.containers.all()
        running = sum(1 for c in containers if c.running and not c.record.State.Paused)
        paused = sum(1 for c in containers if c.record.State.Paused)
        return {
            "ID": _engine_id(self.root),
            "Containers": len(containers),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": len(containers) - running - paused,
            "Images": len(self.images.store.list(all=True)),  # intermediate images count too, as in Docker
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"],
                             ["userxattr", "false"], *([self.remap.info()[1]] if self.remap else [])],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": None,
                        "Log": ["json-file"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True,
            "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True, "BridgeNfIptables": True,
            "BridgeNfIp6tables": True, "Debug": False, "NFd": len(os.listdir("/proc/self/fd")),
            "OomKillDisable": self.cgroup_version == 1,  # memory.oom_control exists on v1 only
            "NGoroutines": threading.active_count(), "SystemTime": _now_rfc3339(),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": str(self.cgroup_version),
            "NEventsListener": 0,
            "KernelVersion": platform.release(),
            "OperatingSystem": _operating_system(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": platform.machine(),
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": list(self.registry.config.mirrors)},
            "NCPU": os.cpu_count() or 1,
            "MemTotal": cgroups.host_memory(),
            "GenericResources": None,
            "DockerRootDir": self.root,
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": socket.gethostname(),
            "Labels": [],
            "ExperimentalBuild": False,
            "ServerVersion": __version__,
            # "runc" is the default's name clients expect; the program behind both names is nbdock's.
            "Runtimes": {name: {"path": f"{sys.executable} -m nbdock.runtime.spawner"} for name in ("runc", "nbdock")},
            "DefaultRuntime": "runc",
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": False,
            "Isolation": "",
            "InitBinary": "",
            "ContainerdCommit": {"ID": "", "Expected": ""},
            "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            # Every container gets Docker's seccomp profile; with --userns-remap, a user namespace.
            "SecurityOptions": ["name=seccomp,profile=default", *([self.remap.info()[0]] if self.remap else [])],
            "Warnings": [],
            # Docker 1.12-20.10 report them only when set (omitempty); the CLI prints them then.
            **({"ClusterStore": self.cluster.store, "ClusterAdvertise": self.cluster.advertise} if self.cluster else {}),
        }


def _go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _engine_id(root: str) -> str:
    path = os.path.join(root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        import uuid

        value = str(uuid.uuid4()).upper()
        with open(path, "w") as f:
            f.write(value)
        return value


def _operating_system() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _now_rfc3339() -> str:
    from .clock import rfc3339

    return rfc3339()

