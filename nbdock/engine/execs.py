"""``docker exec``: more processes inside a running container.

An exec instance is created first (``POST /containers/{id}/exec``: what to
run, with which user, directory, environment and tty), then started
(``POST /exec/{id}/start``), which is when the runtime's spawner forks a
process that joins every namespace of the container's PID 1 and its cgroup.
The exec's output goes only to the client that started it -- it is not part
of the container's logs -- and its exit code is kept for ``GET /exec/{id}/json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidArgument, NotFound
from ..runtime import capabilities
from ..runtime.container import Started, exit_code_from_status
from ..runtime.errors import ContainerStartError
from ..runtime.spec import ExecSpec, Process
from . import createconfig
from .starterrors import exec_start_message, what_happened
from .streams import Listeners, OutputPump, StdinPump, StdioPipes

if TYPE_CHECKING:
    from .containers import ContainerService

NAMESPACES = ["ipc", "uts", "net", "pid", "mnt"]


@dataclass
class ExecInstance:
    id: str
    container_id: str
    config: dict[str, Any]
    listeners: Listeners = field(default_factory=Listeners)
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    process: Started | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_inspect(self) -> dict[str, Any]:
        cmd = self.config.get("Cmd") or [""]
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {"tty": bool(self.config.get("Tty")), "entrypoint": cmd[0], "arguments": cmd[1:],
                              "privileged": bool(self.config.get("Privileged")), "user": self.config.get("User") or ""},
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.get("DetachKeys") or "",
            "Pid": self.pid,
        }


class ExecService:
    """``docker exec``: processes started in a running container's namespaces and cgroup.

    Given the container service (to find the container an exec joins, and to
    publish exec events on it), not the whole engine.
    """

    def __init__(self, containers: "ContainerService"):
        self.containers = containers
        self._instances: dict[str, ExecInstance] = {}

    def get(self, exec_id: str) -> ExecInstance:
        instance = self._instances.get(exec_id)
        if instance is None:
            matches = [e for i, e in self._instances.items() if exec_id and i.startswith(exec_id)]
            if len(matches) != 1:
                raise NotFound(f"No such exec instance: {exec_id}")
            instance = matches[0]
        return instance

    def create(self, container_ref: str, body: dict[str, Any]) -> str:
        container = self.containers.get(container_ref)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if container.record.State.Paused:
            raise Conflict(f"Container {container_ref} is paused, unpause the container before exec")
        if not body.get("Cmd"):
            raise InvalidArgument("No exec command specified")
        instance = ExecInstance(secrets.token_hex(32), container.id, dict(body))
        self._instances[instance.id] = instance
        self.containers.publish(container.record, f"exec_create: {_event_command(body['Cmd'])}",
                                       execID=instance.id)
        return instance.id

    def check_startable(self, exec_id: str) -> ExecInstance:
        """The exec instance, if it can start now: Docker answers these with a status code,
        before the connection is hijacked (after that, errors can only be written on the stream)."""
        instance = self.get(exec_id)
        if instance.started:
            raise Conflict(f"Exec command {exec_id} has already run")
        container = self.containers.get(instance.container_id)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        return instance

    async def start(self, exec_id: str, *, detach: bool = False) -> ExecInstance:
        """Start the process.  Errors starting it are recorded (exit code 126) and raised."""
        instance = self.check_startable(exec_id)
        container = self.containers.get(instance.container_id)
        instance.started = True
        loop = asyncio.get_running_loop()
        exited: asyncio.Future = loop.create_future()

        def on_exit(status: int) -> None:
            loop.call_soon_threadsafe(lambda: exited.done() or exited.set_result(status))

        try:
            started, output_fds, stdin_fd = await asyncio.to_thread(self._launch, container, instance, on_exit)
        except BaseException as e:
            # Whatever went wrong, the exec is over: its inspect says so (126, as Docker) and
            # nobody waits for it forever.
            instance.exit_code = 126
            instance.done.set()
            if isinstance(e, ContainerStartError):
                env = [*(container.record.Config.get("Env") or []), *(instance.config.get("Env") or [])]
                raise ExecStartError(exec_start_message(e), what_happened("exec", e, env)) from None
            if isinstance(e, ProcessLookupError):
                raise Conflict(f"Container {container.id} is not running") from None
            raise
        instance.process = started
        instance.pid = started.pid
        instance.running = True
        pump = OutputPump(output_fds, instance.listeners.publish)
        stdin = StdinPump(stdin_fd, instance.listeners.stdin) if stdin_fd is not None else None
        self.containers.publish(container.record, f"exec_start: {_event_command(instance.config['Cmd'])}",
                                       execID=instance.id)
        loop.create_task(self._supervise(instance, container, exited, pump, stdin))
        return instance

    def _launch(self, container, instance: ExecInstance, on_exit):
        record = container.record
        config = instance.config
        user = config.get("User") or record.Config.get("User") or ""
        env = createconfig.environment({**record.Config, "Env": list(record.Config.get("Env") or []) + list(config.get("Env") or []),
                                        "Tty": config.get("Tty")}, record.Config.get("Hostname") or record.short_id)
        host = record.HostConfig
        process = Process(
            args=list(config["Cmd"]), env=env, cwd=config.get("WorkingDir") or record.Config.get("WorkingDir") or "/",
            user=user, additional_groups=list(host.get("GroupAdd") or []),
            rlimits=createconfig.rlimits(host),
            no_new_privileges=createconfig.no_new_privileges(host), oom_score_adj=host.get("OomScoreAdj") or 0,
            tty=bool(config.get("Tty")), console_size=list(config.get("ConsoleSize") or [0, 0]),
            capabilities=capabilities.container_set(host.get("CapAdd") or (), host.get("CapDrop") or (),
                                                    bool(host.get("Privileged") or config.get("Privileged"))),
        )
        process.seccomp = createconfig.exec_seccomp(host, process.capabilities)
        runtime = container.run.runtime
        kinds = list(NAMESPACES)
        if runtime.spec.namespaces.get("cgroup") == "new":
            kinds.append("cgroup")
        if runtime.spec.user_namespace:
            kinds.insert(0, "user")  # entered first (the kernel's order): it owns the others
        spec = ExecSpec(container_id=record.Id, target_pid=container.run.started.pid, process=process, namespaces=kinds)
        attach_stdin = bool(config.get("AttachStdin"))
        pipes = StdioPipes.open(stdin=attach_stdin, tty=bool(config.get("Tty")))
        try:
            started = runtime.exec(spec, pipes.stdio, on_exit)
        except BaseException:
            pipes.close_all()
            raise
        pipes.close_theirs()
        pipes.use_console(started.console, stdin=attach_stdin)
        return started, pipes.output_fds, pipes.stdin_fd

    async def _supervise(self, instance: ExecInstance, container, exited, pump: OutputPump, stdin) -> None:
        status = await exited
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(pump.done.wait(), 10)
        if not pump.done.is_set():
            pump.abandon()
        if stdin is not None:
            stdin.stop()
        instance.exit_code = exit_code_from_status(status)
        instance.running = False
        if container.run is not None and instance.process is not None:
            container.run.runtime.release(instance.process)
        instance.process = None
        self.containers.publish(container.record, "exec_die", execID=instance.id,
                                       exitCode=str(instance.exit_code))
        instance.listeners.end()
        instance.done.set()

    def resize(self, exec_id: str, height: int, width: int) -> None:
        from ..runtime.terminal import set_window_size

        instance = self.get(exec_id)
        if instance.process is None or instance.process.console is None:
            return
        set_window_size(instance.process.console, height, width)

    def discard(self, exec_id: str) -> None:
        """Forget one exec instance that has ended (health probes: engine/health.py)."""
        self._instances.pop(exec_id, None)

    def forget_container(self, container_id: str) -> None:
        for exec_id in [i for i, e in self._instances.items() if e.container_id == container_id]:
            del self._instances[exec_id]


def _event_command(cmd: list[str]) -> str:
    """The command as Docker's exec events write it: the program, a space, the arguments
    ("exec_create: true " for an exec of ``true`` alone)."""
    return f"{cmd[0]} {' '.join(cmd[1:])}"


class ExecStartError(Conflict):
    """The exec's process could not start (Docker reports it on the stream, exit code 126)."""
