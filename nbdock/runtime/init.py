"""What a container's process does between fork() and execve().

:func:`run_container` runs as PID 1 of the new PID namespace (the
spawner made it) and creates the new mount, UTS, IPC and network
namespaces itself.  With a user namespace, :func:`run_container_in_userns`
creates them all and forks PID 1 into them (see spawner.py).  It builds the root file system, waits for the daemon to
finish the parts only the host can do (the network), then turns itself into
the user's command with execve -- keeping PID 1, which is why a container's
first process is the user's program and why, like every PID 1, it ignores
signals it has no handler for (``sh -c 'kill -9 $$'`` does nothing).

:func:`run_exec` does the same for ``docker exec``: a process that joined a
running container's namespaces.

Neither ever returns: they exec, or report why they could not and _exit.
Errors travel back on the "errors" pipe, which is close-on-exec: if the
daemon reads EOF without a message, the execve succeeded.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import stat

from ..kernel import libc
from . import capabilities, namespaces, rootfs, seccomp, users, userns
from .errors import ContainerStartError
from .kernel import LINUX, Kernel, TracingKernel
from .spec import DEFAULT_PATH, ContainerSpec, ExecSpec, Process
from .trace import Trace


#: What a new container process writes on its "ready" pipe once it is inside its namespaces.
READY = b"ready"
#: What the parent of a user-namespaced container writes once it has unshared: "write my maps".
USERNS = userns.USERNS


def run_container(spec: ContainerSpec, channels: dict[str, int], ready: int) -> None:
    """PID 1 of a new container.  The spawner made our PID namespace; we make the others."""
    kernel = _kernel(channels)
    try:
        others = {kind: mode for kind, mode in spec.namespaces.items() if kind not in ("pid", "cgroup")}
        namespaces.create(others, kernel)
        # Before "ready": the daemon plugs the network in once we are ready, and a new interface
        # takes its settings from the "default" ones written here.
        _write_sysctls(spec.sysctls, kernel)
    except BaseException as e:  # noqa: BLE001
        _report_and_exit(ready, e)
    _signal_ready(ready)
    _container_body(spec, channels, kernel)


def _kernel(channels: dict[str, int]) -> Kernel:
    """The kernel a container's process asks: the real one, each call written into the container's trace."""
    return TracingKernel(LINUX, Trace(fd=channels.get("trace")))


def run_container_in_userns(spec: ContainerSpec, channels: dict[str, int], ready: int, control: int) -> None:
    """The parent of a user-namespaced container's PID 1 (see spawner.py for the whole exchange).

    Forked by the spawner in the host's namespaces, as root of the host: we
    join what is given as paths while that still works, then create the user
    namespace and every other new one in one unshare -- the user namespace
    first, so it owns the others.  PID 1 must be *our* child, born in the new
    PID namespace, so we fork it once the spawner has written our maps and
    sent the mounts it made for us, then leave.
    """
    kernel = _kernel(channels)
    try:
        wanted = {kind: mode for kind, mode in spec.namespaces.items() if kind != "cgroup"}
        wanted["user"] = spec.user_namespace.get("path", "new")  # another container's, to share its namespaces
        namespaces.create(wanted, kernel)  # CLONE_NEWPID among them: it is our next child's
        os.write(ready, USERNS)  # -> the spawner writes /proc/<us>/uid_map and gid_map
        attached = userns.receive_mounts(control)
        userns.become_root_inside(kernel)
        _write_sysctls(spec.sysctls, kernel)
        pid = os.fork()
    except BaseException as e:  # noqa: BLE001
        _report_and_exit(ready, e)
    if pid == 0:
        try:
            os.close(ready)  # readiness is reported by our parent, which knows our pid
            os.close(control)
        finally:
            _container_body(spec, channels, kernel, attached)
    os.write(ready, b"pid %d\n" % pid + READY)
    os._exit(0)


def _container_body(spec: ContainerSpec, channels: dict[str, int], kernel: Kernel,
                    attached: dict[str, int] | None = None) -> None:
    """Everything PID 1 does once inside its namespaces: the root file system, then the user's command."""
    try:
        _connect_stdio(channels)
        os.setsid()  # a new session: the console (if any) becomes our controlling terminal
        set_up_container(spec, channels, kernel, attached)
    except BaseException as e:  # noqa: BLE001 - everything must be reported, then _exit
        _report_and_exit(channels.get("errors"), e)


