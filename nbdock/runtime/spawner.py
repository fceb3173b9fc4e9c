"""The spawner: a small single-threaded process that forks every container process.

Why it exists: the daemon runs many threads (asyncio plus workers), and
fork() in a multi-threaded program copies only the calling thread -- any
lock another thread held at that moment stays locked forever in the child,
which then hangs at a random point.  So the daemon never forks containers
itself.  It starts this process once (``python -m nbdock.runtime.spawner``)
and asks it, over a unix socket, to fork each container process.

How a container's PID 1 is born::

    spawner: unshare(CLONE_NEWPID)      -- moves only the spawner's *future children*
             fork() ───────────────▶ child: PID 1 of the new PID namespace (init.py):
             setns(own PID namespace)       unshare(CLONE_NEWNS|NEWUTS|NEWIPC|NEWNET),
               -- back to normal for          writes "ready", then builds its root
                  the next child              file system and waits for "go"
             reads "ready", answers the daemon with the pid

unshare(CLONE_NEWPID) is the odd one out among namespaces: it does not move
the caller (a process's pid can never change) but sets the namespace its
next children are born in, recorded in /proc/self/ns/pid_for_children.
``docker exec`` uses the same idea with setns: the spawner sets its
children's PID namespace to the container's, forks, and sets it back.

With a user namespace (``--userns-remap``) the order changes, because the
PID namespace must be *owned* by the container's user namespace (else its
root could not mount its own /proc), and only the process that unshares
CLONE_NEWPID can have a child in it::

    spawner: fork() ───────────────────▶ child: joins namespaces given as paths, then
                                               unshare(NEWUSER|NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET)
                                               -- one call: the user namespace first, the
                                                  others owned by it -- writes "userns"
             writes /proc/CHILD/uid_map, gid_map (we are root outside: only we may)
             makes the container's mounts outside (userns.py) and sends them ──▶
                                               setresuid(0): root *inside*, host uid 100000
                                               fork() ──▶ PID 1 (init.py), born inside all
                                               writes "pid N" "ready", exits
             reads them; PID 1, orphaned, is reparented to us: we are a "child
             subreaper" (PR_SET_CHILD_SUBREAPER), so we wait for it as for any child

The protocol: datagrams on a SOCK_SEQPACKET socket pair (message boundaries
are kept, and file descriptors travel with SCM_RIGHTS).  The daemon sends
``{"op": "create"|"exec", "id": n, "spec": {...}, "fds": [names]}`` with
those descriptors attached; the spawner answers ``{"id": n, "pid": p}``
with a pidfd attached (a handle on exactly that process, immune to pid
reuse) or ``{"id": n, "error": "..."}``, and later sends
``{"op": "exit", "pid": p, "status": s}`` when the process ends.  The
spawner only answers once the child is inside its new namespaces, so the
daemon can configure /proc/<pid>/ns/net at once.

No container outlives the engine:

* if the daemon goes away (the socket reaches end-of-file), the spawner
  SIGKILLs every process it started and exits;
* if the spawner dies too -- ``kill -9`` of the daemon's whole process
  group, or of the spawner alone -- nobody is left to do that, so each
  container process asks the kernel to kill it when its parent, the
  spawner, dies: ``PR_SET_PDEATHSIG`` (see ``init.die_with_supervisor``).
  The spawner does not ask the same of the daemon: the signal follows the
  death of the *thread* that forked, and the daemon's threads come and go.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Callable

from ..kernel import libc
from . import fsaccess, init, userns
from .errors import ContainerStartError
from .kernel import LINUX, Kernel, TracingKernel
from .trace import Trace
from .spec import ContainerSpec, ExecSpec

MAX_MESSAGE = 1 << 20
MAX_FDS = 16


# ===========================================================================
# The spawner process


class _SpawnerProcess:
    def __init__(self, control: socket.socket, kernel: Kernel = LINUX):
        self.control = control
        self.kernel = kernel  # its own calls (its PID namespace, subreaper) are not a container's: untraced
        self.children: set[int] = set()  # container processes whose exits we report
        self.own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        # A container with a user namespace is our grandchild (see the module's docstring): when its
        # parent exits, the kernel hands it to the nearest subreaper ancestor -- us -- not to PID 1.
        self.kernel.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
        # A handle on ourselves that every child inherits (as channels["supervisor"]): a pidfd turns
        # readable when its process has exited, so a child can tell whether we are still alive from
        # any PID namespace -- where getppid() says 0 for a parent outside it, alive or dead.
        # Close-on-exec (pidfd_open always sets it): the container's command never sees it.
        self.own_pidfd = os.pidfd_open(os.getpid())

    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)  # SIGCHLD writes a byte here, waking select()
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the daemon ends us by closing the socket
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is self.control:
                    message, fds = receive(self.control)
                    if not message:
                        self._daemon_gone()
                    self._handle(json.loads(message), fds)
                else:
                    while True:
                        try:
                            os.read(wake_r, 4096)
                        except BlockingIOError:
                            break
                    self._reap()

    def _handle(self, request: dict, fds: list[int]) -> None:
        channels = dict(zip(request.get("fds", []), fds))
        channels["supervisor"] = self.own_pidfd  # see init.die_with_supervisor
        try:
            if request["op"] == "create":
                spec = ContainerSpec.from_dict(request["spec"])
                pid_mode = spec.namespaces.get("pid", "new")  # "new", "host" or another container's namespace
                if spec.user_namespace:
                    pid = self._fork_in_user_namespace(
                        spec, channels, lambda ready, control: init.run_container_in_userns(spec, channels, ready, control))
                else:
                    pid = self._fork(channels, lambda ready: init.run_container(spec, channels, ready),
                                     pid_namespace=None if pid_mode == "host" else pid_mode)
            elif request["op"] == "exec":
                # "target" is a pidfd of the container's PID 1: its PID namespace is entered here
                # (for the child about to be forked) and its other namespaces by the child itself.
                spec = ExecSpec.from_dict(request["spec"])
                pid = self._fork(channels, lambda ready: init.run_exec(spec, channels, ready),
                                 pid_namespace=channels["target"])
            elif request["op"] == "fs":
                spec = fsaccess.FsRequest.from_dict(request["spec"])
                if spec.user_namespace and not spec.in_running_container:
                    # A stopped container of a remapped daemon: a user namespace for the helper alone.
                    pid = self._fork_in_user_namespace(
                        spec, channels, lambda ready, control: fsaccess.run(spec, {**channels, "control": control}, ready))
                else:
                    pid = self._fork(channels, lambda ready: fsaccess.run(spec, channels, ready), pid_namespace=None)
            else:
                raise ValueError(f"unknown request {request['op']!r}")
        except Exception as e:  # noqa: BLE001 - reported to the daemon, which raises it again
            failure = e if isinstance(e, ContainerStartError) else ContainerStartError(str(e))
            self._send({"id": request.get("id"), "error": failure.report()})
            return
        finally:
            for fd in fds:
                os.close(fd)  # the spawner keeps none of a container's descriptors
        pidfd = os.pidfd_open(pid)
        try:
            self.children.add(pid)
            self._send({"id": request["id"], "pid": pid}, [pidfd])
        finally:
            os.close(pidfd)

    def _fork(self, channels: dict[str, int], child_main: Callable[[int], None], pid_namespace: str | int | None) -> int:
        """Fork a child into ``pid_namespace`` and run ``child_main(ready_fd)`` in it; return its
        pid once it reports ready.  ``pid_namespace`` is "new", a /proc/PID/ns/pid path (``--pid
        container:X``), a pidfd whose process's PID namespace to use (exec), or None for ours."""
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        if pid_namespace == "new":
            self.kernel.unshare(libc.CLONE_NEWPID)
        elif isinstance(pid_namespace, int):
            self.kernel.setns(pid_namespace, libc.CLONE_NEWPID)
        elif pid_namespace is not None:
            ns = self.kernel.open(pid_namespace, os.O_RDONLY)
            try:
                self.kernel.setns(ns, libc.CLONE_NEWPID, shown_path=pid_namespace)
            finally:
                self.kernel.close(ns)
        try:
            pid = os.fork()
        except BaseException:
            self._restore_pid_namespace(pid_namespace)
            raise
        if pid == 0:
            try:
                os.close(ready_r)
                _reset_inherited_state(keep={ready_w, *channels.values()})
                child_main(ready_w)
            finally:
                os._exit(1)  # not reached: child_main execs or exits
        self._restore_pid_namespace(pid_namespace)
        os.close(ready_w)
        with os.fdopen(ready_r, "rb") as ready:
            answer = ready.read()
        if answer != init.READY:
            _raise_child_error(answer)
        return pid

    def _fork_in_user_namespace(self, spec, channels: dict[str, int], child_main: Callable[[int, int], None]) -> int:
        """Fork a child that makes a new user namespace; return the pid of the process that goes on.

        The child (``child_main(ready_fd, control_fd)``: init.run_container_in_userns,
        or a cp helper of fsaccess.py) unshares, we write its maps and make its
        mounts (``spec``'s rootfs and mounts), it becomes root inside.  The
        "ready" pipe carries ``userns``, then ``ready`` -- or, from a container's
        parent, ``pid N`` and ``ready``: PID 1 is its child -- or a JSON error;
        the mounts travel on a socket, as descriptors.
        """
        kernel = TracingKernel(self.kernel, Trace(fd=channels.get("trace")))
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                ours.close()
                _reset_inherited_state(keep={ready_w, theirs.fileno(), *channels.values()})
                child_main(ready_w, theirs.fileno())
            finally:
                os._exit(1)  # not reached
        os.close(ready_w)
        theirs.close()
        mounts: dict[str, int] = {}
        try:
            with os.fdopen(ready_r, "rb") as ready, ours:
                answer = ready.read(len(init.USERNS))
                if answer != init.USERNS:
                    _raise_child_error(answer + ready.read())
                try:
                    if "path" in spec.user_namespace:  # joined, not made: its maps are written already
                        kernel.note("userns", "setns", path=spec.user_namespace["path"], why="shares another container's")
                    else:
                        userns.write_id_maps(pid, spec.user_namespace, kernel)
                    mounts = userns.prepare_mounts(pid, spec, kernel)
                except BaseException:
                    os.kill(pid, signal.SIGKILL)
                    raise
                names = list(mounts)
                socket.send_fds(ours, [json.dumps(names).encode()], [mounts[n] for n in names])
                answer = ready.read()
        finally:
            for fd in mounts.values():
                os.close(fd)  # the child has its own copies now
        if answer == init.READY:
            return pid  # the child itself goes on
        head, _, rest = answer.partition(b"\n")
        if not head.startswith(b"pid ") or rest != init.READY:
            _raise_child_error(rest if head.startswith(b"pid ") else answer)
        # PID 1's parent exits right after writing this.  Wait until it has: from then on PID 1 is
        # our child (we are its subreaper), and the parent-death signal it arms before execve
        # (init.die_with_supervisor) is tied to us.  Armed while that parent lived, it would fire
        # at the parent's own exit -- the kernel sends it to the children of every parent that dies.
        os.waitpid(pid, 0)
        return int(head[4:])

    def _restore_pid_namespace(self, pid_namespace: str | None) -> None:
        if pid_namespace is not None:
            self.kernel.setns(self.own_pid_namespace, libc.CLONE_NEWPID)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.children:
                self.children.discard(pid)
                self._send({"op": "exit", "pid": pid, "status": status})

    def _send(self, message: dict, fds: list[int] = ()) -> None:
        socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))

    def _daemon_gone(self) -> None:
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)


