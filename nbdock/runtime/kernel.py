"""The kernel seam: every call a container's setup makes, behind one interface.

The runtime's setup steps (rootfs.py, namespaces.py, devices.py,
capabilities.py, userns.py, init.py) never call :mod:`nbdock.kernel.libc`
or ``os`` for a kernel-facing step themselves: they are handed a
:class:`Kernel` and ask it -- as youki's ``Syscall`` trait does for Rust.
Three kernels answer:

* :class:`LinuxKernel` makes the real calls (libc, ``os``);
* :class:`TracingKernel` wraps another kernel and writes each call, with its
  arguments, into the container's trace (trace.py) before making it, so the
  trace is by construction what the kernel was asked -- not a hand-written
  account beside the calls that could drift from them;
* ``RecordingKernel`` (tests/runtime/kernelrecorder.py) records the calls
  without making them, so the order of a container's setup -- mounts,
  pivot_root, /dev, masked paths, capabilities, prctl, execve -- is tested
  without root.

The entry points (init.run_container, init.run_exec, the spawner's
user-namespace side) build ``TracingKernel(LinuxKernel(), trace)`` once and
pass it down.  Steps called without a kernel (``docker cp``'s helper,
fsaccess.py) get :data:`LINUX`, untraced.

Paths: several calls take a ``shown_*`` argument, the path as the container
will see it ("/proc", "/dev/null"), where the real argument is a host path
or a /proc/self/fd/N handle.  It changes nothing in the call; the trace
shows it instead of the raw path.

Each method's docstring states what the kernel requires before the call can
succeed (more in libc.py, whose wrappers most of them are).
"""

from __future__ import annotations

import os
import resource
import signal
import stat
from typing import Any, Protocol

from ..kernel import libc
from .capabilities import CAPABILITY_NAMES
from . import terminal  # at the top: after pivot_root nbdock's files are out of reach
from .rlimits import RLIMITS
from .trace import NO_TRACE, Trace

#: The namespace flags by their kernel names, the user namespace first (the kernel makes it first).  The
#: mount namespace's is CLONE_NEWNS: it was the first namespace, in 2002, when nobody expected others.
_NAMESPACE_FLAGS = (
    ("CLONE_NEWUSER", libc.CLONE_NEWUSER), ("CLONE_NEWNS", libc.CLONE_NEWNS), ("CLONE_NEWUTS", libc.CLONE_NEWUTS),
    ("CLONE_NEWIPC", libc.CLONE_NEWIPC), ("CLONE_NEWNET", libc.CLONE_NEWNET), ("CLONE_NEWPID", libc.CLONE_NEWPID),
    ("CLONE_NEWCGROUP", libc.CLONE_NEWCGROUP),
)
_MOUNT_FLAGS = ("MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_REMOUNT", "MS_BIND", "MS_REC", "MS_PRIVATE",
                "MS_STRICTATIME")
_PRCTL_NAMES = {libc.PR_SET_PDEATHSIG: "PR_SET_PDEATHSIG", libc.PR_SET_DUMPABLE: "PR_SET_DUMPABLE",
                libc.PR_SET_NO_NEW_PRIVS: "PR_SET_NO_NEW_PRIVS", libc.PR_CAP_AMBIENT: "PR_CAP_AMBIENT",
                libc.PR_SET_CHILD_SUBREAPER: "PR_SET_CHILD_SUBREAPER", libc.PR_CAPBSET_DROP: "PR_CAPBSET_DROP"}


_OPEN_TREE_FLAGS = (("OPEN_TREE_CLONE", libc.OPEN_TREE_CLONE), ("AT_RECURSIVE", libc.AT_RECURSIVE))
_MOUNT_ATTRS = (("MOUNT_ATTR_RDONLY", libc.MOUNT_ATTR_RDONLY), ("MOUNT_ATTR_NOSUID", libc.MOUNT_ATTR_NOSUID),
                ("MOUNT_ATTR_NODEV", libc.MOUNT_ATTR_NODEV), ("MOUNT_ATTR_NOEXEC", libc.MOUNT_ATTR_NOEXEC),
                ("MOUNT_ATTR_IDMAP", libc.MOUNT_ATTR_IDMAP))