def set_up_container(spec: ContainerSpec, channels: dict[str, int], kernel: Kernel,
                     attached: dict[str, int] | None = None) -> None:
    """PID 1's steps from the root file system to execve, each asked of ``kernel``; raises if one fails.

    ``channels``: "gate" (the daemon's "go"), and "console" with a tty,
    "supervisor" (see :func:`die_with_supervisor`) if any.
    """
    root = rootfs.prepare(spec, kernel, attached)
    rootfs.pivot(root, kernel)
    if attached:
        for fd in attached.values():
            kernel.close(fd)
    # Before finalize: with --read-only the root is remounted read-only there, and
    # Docker still creates a missing -w directory (it does so before the container starts).
    _make_workdir(spec.process.cwd, kernel)
    rootfs.finalize(spec, kernel)
    if spec.namespaces.get("uts") == "new":
        kernel.sethostname(spec.hostname)
        if spec.domainname:
            kernel.setdomainname(spec.domainname)
    user = _resolve_user(spec.process)
    if spec.process.tty:
        master, slave = kernel.openpty(user.uid)
        _size_terminal(master, spec.process.console_size, kernel)
        rootfs.bind_console(slave, kernel)
        _send_console(channels["console"], master)
        kernel.make_controlling_terminal(slave)
    _enter_workdir(spec.process.cwd, kernel)
    _wait_for_go(channels["gate"])
    if spec.namespaces.get("cgroup") == "new":
        # Only now has the daemon moved us into our cgroup, and a new cgroup
        # namespace is rooted at the cgroup its creator is in.
        kernel.unshare(libc.CLONE_NEWCGROUP)
        if spec.cgroup_version == 2:  # on v1 the container's own hierarchies are bound in already
            rootfs.mount_cgroup2("/sys/fs/cgroup", kernel)
    _exec(spec.process, user, kernel, channels.get("supervisor"))


def run_exec(spec: ExecSpec, channels: dict[str, int], ready: int) -> None:
    """A process joining a running container.  The spawner put us in its PID namespace."""
    kernel = _kernel(channels)
    try:
        join_container(spec, channels, kernel)
    except BaseException as e:  # noqa: BLE001
        _report_and_exit(ready, e)
    _signal_ready(ready)
    try:
        _connect_stdio(channels)
        os.setsid()
        user = _resolve_user(spec.process)
        if spec.process.tty:
            master, slave = kernel.openpty(user.uid)
            _size_terminal(master, spec.process.console_size, kernel)
            _send_console(channels["console"], master)
            kernel.make_controlling_terminal(slave)
        _enter_workdir(spec.process.cwd, kernel)
        _wait_for_go(channels["gate"])
        # An exec's process is the spawner's child too, and must die with it: when the container
        # has a PID namespace of its own, the death of its PID 1 would take us along anyway, but
        # not with --pid=host, and not if the spawner alone dies.
        _exec(spec.process, user, kernel, channels.get("supervisor"))
    except BaseException as e:  # noqa: BLE001
        _report_and_exit(channels.get("errors"), e)


def join_container(spec: ExecSpec, channels: dict[str, int], kernel: Kernel) -> None:
    """An exec's way in: the container's namespaces (but the PID one, the spawner's part), then its root."""
    # The spawner forked us into the container's PID namespace already; "target" is a
    # pidfd of the container's PID 1, which names it whatever pids mean in here.
    namespaces.enter(channels["target"], [k for k in spec.namespaces if k != "pid"], kernel)
    kernel.close(channels.pop("target"))
    if "user" in spec.namespaces:
        # Root of the container now, not the host's unmapped 0: what we make (the pty of -t)
        # must be owned by ids the container's namespace knows.
        userns.become_root_inside(kernel)


# ---------------------------------------------------------------------------


def _write_sysctls(sysctls: dict[str, str], kernel: Kernel) -> None:
    """Kernel settings of our own namespaces (``--sysctl``, and Docker's defaults).

    /proc/sys/net shows the network namespace of whoever reads it (and
    /proc/sys/kernel/shm* the IPC namespace): written from inside, these
    settings are the container's alone, whatever /proc is mounted.
    """
    for key, value in sysctls.items():
        try:
            kernel.write_sysctl(key, value)
        except OSError as e:
            raise ContainerStartError(f"write sysctl key {key}: {e.strerror.lower()}") from None


