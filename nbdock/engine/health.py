"""Health checks: a probe run inside the container, on a schedule, and what its results mean.

An image's ``HEALTHCHECK`` (or ``docker run --health-cmd ...``) gives the
container a *probe*: a command the engine runs inside it, every ``Interval``,
exactly as ``docker exec`` would -- in all of the container's namespaces and
in its cgroup, so the probe sees what the service sees (its network
namespace's loopback, its files) and is counted against its limits.  The exit
code is the verdict: 0 is healthy, anything else a failure.

The rules are Docker 20.10's (moby ``daemon/health.go``):

* a container whose health check starts is ``starting``;
* one success makes it ``healthy`` and resets ``FailingStreak``;
* each failure adds one to ``FailingStreak``; at ``Retries`` failures in a row
  it is ``unhealthy`` -- except that while it is still ``starting``, failures
  whose probe began within ``StartPeriod`` of the container's start do not
  count (a slow service gets time to come up);
* a probe that runs longer than ``Timeout`` is killed and counts as a failure,
  with the output "Health check exceeded timeout (30s)";
* the last 5 results are kept (``State.Health.Log``), each output cut to 4096
  bytes;
* when the monitor stops -- the container stopped, died or was paused -- the
  status becomes ``unhealthy`` (20.10 does this "for compatibility"), and no
  event says so; a new start resets it to ``starting``, an unpause only
  resumes the probes.

Each change of status is a ``health_status: <status>`` container event, which
is what ``docker-compose``'s ``condition: service_healthy`` waits for.

One home for all of it: :class:`HealthService` holds every container's
:class:`Health`, starts and stops one :class:`Monitor` (an asyncio task) per
running container, and keeps the health on disk beside the container's record
(``health.json``) so that a restarted daemon still shows the last results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from ..errors import NbdockError
from ..goformat import go_duration
from . import clock

if TYPE_CHECKING:
    from .records import ContainerRecord

log = logging.getLogger("nbdock.engine")

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
#: What the ``health`` filter of ``docker ps`` calls a container without a health check.
NO_HEALTHCHECK = "none"

SECOND = 1_000_000_000  # durations in Config.Healthcheck are nanoseconds (Go's time.Duration)
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


class Checked(Protocol):
    """What health needs of a container (engine/containers/registry.py's Container has it): its id,
    its record (the Config's health check, State.StartedAt, its directory), and whether it was removed."""

    @property
    def id(self) -> str: ...

    record: "ContainerRecord"
    removed: bool


# ---------------------------------------------------------------------------
# The configuration


@dataclass(frozen=True)
class Probe:
    """A container's health check, ready to run: the command and its timing (nanoseconds)."""

    argv: tuple[str, ...]
    interval: int = DEFAULT_INTERVAL
    timeout: int = DEFAULT_TIMEOUT
    start_period: int = DEFAULT_START_PERIOD
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Probe | None":
        """The probe of a container's Config, or None: no health check, ``NONE``, or an unknown type.

        ``["CMD", argv...]`` runs argv as it is; ``["CMD-SHELL", command]`` runs
        it with the container's shell (``Config.Shell``, else ``/bin/sh -c``).
        Zero durations (and retries) mean Docker's defaults.
        """
        health = config.get("Healthcheck") or {}
        test = list(health.get("Test") or [])
        if not test or test[0] == "NONE":
            return None
        if test[0] == "CMD-SHELL" and len(test) > 1:
            argv = list(config.get("Shell") or ["/bin/sh", "-c"]) + test[1:]
        elif test[0] == "CMD" and len(test) > 1:
            argv = test[1:]
        else:
            log.warning("unknown healthcheck type %r (expected CMD or CMD-SHELL)", test[0])
            return None
        return cls(tuple(argv), interval=health.get("Interval") or DEFAULT_INTERVAL,
                   timeout=health.get("Timeout") or DEFAULT_TIMEOUT,
                   start_period=health.get("StartPeriod") or DEFAULT_START_PERIOD,
                   retries=health.get("Retries") if (health.get("Retries") or 0) > 0 else DEFAULT_RETRIES)


# ---------------------------------------------------------------------------
# The state: status, failing streak, the last results


@dataclass
class Result:
    """One probe's outcome, as ``State.Health.Log`` shows it (times are Unix seconds)."""

    start: float
    end: float
    exit_code: int
    output: str

    def to_api(self) -> dict[str, Any]:
        return {"Start": clock.rfc3339(self.start), "End": clock.rfc3339(self.end), "ExitCode": self.exit_code,
                "Output": self.output}


@dataclass
class Health:
    """Docker's ``State.Health``."""

    status: str = STARTING
    failing_streak: int = 0
    log: deque = field(default_factory=lambda: deque(maxlen=MAX_LOG_ENTRIES))

    def record(self, result: Result, probe: Probe, started_at: float) -> bool:
        """Count one result (moby's handleProbeResult).  True if the status changed."""
        old = self.status
        self.log.append(result)
        if result.exit_code == 0:
            self.failing_streak = 0
            self.status = HEALTHY
        else:
            # Still starting, and the probe began within the start period: the failure is forgiven.
            forgiven = self.status == STARTING and (result.start - started_at) * SECOND < probe.start_period
            if not forgiven:
                self.failing_streak += 1
                if self.failing_streak >= probe.retries:
                    self.status = UNHEALTHY
        return self.status != old

    def to_api(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": [r.to_api() for r in self.log]}

    def to_json(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak,
                "Log": [[r.start, r.end, r.exit_code, r.output] for r in self.log]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Health":
        health = cls(data.get("Status") or UNHEALTHY, int(data.get("FailingStreak") or 0))
        health.log.extend(Result(*entry) for entry in data.get("Log") or [])
        return health


def status_line(text: str, state, health: Health | None) -> str:
    """``docker ps``'s STATUS with the health: "Up 3 seconds (healthy)", "(health: starting)".

    Docker adds it only to a container that is up, not paused, not restarting.
    """
    if health is None or not state.Running or state.Paused or state.Restarting:
        return text
    return f"{text} ({'health: starting' if health.status == STARTING else health.status})"


class OutputBuffer:
    """The first 4096 bytes of a probe's stdout and stderr together; "..." marks a cut."""

    def __init__(self):
        self._data = bytearray()
        self.truncated = False

    def write(self, data: bytes) -> None:
        room = MAX_OUTPUT - len(self._data)
        self._data += data[:max(room, 0)]
        if len(data) > room:
            self.truncated = True

    def text(self) -> str:
        # Go's JSON encoder replaces invalid UTF-8 (a character cut in two at the limit, say).
        return self._data.decode("utf-8", "replace") + ("..." if self.truncated else "")


# ---------------------------------------------------------------------------
# Running probes


class ProbeError(Exception):
    """The probe could not be run (its message becomes the result's output, exit code -1)."""


class ProbeProcess(Protocol):
    async def wait(self) -> tuple[int, str]:
        """The exit code and output, once the probe has ended."""

    def kill(self) -> None:
        """SIGKILL the probe (it ran too long, or the monitor stops)."""


#: Starts the probe's command in the container; raises ProbeError if it cannot.
Launcher = Callable[[tuple[str, ...]], Awaitable[ProbeProcess]]


class Monitor:
    """The loop of one container's probes (moby's ``monitor``), as an asyncio task.

    Wait ``Interval``, run the probe, count the result, again -- the interval
    runs from the end of one probe to the start of the next, so probes never
    overlap.  ``stop()`` ends it; a probe running then is killed, and its
    result is not counted.
    """

    def __init__(self, health: Health, probe: Probe, launch: Launcher, started_at: float,
                 on_change: Callable[[bool], None], *, previous: asyncio.Task | None = None):
        self.health = health
        self.probe = probe
        self._launch = launch
        self._started_at = started_at
        self._on_change = on_change  # called after each counted result: True if the status changed
        self._previous = previous
        self._current: ProbeProcess | None = None
        self.stopped = False
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop probing now.  The probe in flight is killed at once (before a pause freezes it)."""
        self.stopped = True
        if self._current is not None:
            self._current.kill()
        self.task.cancel()

    async def _run(self) -> None:
        if self._previous is not None:
            # Never two monitors of one container at once: the last one finishes killing its probe
            # first.  (asyncio.wait, unlike gather, does not cancel it if we are cancelled meanwhile.)
            await asyncio.wait({self._previous})
            self._previous = None
        # `stopped` is checked as well as cancellation: Python 3.11's wait_for can swallow a cancel
        # that comes as the probe ends, and a monitor must never outlive its container's run.
        while not self.stopped:
            await asyncio.sleep(self.probe.interval / SECOND)
            if self.stopped:
                break
            result, still_running = await self._run_once()
            if not self.stopped:
                self._on_change(self.health.record(result, self.probe, self._started_at))
            if still_running is not None:
                await still_running  # a timed-out probe, killed: wait until it is gone (no pile-up)
            self._current = None

    async def _run_once(self) -> tuple[Result, asyncio.Future | None]:
        """One probe: its result, and (if it timed out) the wait for the killed process to end."""
        start = time.time()
        launching = asyncio.ensure_future(self._launch(self.probe.argv))
        try:
            # Launching happens in a worker thread; cancelling our wait must not lose the process.
            process = await asyncio.shield(launching)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                process = await launching
                process.kill()
                await process.wait()
            raise
        except ProbeError as e:
            return Result(start, time.time(), -1, str(e)), None
        self._current = process
        if self.stopped:  # stop() came while it was launching
            process.kill()
        remaining = max(self.probe.timeout / SECOND - (time.time() - start), 0)
        waiting = asyncio.ensure_future(process.wait())
        try:
            exit_code, output = await asyncio.wait_for(asyncio.shield(waiting), remaining)
        except asyncio.TimeoutError:
            process.kill()
            timeout = go_duration(self.probe.timeout)
            return Result(start, time.time(), -1, f"Health check exceeded timeout ({timeout})"), waiting
        except asyncio.CancelledError:
            process.kill()
            with contextlib.suppress(BaseException):
                await waiting
            raise
        return Result(start, time.time(), exit_code, output), None


class ProbeExecs(Protocol):
    """What an :class:`ExecProbe` needs of the execs service (engine/execs.py's ExecService):
    create an exec in a container, find it, start it, and forget it once it has ended."""

    def create(self, container_ref: str, body: dict[str, Any]) -> str: ...

    def get(self, exec_id: str) -> Any: ...

    async def start(self, exec_id: str, *, detach: bool = False) -> Any: ...

    def discard(self, exec_id: str) -> None: ...


class ExecProbe:
    """A probe running as an exec instance: the path ``docker exec`` takes (engine/execs.py).

    So the probe joins every namespace of the container's PID 1 and its
    cgroup, and Docker's ``exec_create``/``exec_start``/``exec_die`` events are
    emitted for it as for any exec.  The instance is forgotten once it has
    ended: probes every few seconds for months must not pile up records.
    """

    def __init__(self, execs: ProbeExecs, instance):
        self._execs = execs
        self._instance = instance  # the ExecInstance
        self._output = OutputBuffer()
        self._collector = asyncio.get_running_loop().create_task(self._collect(instance.listeners.listen()))

    @classmethod
    async def launch(cls, execs: ProbeExecs, container: "Checked", argv: tuple[str, ...]) -> "ExecProbe":
        try:
            # No tty, no stdin; the container's own user and working directory (execs falls back
            # to the container's Config for them, which is what Docker's probe uses).
            exec_id = execs.create(container.id, {"Cmd": list(argv), "AttachStdout": True, "AttachStderr": True,
                                                  "Tty": False, "Privileged": False})
        except NbdockError as e:
            raise ProbeError(e.message) from None
        probe = cls(execs, execs.get(exec_id))
        try:
            await execs.start(exec_id, detach=True)
        except Exception as e:  # noqa: BLE001 - any failure is the probe's result, as in Docker
            probe._forget()
            if not isinstance(e, (NbdockError, OSError)):  # a bug: the monitor goes on, the log has its traceback
                log.error("container %s: the health probe could not start", container.id[:12], exc_info=e)
            raise ProbeError(e.message if isinstance(e, NbdockError) else str(e)) from None
        except BaseException:
            probe._forget()
            raise
        return probe

    async def _collect(self, queue: asyncio.Queue) -> None:
        while (item := await queue.get()) is not None:
            self._output.write(item[1])  # stdout and stderr, interleaved as they came

    async def wait(self) -> tuple[int, str]:
        try:
            await self._instance.done.wait()
            await self._collector
            code = self._instance.exit_code
            return (code if code is not None else -1), self._output.text()
        finally:
            self._forget()

    def kill(self) -> None:
        process = self._instance.process  # None once it has ended (its pidfd is closed then)
        if process is not None:
            # Through its pidfd, not runtime.kill: that one thaws a frozen cgroup for a SIGKILL,
            # which would undo the pause that is stopping this probe.
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(process.pidfd, signal.SIGKILL)

    def _forget(self) -> None:
        """Drop the exec instance once it has ended (Docker garbage-collects its own too)."""
        if self._instance.done.is_set():
            self._execs.discard(self._instance.id)
            if not self._collector.done():
                self._collector.cancel()


# ---------------------------------------------------------------------------
# Every container's health


class HealthService:
    """The health of every container, and the monitors of the running ones.

    The container service calls :meth:`started`, :meth:`halted` (stop, death,
    pause), :meth:`resumed` (unpause) and :meth:`forget` (removal); everything
    else -- inspect, ``docker ps``, the ``health`` filter -- reads from here.
    """

    def __init__(self, root: str, publish: Callable[["ContainerRecord", str], None], *,
                 launcher: Callable[["Checked"], Launcher]):
        """``root`` holds the containers' directories (each one's health.json); ``publish`` emits a
        container event (``health_status: healthy``); ``launcher`` gives the function that starts a
        container's probe -- :meth:`ExecProbe.launch` with the engine's execs, a fake in the tests."""
        self.root = root
        self._publish = publish
        self._launcher = launcher
        self._health: dict[str, Health] = {}
        self._monitors: dict[str, Monitor] = {}
        #: Stopped monitors still killing their last probe: the next one of the container waits for them.
        self._finishing: dict[str, asyncio.Task] = {}

    # -- reading
    def get(self, container_id: str) -> Health | None:
        return self._health.get(container_id)

    def filter_value(self, container_id: str) -> str:
        """What ``docker ps --filter health=`` compares: starting, healthy, unhealthy or none."""
        health = self._health.get(container_id)
        return health.status if health is not None else NO_HEALTHCHECK

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        """``State.Health``, or None: Docker leaves the key out for a container with no health check."""
        health = self._health.get(container_id)
        return health.to_api() if health is not None else None

    # -- the container's life
    def started(self, container: "Checked") -> None:
        """A (re)start: the health starts over (``starting``, no failing streak; the log stays)."""
        probe = Probe.from_config(container.record.Config)
        if probe is None:
            return
        self._stop_monitor(container.id)
        health = self._health.setdefault(container.id, Health())
        health.status, health.failing_streak = STARTING, 0
        self._save(container)
        self._start_monitor(container, probe)

    def resumed(self, container: "Checked") -> None:
        """Unpaused: probing starts again, the status as it is (``unhealthy``) until the next result."""
        probe = Probe.from_config(container.record.Config)
        if probe is None or container.id not in self._health:
            return
        self._stop_monitor(container.id)
        self._start_monitor(container, probe)

    def halted(self, container: "Checked") -> None:
        """Stopped, died or paused: no more probes, and (Docker 20.10's rule) ``unhealthy``."""
        if container.id in self._monitors:
            self._stop_monitor(container.id)
            self._health[container.id].status = UNHEALTHY
            self._save(container)

    def forget(self, container_id: str) -> None:
        self._stop_monitor(container_id)
        self._health.pop(container_id, None)

    def restore(self, container: "Checked") -> None:
        """At daemon start: the health the last daemon saved (no monitor runs now, so ``unhealthy``)."""
        try:
            with open(self._path(container)) as f:
                health = Health.from_json(json.load(f))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError) as e:
            log.warning("container %s: unreadable health.json (%s)", container.record.short_id, e)
            return
        health.status = UNHEALTHY
        self._health[container.id] = health

    # -- helpers
    def _start_monitor(self, container: "Checked", probe: Probe) -> None:
        health = self._health[container.id]
        previous = self._finishing.get(container.id)
        started_at = clock.parse_rfc3339(container.record.State.StartedAt)

        def counted(changed: bool) -> None:
            self._save(container)
            if changed:
                self._publish(container.record, f"health_status: {health.status}")

        self._monitors[container.id] = Monitor(health, probe, self._launcher(container), started_at, counted,
                                               previous=previous)

    def _stop_monitor(self, container_id: str) -> None:
        monitor = self._monitors.pop(container_id, None)
        if monitor is None:
            return
        monitor.stop()
        if not monitor.task.done():
            self._finishing[container_id] = monitor.task
            monitor.task.add_done_callback(
                lambda task: self._finishing.get(container_id) is task and self._finishing.pop(container_id))

    def _path(self, container: "Checked") -> str:
        return os.path.join(container.record.directory(self.root), "health.json")

    def _save(self, container: "Checked") -> None:
        """Written at each result, as Docker checkpoints it (a small file, renamed into place)."""
        health = self._health.get(container.id)
        if health is None or container.removed:
            return
        path = self._path(container)
        try:
            with open(path + ".tmp", "w") as f:
                json.dump(health.to_json(), f)
            os.replace(path + ".tmp", path)
        except OSError as e:
            log.warning("container %s: saving its health: %s", container.record.short_id, e)