_FSCONFIG_CMDS = {libc.FSCONFIG_SET_FLAG: "FSCONFIG_SET_FLAG", libc.FSCONFIG_SET_STRING: "FSCONFIG_SET_STRING"}


def _names(flags: int, table) -> str:
    return "|".join(name for name, bit in table if flags & bit) or "0"


def namespace_flag_names(flags: int) -> str:
    """``CLONE_NEWUSER | CLONE_NEWNS | ...``: the flags of ``flags``, the user namespace's first."""
    return " | ".join(name for name, bit in _NAMESPACE_FLAGS if flags & bit)


def mount_flag_names(flags: int) -> str:
    return "|".join(name for name in _MOUNT_FLAGS if flags & getattr(libc, name)) or "0"


def capability_name(bit: int) -> str:
    return CAPABILITY_NAMES[bit] if bit < len(CAPABILITY_NAMES) else str(bit)


class Kernel(Protocol):
    """The calls a container's setup makes, in the order of a container's life.

    A failed call raises OSError (libc.SyscallError for libc's calls), as the
    real kernel's failure would.
    """

    # -- namespaces
    def unshare(self, flags: int) -> None:
        """unshare(2): new namespaces of the kinds in ``flags`` (CLONE_NEW*).

        CAP_SYS_ADMIN for every kind but CLONE_NEWUSER; CLONE_NEWPID moves only
        the caller's next child; the caller must be single-threaded.
        """

    def open(self, path: str, flags: int, mode: int = 0o777) -> int:
        """open(2), close-on-exec: a namespace file to join, a directory to attach a mount at."""

    def close(self, fd: int) -> None:
        """close(2)."""

    def setns(self, fd: int, nstype: int, *, shown_path: str | None = None) -> None:
        """setns(2): join the namespace ``fd`` names (a /proc/PID/ns file), or with a pidfd and an OR
        of CLONE_NEW* flags all those namespaces of its process at once.

        CAP_SYS_ADMIN over the namespace joined; a mount namespace only by a
        single-threaded process.  ``shown_path``: the namespace file's path, for the trace.
        """

    def sethostname(self, name: str) -> None:
        """sethostname(2): CAP_SYS_ADMIN over our UTS namespace, at most 64 bytes; after
        unshare(CLONE_NEWUTS), or it renames the host."""

    def setdomainname(self, name: str) -> None:
        """setdomainname(2): as sethostname, the NIS domain name of our UTS namespace."""

    def write_sysctl(self, key: str, value: str) -> None:
        """Write /proc/sys/<key with dots as slashes>: a setting of the namespace of whoever writes it
        (net.*: our network namespace; kernel.shm*: our IPC namespace).  The key must exist (ENOENT)."""

    # -- user namespaces (the spawner's side, root of the host, then the child's)
    def read_setgroups(self, pid: int) -> str:
        """Read /proc/PID/setgroups ("allow" or "deny"): whether the namespace may call setgroups(2)."""

    def write_id_map(self, pid: int, name: str, text: str) -> None:
        """Write /proc/PID/uid_map or gid_map (``name``): once, in one write; the writer holds
        CAP_SETUID (CAP_SETGID) over the parent namespace and may use every outside id mapped."""

    def setresuid(self, uid: int, gid: int, groups: list[int]) -> None:
        """setresgid(2), setgroups(2), setresuid(2): take these ids as real, effective and saved ones.

        Entering uid 0 of a user namespace keeps the capabilities; setgroups
        needs "allow" in /proc/self/setgroups.
        """

    # -- mounts
    def mount(self, source: str | None, target: str, fstype: str | None = None, flags: int = 0,
              data: str | None = None, *, shown_target: str | None = None) -> None:
        """mount(2): see libc.mount -- CAP_SYS_ADMIN over the mount namespace, ``target`` exists,
        a bind's MS_RDONLY takes a second MS_REMOUNT call, propagation changes need a mount point.
        ``shown_target``: the target as the container sees it, for the trace."""

    def umount2(self, target: str, flags: int = 0, *, why: str | None = None) -> None:
        """umount2(2): ``target`` is a mount point; without MNT_DETACH, EBUSY while it is in use."""

    def pivot_root(self, new_root: str, put_old: str, *, shown_new_root: str | None = None) -> None:
        """pivot_root(2): ``new_root`` a mount point not on the current root's mount, ``put_old`` at or
        under it, nothing MS_SHARED, CAP_SYS_ADMIN.  See libc.pivot_root for each EINVAL."""

    def move_mount(self, from_fd: int, to_dirfd: int, *, shown_target: str) -> None:
        """move_mount(2) with MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH: attach the detached mount
        ``from_fd`` on the directory (or file) ``to_dirfd`` names.  CAP_SYS_ADMIN over our mount
        namespace; a mount detached by another process only if never attached before."""

    # -- the new mount API: mounts made as descriptors, detached (the spawner's, for a user namespace)
    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        """open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at ``path`` (AT_RECURSIVE: and the
        mounts below it), gone when its last descriptor closes.  CAP_SYS_ADMIN over our mount namespace."""

    def mount_setattr(self, fd: int, attr_set: int, *, userns_fd: int = 0, flags: int = libc.AT_EMPTY_PATH,
                      shown_path: str | None = None) -> None:
        """mount_setattr(2) of the mount ``fd``: MOUNT_ATTR_RDONLY..., or MOUNT_ATTR_IDMAP with ``userns_fd``
        (only on a detached mount never attached, once; the namespace's maps written; a file system that
        supports it).  ``shown_path``: what the mount is of, for the trace."""

    def fsopen(self, fstype: str) -> int:
        """fsopen(2): a file system context of ``fstype``.  CAP_SYS_ADMIN over our mount namespace."""

    def fsconfig(self, fd: int, cmd: int, key: str | None = None, value: str | None = None) -> None:
        """fsconfig(2): one option of the context (FSCONFIG_SET_STRING), or FSCONFIG_CMD_CREATE to make the
        super block with our credentials; a refusal leaves the kernel's reason in the context's log."""

    def fsmount(self, fd: int, attr_flags: int = 0, *, what: str | None = None) -> int:
        """fsmount(2): a detached mount of the created context ``fd``, to attach with move_mount."""

    def chdir(self, path: str) -> None:
        """chdir(2): ``path`` a directory we may search (EACCES, ENOENT, ENOTDIR otherwise)."""

    def stat(self, path: str) -> os.stat_result:
        """stat(2), following symlinks: raises FileNotFoundError for a missing path."""

    def makedirs(self, path: str, mode: int = 0o777) -> None:
        """mkdir(2) of ``path`` and its missing parents; an existing directory is fine (a file is not:
        FileExistsError, NotADirectoryError)."""

    # -- /dev
    def mknod(self, path: str, mode: int, device: int, *, shown_path: str | None = None) -> None:
        """mknod(2), then chmod(2) to ``mode`` exactly (the umask narrows mknod's).  CAP_MKNOD, and never
        inside a user namespace (EPERM whatever the capabilities)."""

    def symlink(self, target: str, path: str, *, shown_path: str | None = None) -> None:
        """symlink(2): ``path`` must not exist (EEXIST); ``target`` is not checked."""

    def openpty(self, uid: int) -> tuple[int, str]:
        """Open /dev/ptmx (the devpts mounted at /dev/pts must be ours: newinstance), unlock the slave
        and give it to ``uid``; return (master fd, slave path)."""

    def set_window_size(self, master: int, rows: int, columns: int) -> None:
        """ioctl(TIOCSWINSZ) on a pty master: the size the terminal reports (SIGWINCH to its foreground group)."""

    def make_controlling_terminal(self, slave_path: str) -> None:
        """Open the pty slave, ioctl(TIOCSCTTY) -- we must be a session leader (setsid) without a terminal --
        and make it fds 0, 1 and 2."""

    # -- the process, before execve
    def set_oom_score_adj(self, value: int) -> None:
        """Write /proc/self/oom_score_adj: lowering it needs CAP_SYS_RESOURCE; the file must be ours
        (after a change of ids, PR_SET_DUMPABLE 1)."""

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        """setrlimit(2) of RLIMIT_<name>: raising the hard limit needs CAP_SYS_RESOURCE; soft <= hard."""

    def capbset_drop(self, bits: list[int]) -> None:
        """prctl(PR_CAPBSET_DROP) of each capability in ``bits``: needs CAP_SETPCAP, so before setuid."""

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        """prctl(2): PR_SET_PDEATHSIG (cleared by a change of credentials), PR_SET_NO_NEW_PRIVS
        (for good), PR_SET_DUMPABLE, PR_CAP_AMBIENT..."""

    def set_credentials(self, uid: int, gid: int, groups: list[int]) -> None:
        """setgroups(2), setgid(2), setuid(2), in that order (each needs the capability the next one
        drops: CAP_SETGID, CAP_SETUID).  Leaving uid 0 empties the permitted and effective sets."""

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """capset(2): permitted a subset of the current one, effective of the new permitted."""

    def load_seccomp(self, confinement: Any) -> None:
        """Install a seccomp filter (seccomp.Filter or seccomp.Program): no_new_privs set, or
        CAP_SYS_ADMIN.  A filter is for good: later calls, execve included, pass it."""

    def execve(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        """execve(2): never returns.  ``path`` executable by us (EACCES), its interpreter found (ENOENT)."""

    # -- the container from outside: its cgroup, its signals (container.py, cgroups/)
    def make_cgroup(self, path: str) -> None:
        """mkdir(2) in a cgroup file system: the kernel fills the new directory with the
        controllers' files.  The parent must exist; EEXIST if another made it first."""

    def write_cgroup_file(self, path: str, value: str) -> None:
        """write(2) to a cgroup file: the kernel parses ``value`` at once (EINVAL for a value it
        refuses, EBUSY for some limits below current use)."""

    def join_cgroup(self, procs_path: str, pid: int) -> None:
        """Write ``pid`` to a cgroup.procs file: the kernel moves the whole thread group.  The
        writer must be allowed to write both the source's and the destination's files."""

    def remove_cgroup(self, path: str) -> None:
        """rmdir(2) of a cgroup: EBUSY while a process (or, on v2, a child cgroup) is inside;
        a process that just exited leaves a moment later."""

    def pidfd_send_signal(self, pidfd: int, sig: int, *, pid: int) -> None:
        """pidfd_send_signal(2) (Linux 5.1): a signal to the very process the pidfd was opened
        for, never to another that reused its pid.  ``pid`` is for the trace."""

    def attach_device_program(self, cgroup_dir: str, bytecode: bytes, name: str, license: str, *, rules: int) -> None:
        """bpf(BPF_PROG_LOAD) of a BPF_PROG_TYPE_CGROUP_DEVICE program, then bpf(BPF_PROG_ATTACH)
        to the v2 cgroup with BPF_F_ALLOW_MULTI.  Root (CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN)
        in the initial user namespace; a kernel with CONFIG_CGROUP_BPF.  ``rules`` is for the trace."""

    # -- teaching
    def note(self, kind: str, op: str, **args: Any) -> None:
        """Not a call: a step worth showing in the trace that the kernel does not see as one
        (a volume's copy-up).  Only a tracing kernel keeps it."""


class LinuxKernel:
    """The real calls."""

    def unshare(self, flags: int) -> None:
        libc.unshare(flags)

    def open(self, path: str, flags: int, mode: int = 0o777) -> int:
        return os.open(path, flags | os.O_CLOEXEC, mode)

    def close(self, fd: int) -> None:
        os.close(fd)

    def setns(self, fd: int, nstype: int, *, shown_path: str | None = None) -> None:
        libc.setns(fd, nstype)

    def sethostname(self, name: str) -> None:
        libc.sethostname(name)

    def setdomainname(self, name: str) -> None:
        libc.setdomainname(name)

    def write_sysctl(self, key: str, value: str) -> None:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)

    def read_setgroups(self, pid: int) -> str:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip()

    def write_id_map(self, pid: int, name: str, text: str) -> None:
        fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def setresuid(self, uid: int, gid: int, groups: list[int]) -> None:
        os.setresgid(gid, gid, gid)
        os.setgroups(groups)
        os.setresuid(uid, uid, uid)

    def mount(self, source, target, fstype=None, flags=0, data=None, *, shown_target=None) -> None:
        libc.mount(source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0, *, why: str | None = None) -> None:
        libc.umount2(target, flags)

    def pivot_root(self, new_root: str, put_old: str, *, shown_new_root: str | None = None) -> None:
        libc.pivot_root(new_root, put_old)

    def move_mount(self, from_fd: int, to_dirfd: int, *, shown_target: str) -> None:
        libc.move_mount(from_fd, "", to_dirfd=to_dirfd, flags=libc.MOVE_MOUNT_F_EMPTY_PATH | libc.MOVE_MOUNT_T_EMPTY_PATH)

    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        return libc.open_tree(dirfd, path, flags)

    def mount_setattr(self, fd: int, attr_set: int, *, userns_fd: int = 0, flags: int = libc.AT_EMPTY_PATH,
                      shown_path: str | None = None) -> None:
        libc.mount_setattr(fd, attr_set, userns_fd=userns_fd, flags=flags)

    def fsopen(self, fstype: str) -> int:
        return libc.fsopen(fstype)

    def fsconfig(self, fd: int, cmd: int, key: str | None = None, value: str | None = None) -> None:
        libc.fsconfig(fd, cmd, key, value)

    def fsmount(self, fd: int, attr_flags: int = 0, *, what: str | None = None) -> int:
        return libc.fsmount(fd, attr_flags)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def stat(self, path: str) -> os.stat_result:
        return os.stat(path)

    def makedirs(self, path: str, mode: int = 0o777) -> None:
        os.makedirs(path, mode, exist_ok=True)

    def mknod(self, path: str, mode: int, device: int, *, shown_path: str | None = None) -> None:
        os.mknod(path, mode, device)
        os.chmod(path, stat.S_IMODE(mode))

    def symlink(self, target: str, path: str, *, shown_path: str | None = None) -> None:
        os.symlink(target, path)

    def openpty(self, uid: int) -> tuple[int, str]:
        return terminal.open_pty(uid)

    def set_window_size(self, master: int, rows: int, columns: int) -> None:
        terminal.set_window_size(master, rows, columns)

    def make_controlling_terminal(self, slave_path: str) -> None:
        terminal.make_controlling_terminal(slave_path)

    def set_oom_score_adj(self, value: int) -> None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        resource.setrlimit(RLIMITS[name], (soft, hard))

    def capbset_drop(self, bits: list[int]) -> None:
        for bit in bits:
            libc.prctl(libc.PR_CAPBSET_DROP, bit)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return libc.prctl(option, arg2, arg3, arg4, arg5)

    def set_credentials(self, uid: int, gid: int, groups: list[int]) -> None:
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        libc.capset(effective=effective, permitted=permitted, inheritable=inheritable)

    def load_seccomp(self, confinement: Any) -> None:
        confinement.load()

    def execve(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        os.execve(path, argv, env)

    def make_cgroup(self, path: str) -> None:
        os.mkdir(path)

    def write_cgroup_file(self, path: str, value: str) -> None:
        with open(path, "w") as f:
            f.write(value)

    def join_cgroup(self, procs_path: str, pid: int) -> None:
        with open(procs_path, "w") as f:
            f.write(str(pid))

    def remove_cgroup(self, path: str) -> None:
        os.rmdir(path)

    def pidfd_send_signal(self, pidfd: int, sig: int, *, pid: int) -> None:
        signal.pidfd_send_signal(pidfd, sig)

    def attach_device_program(self, cgroup_dir: str, bytecode: bytes, name: str, license: str, *, rules: int) -> None:
        # The kernel identifies the cgroup by an open descriptor of its directory; the
        # attachment keeps the program alive, so its own descriptor is closed at once.
        cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            prog_fd = libc.bpf_prog_load(libc.BPF_PROG_TYPE_CGROUP_DEVICE, bytecode, license, name)
            try:
                libc.bpf_prog_attach(cgroup_fd, prog_fd, libc.BPF_CGROUP_DEVICE, libc.BPF_F_ALLOW_MULTI)
            finally:
                os.close(prog_fd)
        finally:
            os.close(cgroup_fd)

    def note(self, kind: str, op: str, **args: Any) -> None:
        pass


#: The real kernel, untraced: what a step uses when it is given no kernel.
LINUX = LinuxKernel()


class TracingKernel:
    """Writes each call into ``trace`` (kind, op, args: the shapes trace.py describes), then makes it.

    The event goes first, so a call that fails is in the trace too -- the
    last step shown is the one that failed.  Plumbing calls (open, close,
    chdir, stat, makedirs, the terminal's ioctls) pass through unrecorded: they are not steps of
    the container's setup a student needs to see.
    """

    def __init__(self, kernel: Kernel, trace: Trace = NO_TRACE):
        self.kernel = kernel
        self.trace = trace

    def _emit(self, kind: str, op: str, **args: Any) -> None:
        self.trace.emit(kind, op, **args)

    def unshare(self, flags: int) -> None:
        self._emit("namespace", "unshare", flags=namespace_flag_names(flags))
        self.kernel.unshare(flags)

    def open(self, path: str, flags: int, mode: int = 0o777) -> int:
        return self.kernel.open(path, flags, mode)

    def close(self, fd: int) -> None:
        self.kernel.close(fd)

    def setns(self, fd: int, nstype: int, *, shown_path: str | None = None) -> None:
        where = {"path": shown_path} if shown_path is not None else {"fd": "pidfd"}
        self._emit("namespace", "setns", **where, nstype=namespace_flag_names(nstype))
        self.kernel.setns(fd, nstype, shown_path=shown_path)

    def sethostname(self, name: str) -> None:
        self._emit("namespace", "sethostname", name=name)
        self.kernel.sethostname(name)

    def setdomainname(self, name: str) -> None:
        self._emit("namespace", "setdomainname", name=name)
        self.kernel.setdomainname(name)

    def write_sysctl(self, key: str, value: str) -> None:
        self._emit("namespace", "sysctl", key=key, value=value)
        self.kernel.write_sysctl(key, value)

    def read_setgroups(self, pid: int) -> str:
        value = self.kernel.read_setgroups(pid)
        self._emit("userns", "setgroups", path=f"/proc/{pid}/setgroups", value=value,
                   why="left as is: a privileged writer may map groups without denying setgroups(2)")
        return value

    def write_id_map(self, pid: int, name: str, text: str) -> None:
        self._emit("userns", "write", path=f"/proc/{pid}/{name}", value=text.strip())
        self.kernel.write_id_map(pid, name, text)

    def setresuid(self, uid: int, gid: int, groups: list[int]) -> None:
        self._emit("userns", "setresuid", uid=uid, gid=gid, groups=groups, why="root inside the user namespace")
        self.kernel.setresuid(uid, gid, groups)

    def mount(self, source, target, fstype=None, flags=0, data=None, *, shown_target=None) -> None:
        self._emit("mount", "mount", source=source, target=shown_target or target, fstype=fstype,
                   flags=mount_flag_names(flags), data=data)
        self.kernel.mount(source, target, fstype, flags, data, shown_target=shown_target)

    def umount2(self, target: str, flags: int = 0, *, why: str | None = None) -> None:
        shown = "MNT_DETACH" if flags == libc.MNT_DETACH else str(flags)
        self._emit("rootfs", "umount2", target=target, flags=shown, **({"why": why} if why else {}))
        self.kernel.umount2(target, flags, why=why)

    def pivot_root(self, new_root: str, put_old: str, *, shown_new_root: str | None = None) -> None:
        self._emit("rootfs", "pivot_root", new_root=shown_new_root or new_root, put_old=put_old)
        self.kernel.pivot_root(new_root, put_old, shown_new_root=shown_new_root)

    def move_mount(self, from_fd: int, to_dirfd: int, *, shown_target: str) -> None:
        self._emit("mount", "move_mount", target=shown_target, what="a detached mount made outside the user namespace")
        self.kernel.move_mount(from_fd, to_dirfd, shown_target=shown_target)

    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        self._emit("userns", "open_tree", path=path, flags=_names(flags, _OPEN_TREE_FLAGS))
        return self.kernel.open_tree(dirfd, path, flags)

    def mount_setattr(self, fd: int, attr_set: int, *, userns_fd: int = 0, flags: int = libc.AT_EMPTY_PATH,
                      shown_path: str | None = None) -> None:
        extra = {"userns": "the container's"} if attr_set & libc.MOUNT_ATTR_IDMAP else {}
        if flags & libc.AT_RECURSIVE:
            extra["recursive"] = True
        self._emit("userns", "mount_setattr", path=shown_path, attr=_names(attr_set, _MOUNT_ATTRS), **extra)
        self.kernel.mount_setattr(fd, attr_set, userns_fd=userns_fd, flags=flags, shown_path=shown_path)

    def fsopen(self, fstype: str) -> int:
        self._emit("userns", "fsopen", fstype=fstype)
        return self.kernel.fsopen(fstype)

    def fsconfig(self, fd: int, cmd: int, key: str | None = None, value: str | None = None) -> None:
        if cmd == libc.FSCONFIG_CMD_CREATE:
            self._emit("userns", "fsconfig", cmd="FSCONFIG_CMD_CREATE")
        else:
            self._emit("userns", "fsconfig", cmd=_FSCONFIG_CMDS.get(cmd, str(cmd)), key=key, value=value)
        self.kernel.fsconfig(fd, cmd, key, value)

    def fsmount(self, fd: int, attr_flags: int = 0, *, what: str | None = None) -> int:
        self._emit("userns", "fsmount", **({"what": what} if what else {"attr_flags": attr_flags}))
        return self.kernel.fsmount(fd, attr_flags, what=what)

    def chdir(self, path: str) -> None:
        self.kernel.chdir(path)

    def stat(self, path: str) -> os.stat_result:
        return self.kernel.stat(path)

    def makedirs(self, path: str, mode: int = 0o777) -> None:
        self.kernel.makedirs(path, mode)

    def mknod(self, path: str, mode: int, device: int, *, shown_path: str | None = None) -> None:
        self._emit("device", "mknod", path=shown_path or path, type="b" if stat.S_ISBLK(mode) else "c",
                   major=os.major(device), minor=os.minor(device), mode=oct(stat.S_IMODE(mode)))
        self.kernel.mknod(path, mode, device, shown_path=shown_path)

    def symlink(self, target: str, path: str, *, shown_path: str | None = None) -> None:
        self._emit("device", "symlink", path=shown_path or path, target=target)
        self.kernel.symlink(target, path, shown_path=shown_path)

    def openpty(self, uid: int) -> tuple[int, str]:
        master, slave = self.kernel.openpty(uid)
        self._emit("device", "openpty", master="/dev/ptmx", slave=slave)
        return master, slave

    def set_window_size(self, master: int, rows: int, columns: int) -> None:
        self.kernel.set_window_size(master, rows, columns)

    def make_controlling_terminal(self, slave_path: str) -> None:
        self.kernel.make_controlling_terminal(slave_path)

    def set_oom_score_adj(self, value: int) -> None:
        self._emit("process", "oom_score_adj", value=value)
        self.kernel.set_oom_score_adj(value)

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        self._emit("process", "setrlimit", resource=name, soft=soft, hard=hard)
        self.kernel.setrlimit(name, soft, hard)

    def capbset_drop(self, bits: list[int]) -> None:
        self._emit("capability", "prctl", option="PR_CAPBSET_DROP", dropped=[capability_name(bit) for bit in bits])
        self.kernel.capbset_drop(bits)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        name = _PRCTL_NAMES.get(option, str(option))
        if option == libc.PR_SET_PDEATHSIG:
            self._emit("process", "prctl", option=name, signal=signal.Signals(arg2).name)
        elif option == libc.PR_CAP_AMBIENT:
            what = "PR_CAP_AMBIENT_CLEAR_ALL" if arg2 == libc.PR_CAP_AMBIENT_CLEAR_ALL else arg2
            self._emit("capability", "prctl", option=name, arg=what)
        elif option == libc.PR_SET_NO_NEW_PRIVS:
            self._emit("process", "prctl", option=name)
        else:
            self._emit("process", "prctl", option=name, value=arg2)
        return self.kernel.prctl(option, arg2, arg3, arg4, arg5)

    def set_credentials(self, uid: int, gid: int, groups: list[int]) -> None:
        self._emit("process", "setuid", uid=uid, gid=gid, groups=groups)
        self.kernel.set_credentials(uid, gid, groups)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._emit("capability", "capset", effective=hex(effective), inheritable=hex(inheritable))
        self.kernel.capset(effective, permitted, inheritable)

    def load_seccomp(self, confinement: Any) -> None:
        self._emit("seccomp", "load", **confinement.summary())
        self.kernel.load_seccomp(confinement)

    def execve(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        self._emit("process", "execve", path=path, argv=argv)
        self.kernel.execve(path, argv, env)

    def make_cgroup(self, path: str) -> None:
        self._emit("cgroup", "mkdir", path=path)
        self.kernel.make_cgroup(path)

    def write_cgroup_file(self, path: str, value: str) -> None:
        self._emit("cgroup", "write", path=path, value=value)
        self.kernel.write_cgroup_file(path, value)

    def join_cgroup(self, procs_path: str, pid: int) -> None:
        self._emit("cgroup", "join", path=procs_path, pid=pid)
        self.kernel.join_cgroup(procs_path, pid)

    def remove_cgroup(self, path: str) -> None:
        self._emit("cgroup", "rmdir", path=path)
        self.kernel.remove_cgroup(path)

    def pidfd_send_signal(self, pidfd: int, sig: int, *, pid: int) -> None:
        self._emit("signal", "pidfd_send_signal", pid=pid, signal=signal.Signals(sig).name)
        self.kernel.pidfd_send_signal(pidfd, sig, pid=pid)

    def attach_device_program(self, cgroup_dir: str, bytecode: bytes, name: str, license: str, *, rules: int) -> None:
        self._emit("cgroup", "bpf_attach", path=cgroup_dir, program=name, rules=rules,
                   instructions=len(bytecode) // 8, attach_type="BPF_CGROUP_DEVICE", flags="BPF_F_ALLOW_MULTI")
        self.kernel.attach_device_program(cgroup_dir, bytecode, name, license, rules=rules)

    def note(self, kind: str, op: str, **args: Any) -> None:
        self._emit(kind, op, **args)
        self.kernel.note(kind, op, **args)