def _signal_ready(ready: int) -> None:
    os.write(ready, READY)
    os.close(ready)


def _connect_stdio(channels: dict[str, int]) -> None:
    """Make the daemon's pipes our fds 0, 1 and 2 (stdin is /dev/null unless -i)."""
    stdin = channels.get("stdin")
    if stdin is None:
        stdin = os.open("/dev/null", os.O_RDONLY)
    for target, fd in ((0, stdin), (1, channels.get("stdout")), (2, channels.get("stderr"))):
        if fd is None:
            continue
        if fd == target:
            os.set_inheritable(fd, True)  # received close-on-exec; 0, 1 and 2 must survive execve
        else:
            os.dup2(fd, target)  # dup2's copy is inheritable


def _size_terminal(master: int, console_size: list[int], kernel: Kernel) -> None:
    """Give the terminal the client's size before the command runs (so ``stty size`` is right at once)."""
    rows, columns = console_size
    if rows and columns:
        kernel.set_window_size(master, rows, columns)


def _send_console(console_socket: int, master: int) -> None:
    """Hand the pty master to the daemon over a unix socket (SCM_RIGHTS passes the descriptor itself)."""
    with socket.socket(fileno=console_socket) as sock:
        socket.send_fds(sock, [b"console"], [master])
    os.close(master)


def _resolve_user(process: Process) -> users.ExecUser:
    try:
        return users.resolve(process.user, additional_groups=process.additional_groups)
    except users.UserLookupError as e:
        raise ContainerStartError(str(e)) from None


def _make_workdir(cwd: str, kernel: Kernel) -> None:
    """``-w`` of ``docker run`` is created when missing, as Docker does (``exec -w`` must exist)."""
    try:
        kernel.makedirs(cwd or "/", 0o755)
    except (FileExistsError, NotADirectoryError):
        raise ContainerStartError(f"Cannot mkdir: {cwd} is not a directory") from None
    except OSError as e:
        raise ContainerStartError(f"Cannot mkdir: {cwd}: {e.strerror.lower()}") from None


def _enter_workdir(cwd: str, kernel: Kernel) -> None:
    try:
        kernel.chdir(cwd or "/")
    except OSError as e:
        raise ContainerStartError(f'chdir to cwd ("{cwd}") set in config.json failed: {e.strerror.lower()}', 126) from None


def _wait_for_go(gate: int) -> None:
    """Block until the daemon has done its part (cgroup, network) and says "go".

    Only the daemon holds the gate's other end: if it dies before saying
    "go", the read ends (end-of-file) and we leave.  So until here no
    container process can outlive the engine, and from here on
    :func:`die_with_supervisor` sees to it.
    """
    message = os.read(gate, 16)
    if message != b"go":
        os._exit(0)  # the daemon gave up on this start; nobody is waiting for our errors


def _environment(process: Process, user: users.ExecUser) -> dict[str, str]:
    env = {}
    for item in process.env:
        key, _, value = item.partition("=")
        env[key] = value
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOME", user.home)
    return env


def find_executable(name: str, path: str) -> str:
    """Where execve should look for ``name``, with the error messages runc (and so Docker) gives."""
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            raise ContainerStartError(f'exec: "{name}": stat {name}: no such file or directory', 127) from None
        if stat.S_ISDIR(st.st_mode) or not os.access(name, os.X_OK):  # a directory too, as Go's LookPath says
            raise ContainerStartError(f'exec: "{name}": permission denied', 126)
        return name
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ContainerStartError(f'exec: "{name}": executable file not found in $PATH', 127)


