"""A kernel that records what it is asked and does nothing: the runtime's setup, tested without root.

It implements nbdock.runtime.kernel.Kernel.  Each call is kept as a
:class:`Call` (the method's name and its arguments by name); nothing is
mounted, unshared or exec'd.  What the steps do beside the kernel -- files
made along a mount target inside the container's root (saferoot), the
directories of /dev -- really happens, in the temporary directory a test
gives as the root.

After ``pivot_root(".", ".")`` the recorder remembers the directory it was
in as the container's root: ``stat``, ``makedirs`` and ``chdir`` of an
absolute path are then answered inside it, as they would be in the
container (masked paths, the working directory).

``execve`` raises :class:`Executed`: a real one never returns.
``fail`` makes a call fail as the kernel would: ``{"mount": lambda call: errno.EPERM if ... else 0}``.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from nbdock.kernel import libc


@dataclass
class Call:
    op: str
    args: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)


class Executed(Exception):
    """What a recorded execve raises (the real one never returns)."""

    def __init__(self, path: str, argv: list[str], env: dict[str, str]):
        super().__init__(path)
        self.path, self.argv, self.env = path, argv, env


class RecordingKernel:
    #: Calls a test about the order of setup rarely wants to see.
    PLUMBING = {"open", "close", "chdir", "stat", "makedirs", "set_window_size", "make_controlling_terminal"}

    def __init__(self, *, fail: dict[str, Callable[[Call], int]] | None = None):
        self.calls: list[Call] = []
        self.fail = fail or {}
        self.root = "/"  # the host directory that is "/" for the recorded process
        self.cwd = os.getcwd()
        self._fds = itertools.count(1000)

    # -- reading the record
    def steps(self) -> list[Call]:
        """The calls but the plumbing (open, close, chdir, stat, makedirs, the terminal's ioctls)."""
        return [c for c in self.calls if c.op not in self.PLUMBING]

    def ops(self) -> list[str]:
        return [c.op for c in self.steps()]

    def mounts(self) -> list[tuple]:
        """Every mount as (source, the target as the container sees it, fstype, flags)."""
        return [(c["source"], c.get("shown_target") or c["target"], c["fstype"], c["flags"])
                for c in self.calls if c.op == "mount"]

    # -- the record itself
    def _record(self, op: str, **args: Any) -> Call:
        call = Call(op, args)
        self.calls.append(call)
        err = self.fail.get(op, lambda _: 0)(call)
        if err:
            raise libc.SyscallError(op, tuple(args.values()), err)
        return call

    def host_path(self, path: str) -> str:
        """Where ``path`` of the recorded process is on the host (inside the pivoted root, after pivot_root)."""
        if not os.path.isabs(path):
            return os.path.normpath(os.path.join(self.cwd, path))
        if path.startswith("/proc/self/fd/") or self.root == "/":
            return path
        return os.path.normpath(os.path.join(self.root, path.lstrip("/")))

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags=flags)

    def open(self, path: str, flags: int, mode: int = 0o777) -> int:
        self._record("open", path=path, flags=flags)
        return next(self._fds)

    def close(self, fd: int) -> None:
        self._record("close", fd=fd)

    def setns(self, fd: int, nstype: int, *, shown_path: str | None = None) -> None:
        self._record("setns", fd=fd, nstype=nstype, shown_path=shown_path)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name=name)

    def setdomainname(self, name: str) -> None:
        self._record("setdomainname", name=name)

    def write_sysctl(self, key: str, value: str) -> None:
        self._record("write_sysctl", key=key, value=value)

    def read_setgroups(self, pid: int) -> str:
        self._record("read_setgroups", pid=pid)
        return "allow"

    def write_id_map(self, pid: int, name: str, text: str) -> None:
        self._record("write_id_map", pid=pid, name=name, text=text)

    def setresuid(self, uid: int, gid: int, groups: list[int]) -> None:
        self._record("setresuid", uid=uid, gid=gid, groups=groups)

    def mount(self, source, target, fstype=None, flags=0, data=None, *, shown_target=None) -> None:
        self._record("mount", source=source, target=target, fstype=fstype, flags=flags, data=data,
                     shown_target=shown_target)

    def umount2(self, target: str, flags: int = 0, *, why: str | None = None) -> None:
        self._record("umount2", target=target, flags=flags)

    def pivot_root(self, new_root: str, put_old: str, *, shown_new_root: str | None = None) -> None:
        self._record("pivot_root", new_root=new_root, put_old=put_old, shown_new_root=shown_new_root)
        self.root = self.host_path(new_root)

    def move_mount(self, from_fd: int, to_dirfd: int, *, shown_target: str) -> None:
        self._record("move_mount", from_fd=from_fd, to_dirfd=to_dirfd, shown_target=shown_target)

    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        self._record("open_tree", dirfd=dirfd, path=path, flags=flags)
        return next(self._fds)

    def mount_setattr(self, fd: int, attr_set: int, *, userns_fd: int = 0, flags: int = libc.AT_EMPTY_PATH,
                      shown_path: str | None = None) -> None:
        self._record("mount_setattr", fd=fd, attr_set=attr_set, userns_fd=userns_fd, flags=flags, shown_path=shown_path)

    def fsopen(self, fstype: str) -> int:
        self._record("fsopen", fstype=fstype)
        return next(self._fds)

    def fsconfig(self, fd: int, cmd: int, key: str | None = None, value: str | None = None) -> None:
        self._record("fsconfig", fd=fd, cmd=cmd, key=key, value=value)

    def fsmount(self, fd: int, attr_flags: int = 0, *, what: str | None = None) -> int:
        self._record("fsmount", fd=fd, attr_flags=attr_flags)
        return next(self._fds)

    def chdir(self, path: str) -> None:
        self._record("chdir", path=path)
        self.cwd = self.host_path(path)

    def stat(self, path: str) -> os.stat_result:
        self._record("stat", path=path)
        return os.stat(self.host_path(path))

    def makedirs(self, path: str, mode: int = 0o777) -> None:
        self._record("makedirs", path=path, mode=mode)
        os.makedirs(self.host_path(path), mode, exist_ok=True)

    def mknod(self, path: str, mode: int, device: int, *, shown_path: str | None = None) -> None:
        self._record("mknod", path=path, mode=mode, device=device, shown_path=shown_path)

    def symlink(self, target: str, path: str, *, shown_path: str | None = None) -> None:
        self._record("symlink", target=target, path=path, shown_path=shown_path)

    def openpty(self, uid: int) -> tuple[int, str]:
        self._record("openpty", uid=uid)
        # A real descriptor (of /dev/null): the master is sent to the daemon over the console socket.
        return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC), "/dev/pts/0"

    def set_window_size(self, master: int, rows: int, columns: int) -> None:
        self._record("set_window_size", rows=rows, columns=columns)

    def make_controlling_terminal(self, slave_path: str) -> None:
        self._record("make_controlling_terminal", slave_path=slave_path)

    def set_oom_score_adj(self, value: int) -> None:
        self._record("set_oom_score_adj", value=value)

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        self._record("setrlimit", name=name, soft=soft, hard=hard)

    def capbset_drop(self, bits: list[int]) -> None:
        self._record("capbset_drop", bits=bits)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        self._record("prctl", option=option, arg2=arg2)
        return 0

    def set_credentials(self, uid: int, gid: int, groups: list[int]) -> None:
        self._record("set_credentials", uid=uid, gid=gid, groups=groups)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", effective=effective, permitted=permitted, inheritable=inheritable)

    def load_seccomp(self, confinement: Any) -> None:
        self._record("load_seccomp", summary=confinement.summary())

    def execve(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        self._record("execve", path=path, argv=argv)
        raise Executed(path, argv, env)

    def make_cgroup(self, path: str) -> None:
        self._record("make_cgroup", path=path)

    def write_cgroup_file(self, path: str, value: str) -> None:
        self._record("write_cgroup_file", path=path, value=value)

    def join_cgroup(self, procs_path: str, pid: int) -> None:
        self._record("join_cgroup", path=procs_path, pid=pid)

    def remove_cgroup(self, path: str) -> None:
        self._record("remove_cgroup", path=path)

    def pidfd_send_signal(self, pidfd: int, sig: int, *, pid: int) -> None:
        self._record("pidfd_send_signal", pidfd=pidfd, sig=sig, pid=pid)

    def attach_device_program(self, cgroup_dir: str, bytecode: bytes, name: str, license: str, *, rules: int) -> None:
        self._record("attach_device_program", path=cgroup_dir, name=name, license=license, rules=rules,
                     instructions=len(bytecode) // 8)

    def note(self, kind: str, op: str, **args: Any) -> None:
        self._record("note", kind=kind, what=op, **args)