def _raise_child_error(answer: bytes) -> None:
    """Raise what the child wrote before dying (nothing: it died without a word)."""
    report = json.loads(answer or b'{"message": "the container process died while creating its namespaces"}')
    raise ContainerStartError.from_report(report)


def receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One message and the descriptors that came with it, made close-on-exec.

    Descriptors received with SCM_RIGHTS are inheritable, unlike every other
    descriptor Python opens.  Left so, the "errors" pipe would survive the
    container's execve, and the daemon -- which takes end-of-file on it as
    "execve succeeded" -- would wait until the container's process ended.
    """
    message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
    for fd in fds:
        os.set_inheritable(fd, False)
    return message, fds


def _reset_inherited_state(keep: set[int]) -> None:
    """In a freshly forked child: drop the spawner's descriptors and signal settings.

    An ignored signal stays ignored across execve, and a shell cannot even
    trap a signal that was ignored when it started.  Python ignores SIGPIPE
    (without a reset ``yes | head -1`` would never end in a container), and a
    daemon started in the background by a shell inherits SIGINT and SIGQUIT
    ignored.  So every signal gets its default action back, and none stays
    blocked: a container starts as clean as one of runc's.
    """
    signal.set_wakeup_fd(-1)
    for signum in signal.valid_signals():
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            with contextlib.suppress(OSError, ValueError):
                signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    _SpawnerProcess(control).serve()


# ===========================================================================
# The daemon's side


@dataclass
class Spawned:
    pid: int  # host pid
    pidfd: int  # a pidfd: signal it with signal.pidfd_send_signal, no pid-reuse race


class SpawnerError(ContainerStartError):
    """The spawner itself failed (not running, no answer): no process was started."""


class Spawner:
    """The daemon's handle on the spawner process.  Thread-safe."""

    def __init__(self):
        self._process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, dict] = {}
        self._watchers: dict[int, Callable[[int], None]] = {}
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "nbdock.runtime.spawner", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._socket = ours
        self._reader = threading.Thread(target=self._read_loop, name="spawner-reader", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Close the socket: the spawner kills whatever it still runs and exits."""
        if self._socket is not None:
            self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
            self._socket = None
        if self._process is not None:
            self._process.wait(timeout=10)
            self._process = None

    def create(self, spec: ContainerSpec, channels: dict[str, int], on_exit: Callable[[int], None]) -> Spawned:
        """Fork a new container's PID 1; ``on_exit(wait_status)`` is called (from another thread) when it ends."""
        return self._request("create", spec.to_dict(), channels, on_exit)

    def exec(self, spec: ExecSpec, channels: dict[str, int], on_exit: Callable[[int], None]) -> Spawned:
        return self._request("exec", spec.to_dict(), channels, on_exit)

    def fs(self, request: "fsaccess.FsRequest", channels: dict[str, int], on_exit: Callable[[int], None]) -> Spawned:
        """A helper working on a container's files from inside its root (see fsaccess.py)."""
        return self._request("fs", request.to_dict(), channels, on_exit)

    def _request(self, op: str, spec: dict, channels: dict[str, int], on_exit) -> Spawned:
        if self._socket is None:
            raise SpawnerError("the spawner is not running")
        done = threading.Event()
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            self._pending[request_id] = {"done": done, "on_exit": on_exit}
            names = list(channels)
            message = json.dumps({"op": op, "id": request_id, "spec": spec, "fds": names}).encode()
            socket.send_fds(self._socket, [message], [channels[n] for n in names])
        if not done.wait(60):
            raise SpawnerError(f"the spawner did not answer a {op} request within 60 s")
        reply = self._pending.pop(request_id)["reply"]
        if "error" in reply:
            error = reply["error"]  # a ContainerStartError's report, its exit code included
            if isinstance(error, dict):
                raise ContainerStartError.from_report(error)
            raise SpawnerError(error)
        return Spawned(reply["pid"], reply["pidfd"])

    def _read_loop(self) -> None:
        while self._socket is not None:
            try:
                message, fds = receive(self._socket)
            except OSError:
                break
            if not message:
                break
            reply = json.loads(message)
            if reply.get("op") == "exit":
                watcher = self._watchers.pop(reply["pid"], None)
                if watcher is not None:
                    watcher(reply["status"])
                continue
            pending = self._pending.get(reply.get("id"))
            if pending is None:
                for fd in fds:
                    os.close(fd)
                continue
            if "pid" in reply:
                reply["pidfd"] = fds[0]
                # Registered before the next message is read, so no exit can slip past.
                self._watchers[reply["pid"]] = pending["on_exit"]
            pending["reply"] = reply
            pending["done"].set()
        for pending in list(self._pending.values()):
            pending["reply"] = {"error": "the spawner exited"}
            pending["done"].set()


if __name__ == "__main__":
    main()