def die_with_supervisor(supervisor: int | None, kernel: Kernel) -> None:
    """Ask the kernel to SIGKILL us when the spawner (our parent) dies; leave at once if it has.

    The spawner kills its containers when the daemon goes away, but if the
    spawner dies too (``kill -9`` of the daemon's process group) nobody is
    left to: a container would run on as an orphan under the host's PID 1.
    ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel send us SIGKILL
    when our parent dies.  What the kernel means by that, and so why this
    runs where it does:

    * it is the death of the parent *thread* that forked us, not of its
      process.  The spawner is single-threaded, so here they are the same
      (a thread of the daemon exiting would have killed a child of its);
    * it fires whenever the *current* parent dies, so it is armed only once
      our parent is the spawner for good: a user-namespaced PID 1 is forked
      by a short-lived parent, which the spawner has waited for (reaped)
      before telling the daemon, so before the daemon says "go";
    * a change of credentials clears it (setuid, setgid to other ids,
      capabilities gained), and so does an execve of a setuid, setgid or
      file-capability program: so it is armed after setuid and capset,
      just before our execve (a setuid program the container runs later
      loses it -- but its PID 1 keeps it, see below);
    * armed after the parent died, it never fires.  So we check afterwards
      that the spawner is alive, through ``supervisor``, a pidfd of it
      (readable once it has exited).  ``getppid()`` cannot tell: in a PID
      namespace a parent outside it is 0, alive or dead;
    * in a PID namespace it still follows the parent's death outside it.
      And when a PID namespace's PID 1 dies, the kernel SIGKILLs every other
      process in the namespace: killing PID 1 is enough for a container,
      its own children included.  An exec's process joined the namespace
      but is the spawner's child too, and arms it as well.
    """
    if supervisor is None:
        return  # forked by something other than the spawner (tests driving init directly)
    kernel.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([supervisor], [], [], 0)[0]:
        os._exit(137)  # the spawner died before we armed it: 128 + SIGKILL, as if it had fired
    os.close(supervisor)


def _exec(process: Process, user: users.ExecUser, kernel: Kernel, supervisor: int | None = None) -> None:
    if not process.args:
        raise ContainerStartError("no command specified", 125)
    env = _environment(process, user)
    executable = find_executable(process.args[0], env["PATH"])
    try:
        # Built now (libseccomp's work needs no privilege), loaded below as late as the kernel lets us.
        confinement = seccomp.prepare(process.seccomp, process.capabilities)
    except (seccomp.ProfileError, OSError) as e:
        raise ContainerStartError(f"error loading seccomp filter: {e}") from None
    if process.oom_score_adj:
        kernel.set_oom_score_adj(process.oom_score_adj)
    for name, soft, hard in process.rlimits:
        kernel.setrlimit(name, soft, hard)
    capabilities.limit_bounding_set(process.capabilities, kernel)
    if confinement and not process.no_new_privileges:
        # Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which we still hold now and
        # lose at setuid or capset just below: so it goes in here (runc's order), and the profile
        # must allow what follows -- setgroups, setgid, setuid, capset, execve.
        _load_seccomp(confinement, kernel)
    kernel.set_credentials(user.uid, user.gid, user.groups)  # leaving uid 0 empties the permitted and effective sets
    if user.uid == 0:
        capabilities.set_process_capabilities(process.capabilities, kernel)
    # Our credentials are final now (their changes clear the parent-death signal); before the last
    # seccomp filter, which may not allow prctl.  Without no_new_privs the filter is already in:
    # prctl must then pass it, as in runc (Docker's default profile allows it).
    die_with_supervisor(supervisor, kernel)
    if process.no_new_privileges:
        # No setuid bit or file capability can raise this process or its children above what it has now.
        kernel.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        if confinement:
            _load_seccomp(confinement, kernel)  # no_new_privs is enough: last, so it filters only the execve
    try:
        kernel.execve(executable, process.args, env)
    except OSError as e:
        code = 127 if e.errno == errno.ENOENT else 126
        raise ContainerStartError(f'exec: "{process.args[0]}": {e.strerror.lower()}', code) from None


def _load_seccomp(confinement: seccomp.Filter | seccomp.Program, kernel: Kernel) -> None:
    try:
        kernel.load_seccomp(confinement)
    except OSError as e:
        raise ContainerStartError(f"error loading seccomp filter into kernel: {e}") from None
    confinement.release()


def _report_and_exit(errors_fd: int | None, error: BaseException) -> None:
    if not isinstance(error, ContainerStartError):
        error = ContainerStartError(f"{type(error).__name__}: {error}", 1)
    if errors_fd is not None:
        try:
            os.write(errors_fd, json.dumps(error.report()).encode())
        except OSError:
            pass
    os._exit(error.exit_code)
