"""One container as the kernel sees it: a cgroup, some namespaces, a root file system, processes.

This is the level runc works at: no images, names, logs or networks -- the
engine (nbdock/engine) adds those.  The verbs are runc's too: create the
cgroup, start the first process, exec more, signal, pause/resume, delete.

Starting is a small handshake with the new process (see init.py)::

    daemon                                   container PID 1 (init.py)
    ──────                                   ─────────────────────────
    create cgroup, write limits
    ask the spawner to fork ───────────────▶ mounts, pivot_root, hostname...
    (receive the pty master, with -t) ◀───── create the pty, send its master
    before_go(pid): the network ...          ... blocked reading the "gate" pipe
    write "go" to the gate ────────────────▶ look up the command, drop privileges,
                                             execve
    read the "errors" pipe:
      EOF            -> execve succeeded (the pipe is close-on-exec)
      a JSON message -> it failed; raise it
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass
from typing import Callable

from .cgroups import Cgroup, Resources, open_cgroup
from .errors import ContainerStartError
from .kernel import LINUX, TracingKernel
from .spawner import Spawned, Spawner
from .spec import ContainerSpec, ExecSpec
from .trace import NO_TRACE, Trace


@dataclass
class Stdio:
    """The child's ends of its standard streams (None: /dev/null for stdin; with a tty, unused)."""

    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None

    def channels(self) -> dict[str, int]:
        return {name: fd for name, fd in (("stdin", self.stdin), ("stdout", self.stdout), ("stderr", self.stderr)) if fd is not None}


@dataclass
class Started:
    pid: int  # host pid
    pidfd: int
    console: int | None = None  # the pty master, with a tty


def exit_code_from_status(status: int) -> int:
    """A wait status as Docker reports it: the exit code, or 128 + the killing signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


class Container:
    def __init__(self, spec: ContainerSpec, spawner: Spawner, trace: Trace = NO_TRACE, *, cgroup: Cgroup | None = None):
        self.spec = spec
        self.spawner = spawner
        self.trace = trace
        self.kernel = TracingKernel(LINUX, trace)  # the daemon's own calls on the container: join, signals
        self.cgroup = cgroup or open_cgroup(spec.id, trace)
        self.spec.cgroup_version = self.cgroup.version
        self.spec.cgroup_view = self.cgroup.container_view()
        if self.cgroup.version == 2 and "cgroup" not in self.spec.namespaces:
            # On v2 the container gets its own cgroup namespace, so its /sys/fs/cgroup
            # shows its own cgroup as the root (Docker's default there too).
            self.spec.namespaces["cgroup"] = "new"
        self.init: Started | None = None
        self._init_lock = threading.Lock()

    # -- create / start
    def create(self, resources: Resources) -> None:
        self.cgroup.create(resources)

    def start(self, stdio: Stdio, on_exit: Callable[[int], None], before_go: Callable[[int], None] | None = None) -> Started:
        """Start PID 1.  ``on_exit(wait_status)`` is called from another thread when it ends."""
        self.init = self._launch(self.spawner.create, self.spec, stdio, on_exit, before_go)
        return self.init

    def exec(self, spec: ExecSpec, stdio: Stdio, on_exit: Callable[[int], None]) -> Started:
        """Start another process inside the running container (``docker exec``).

        The new process finds the container through a pidfd of its PID 1 (the
        "target" channel), never through a pid number: see namespaces.enter.
        """
        target = self.duplicate_init_pidfd()
        try:
            return self._launch(self.spawner.exec, spec, stdio, on_exit, None, {"target": target})
        finally:
            os.close(target)

    def duplicate_init_pidfd(self) -> int:
        """A descriptor of our own on PID 1's pidfd, for handing to a helper (the caller closes it).

        Duplicated under the lock that :meth:`release` takes: a pidfd closed by
        another thread between "look it up" and "send it" would leave a number
        that the next open() reuses -- possibly another container's pidfd.
        """
        with self._init_lock:
            if self.init is None:
                raise ProcessLookupError("the container is not running")
            return os.dup(self.init.pidfd)

    def _launch(self, spawn, spec, stdio: Stdio, on_exit, before_go, extra_channels: dict[str, int] | None = None) -> Started:
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        errors_r, errors_w = os.pipe2(os.O_CLOEXEC)
        channels = {**stdio.channels(), "gate": gate_r, "errors": errors_w, **(extra_channels or {})}
        if self.trace.fileno is not None:
            channels["trace"] = self.trace.fileno
        console_ours = console_theirs = None
        if spec.process.tty:
            console_ours, console_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            channels["console"] = console_theirs.fileno()
        try:
            spawned: Spawned = spawn(spec, channels, on_exit)
        except BaseException:
            # No child (the spawner refused: e.g. an exec into a container that just died): our ends too.
            os.close(gate_w)
            os.close(errors_r)
            if console_ours is not None:
                console_ours.close()
            raise
        finally:
            # Our copies of the child's ends: the child has its own now.
            os.close(gate_r)
            os.close(errors_w)
            if console_theirs is not None:
                console_theirs.close()
        started = Started(spawned.pid, spawned.pidfd)
        # The cgroup join runs beside the network setup: the kernel makes the first cgroup
        # migration after a quiet spell wait for an RCU grace period (milliseconds of idle time).
        joining = threading.Thread(target=self._join_cgroup_if_alive, args=(spawned.pid,), name="cgroup-join")
        joining.start()
        try:
            if console_ours is not None:
                started.console = _receive_console(console_ours)
            if started.console is not None or console_ours is None:
                if before_go is not None:
                    try:
                        before_go(spawned.pid)
                    except Exception:
                        # The process may have died first (an unknown user...), taking its
                        # namespaces with it: then its own report is the real error.
                        os.close(gate_w)
                        gate_w = None
                        _raise_reported(_read_all(errors_r))
                        raise
                joining.join()
                with contextlib.suppress(BrokenPipeError):
                    os.write(gate_w, b"go")
            os.close(gate_w)
            gate_w = None
            _raise_reported(_read_all(errors_r))
            if console_ours is not None and started.console is None:
                raise ContainerStartError("the container exited before creating its terminal")
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                self.kernel.pidfd_send_signal(spawned.pidfd, signal.SIGKILL, pid=spawned.pid)
            joining.join()
            if started.console is not None:
                os.close(started.console)
            os.close(spawned.pidfd)
            raise
        finally:
            if gate_w is not None:
                os.close(gate_w)
            os.close(errors_r)
            if console_ours is not None:
                console_ours.close()
        return started

    def _join_cgroup_if_alive(self, pid: int) -> None:
        try:
            self._join_cgroup(pid)
        except ProcessLookupError:
            pass  # it died already (its setup failed): the errors pipe says why

    def _join_cgroup(self, pid: int) -> None:
        """Move the new process into the container's cgroup, before it may exec.

        Done from here, while the process is still building its root file
        system, because the kernel makes the first cgroup migration after a
        quiet spell wait for an RCU grace period (several milliseconds): in
        parallel it costs nothing (runc does the same).
        """
        for procs in self.cgroup.procs_files():
            self.kernel.join_cgroup(procs, pid)

    # -- signals and the freezer
    def kill(self, sig: int, started: Started | None = None) -> None:
        """Send ``sig`` to PID 1 (or to another started process), through its pidfd."""
        target = started or self.init
        if target is None:
            raise ProcessLookupError("the container is not running")
        self.kernel.pidfd_send_signal(target.pidfd, sig, pid=target.pid)
        if sig == signal.SIGKILL and self.cgroup.is_frozen():
            self.cgroup.thaw()  # a frozen process cannot act on SIGKILL until it thaws

    def pause(self) -> None:
        self.cgroup.freeze()

    def resume(self) -> None:
        self.cgroup.thaw()

    # -- the end
    def release(self, started: Started | None = None) -> None:
        """Forget a process that has exited (closes its pidfd and console)."""
        with self._init_lock:
            target = started or self.init
            if target is None:
                return
            with contextlib.suppress(OSError):
                os.close(target.pidfd)
            if target.console is not None:
                with contextlib.suppress(OSError):
                    os.close(target.console)
            if target is self.init:
                self.init = None

    def delete(self) -> None:
        """Remove the cgroup (killing anything still in it)."""
        self.cgroup.destroy()


def _raise_reported(failure: bytes) -> None:
    """Raise what the new process reported on its errors pipe (nothing: execve succeeded)."""
    if failure:
        raise ContainerStartError.from_report(json.loads(failure))


def _receive_console(sock: socket.socket) -> int | None:
    _, fds, _, _ = socket.recv_fds(sock, 64, 1)
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds[0] if fds else None


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
