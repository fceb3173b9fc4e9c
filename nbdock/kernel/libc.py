"""The system calls a container runtime needs and Python's ``os`` module lacks.

Each wrapper calls the C library (or the raw system call, where glibc has no
wrapper) through ctypes with ``use_errno=True``, so that a failure raises
:class:`SyscallError` carrying the call, its arguments and ``strerror(errno)``,
for example::

    SyscallError: mount('overlay', '/var/lib/nbdock/containers/ab12/rootfs', 'overlay', 0,
                         'lowerdir=...') failed: [Errno 2] No such file or directory

Each docstring states what the kernel requires before the call can succeed:
most "mysterious" EINVAL and EPERM errors in container runtimes are one of
these preconditions not being met.

The constants come from the kernel's UAPI headers; the header each one was
pulled from is named beside it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long

# --- include/uapi/linux/sched.h: namespace flags for clone(2), unshare(2), setns(2)
CLONE_NEWNS = 0x00020000  # mount namespace (the first namespace, hence the generic name)
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000  # hostname and NIS domain name
CLONE_NEWIPC = 0x08000000  # System V IPC objects and POSIX message queues
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

#: The name each namespace has under /proc/PID/ns/, by flag.
NAMESPACE_FILES = {
    CLONE_NEWNS: "mnt",
    CLONE_NEWUTS: "uts",
    CLONE_NEWIPC: "ipc",
    CLONE_NEWNET: "net",
    CLONE_NEWPID: "pid",
    CLONE_NEWCGROUP: "cgroup",
    CLONE_NEWUSER: "user",
}

# --- include/uapi/linux/mount.h: mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

# umount2(2) flags
MNT_FORCE = 1
MNT_DETACH = 2  # "lazy" unmount: detach now, clean up when no longer busy
UMOUNT_NOFOLLOW = 8

# --- include/uapi/linux/prctl.h
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4  # who owns /proc/self: the process (1) or root (0, after a change of ids)
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# --- include/uapi/linux/openat2.h: resolve flags for openat2(2)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# --- include/uapi/linux/bpf.h: bpf(2) commands, a program type and its attach type
BPF_PROG_LOAD = 5  # enum bpf_cmd
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15  # enum bpf_prog_type: decides who may open which device node
BPF_CGROUP_DEVICE = 6  # enum bpf_attach_type: the hook a CGROUP_DEVICE program is attached at
BPF_F_ALLOW_MULTI = 1 << 1  # attach flag: run alongside the programs of parent cgroups, never replace them
BPF_OBJ_NAME_LEN = 16  # a program's name, NUL included

# System call numbers for the calls glibc does not wrap.  x86_64 has its own
# historical table; aarch64 (and every architecture added since) uses the
# generic one in include/uapi/asm-generic/unistd.h.  Calls added after 2019
# (openat2, pidfd_*) have the same number everywhere.
_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "bpf": 321},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "bpf": 280},
}
SYS_openat2 = 437


def _syscall_number(name: str) -> int:
    machine = platform.machine()
    try:
        return _SYSCALLS[machine][name]
    except KeyError:
        raise OSError(f"nbdock does not know the number of {name}(2) on {machine}") from None


class SyscallError(OSError):
    """A system call failed.  ``str()`` shows the call as it was made and why it failed."""

    def __init__(self, call: str, args: tuple, err: int):
        super().__init__(err, os.strerror(err))
        self.call = call
        self.call_args = args

    def __str__(self) -> str:
        shown = ", ".join(repr(a) for a in self.call_args)
        return f"{self.call}({shown}) failed: [Errno {self.errno}] {self.strerror}"


def _check(result: int, call: str, *args) -> int:
    if result == -1:
        raise SyscallError(call, args, ctypes.get_errno())
    return result


def _bytes(value: str | bytes | None) -> bytes | None:
    if value is None:
        return None
    return os.fsencode(value)


# ---------------------------------------------------------------------------
# Namespaces


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces of the kinds in ``flags``.

    Preconditions (unshare(2)):

    * CAP_SYS_ADMIN for every kind but CLONE_NEWUSER.
    * CLONE_NEWPID does not move the caller: it decides the namespace of the
      caller's *next child*, which becomes PID 1 there.  That is why a
      container's init is always a child of the process that unshared.
    * CLONE_NEWNS copies the caller's mounts; whether later mounts travel back
      to the host depends on each mount's propagation, so runtimes make the
      whole tree private straight afterwards (see :func:`mount`).
    * The caller must be single-threaded for CLONE_NEWUSER (and, in practice,
      for every kind: the other threads stay behind in the old namespaces).
    """
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare", flags)


def setns(fd: int, nstype: int = 0) -> None:
    """Move the calling *thread* into the namespace that ``fd`` refers to.

    ``fd`` is an open /proc/PID/ns/<kind> file, and ``nstype`` 0 accepts any
    kind while a CLONE_NEW* flag makes the kernel check the kind.  Or ``fd``
    is a pidfd (Linux 5.8): ``nstype`` is then an OR of CLONE_NEW* flags and
    the caller enters all of those namespaces of that process in one step,
    atomically -- all or none.

    Preconditions (setns(2)):

    * CAP_SYS_ADMIN in the caller's and (for most kinds) the target's user namespace.
    * A mount namespace can only be entered by a single-threaded process that
      does not share its filesystem attributes (no CLONE_FS siblings).
    * Entering a PID namespace, like unshare(CLONE_NEWPID), only affects
      children created afterwards: fork after setns to get a process inside.
    * A network namespace affects only the calling thread, so a thread can
      enter a container's network namespace, open a netlink socket there, and
      come back: the socket stays bound to the container's namespace.
    """
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns", fd, nstype)


def sethostname(name: str) -> None:
    """Set the hostname of the caller's UTS namespace.

    Preconditions: CAP_SYS_ADMIN in the user namespace that owns the UTS
    namespace; ``name`` at most 64 bytes.  Call it only after
    unshare(CLONE_NEWUTS), or you rename the host.
    """
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname", name)


def setdomainname(name: str) -> None:
    """Set the NIS domain name of the caller's UTS namespace (``docker run --domainname``).

    The same preconditions as sethostname: it belongs to the UTS namespace too.
    """
    raw = name.encode()
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))), "setdomainname", name)


# ---------------------------------------------------------------------------
# Mounts


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    """Attach a file system (or change an existing mount) at ``target``.

    Preconditions (mount(2)):

    * CAP_SYS_ADMIN in the user namespace owning the mount namespace.
    * ``target`` must exist (a directory, or a file for a bind mount of a file).
    * MS_BIND: ``source`` is an existing path; without MS_REC only that one
      mount is bound, not the mounts below it.  The flags of a bind mount
      (MS_RDONLY...) are ignored by the first call: a read-only bind mount
      is made by binding, then remounting with MS_REMOUNT|MS_BIND|MS_RDONLY.
    * MS_PRIVATE / MS_SLAVE / MS_SHARED (propagation changes): ``source``,
      ``fstype`` and ``data`` are ignored and ``target`` must be a mount point.
    * overlay: ``data`` is "lowerdir=A:B,upperdir=U,workdir=W"; lowerdirs are
      listed top-most first, and upperdir and workdir must be empty-or-ours
      directories on the same file system.  The whole option string must fit
      in one page (4096 bytes), which limits how many layers can be listed.
    """
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data))
    _check(result, "mount", source, target, fstype, flags, data)


def umount2(target: str, flags: int = 0) -> None:
    """Detach the mount at ``target``.

    Preconditions: CAP_SYS_ADMIN; ``target`` is a mount point.  Without
    MNT_DETACH the call fails with EBUSY while any process has a file open
    (or its working directory) on that file system; with MNT_DETACH the mount
    disappears from the tree at once and is freed when it is no longer busy.
    """
    _check(_libc.umount2(_bytes(target), ctypes.c_int(flags)), "umount2", target, flags)


def pivot_root(new_root: str, put_old: str) -> None:
    """Make ``new_root`` the root of the caller's mount namespace; the old root moves to ``put_old``.

    Unlike chroot(2), which only changes how one process resolves "/",
    pivot_root changes the root *mount* for the whole namespace, so the old
    root can afterwards be unmounted and is gone: there is nothing left to
    escape to.  glibc has no wrapper; this is the raw system call.

    Preconditions (pivot_root(2)) -- each one is a classic EINVAL:

    * ``new_root`` must be a mount point (a freshly mounted overlay is; a
      plain directory must first be bind-mounted onto itself).
    * ``new_root`` and ``put_old`` must be directories, and ``put_old`` must
      be at or underneath ``new_root``.
    * ``new_root`` must not be on the same mount as the current root.
    * The propagation of ``new_root``, of its parent mount and of the current
      root must not be MS_SHARED: make the tree private first (systemd makes
      "/" shared, which is why this fails on most distributions otherwise).
    * The current root must be a mount point (not true inside a chroot).
    * The caller needs CAP_SYS_ADMIN in the mount namespace's user namespace.
    """
    nr = _syscall_number("pivot_root")
    result = _libc.syscall(ctypes.c_long(nr), _bytes(new_root), _bytes(put_old))
    _check(result, "pivot_root", new_root, put_old)


# ---------------------------------------------------------------------------
# Process attributes


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2): the grab-bag of per-process settings (subreaper, death signal, capability bounds)."""
    result = _libc.prctl(
        ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)
    )
    return _check(result, "prctl", option, arg2, arg3, arg4, arg5)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522  # include/uapi/linux/capability.h: 64-bit sets, two structs


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's effective, permitted and inheritable capability sets.

    Preconditions (capset(2)): the new permitted set must be a subset of the
    current permitted set, the new effective set a subset of the new
    permitted set, and the new inheritable set a subset of the old
    inheritable set plus the bounding set (unless CAP_SETPCAP).
    """
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    result = _libc.syscall(ctypes.c_long(_syscall_number("capset")), ctypes.byref(header), data)
    _check(result, "capset", hex(effective), hex(permitted), hex(inheritable))


# ---------------------------------------------------------------------------
# Opening paths inside a container's root, safely


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = RESOLVE_IN_ROOT) -> int:
    """Open ``path`` relative to ``dirfd`` with restrictions on how it is resolved.

    With RESOLVE_IN_ROOT the kernel treats ``dirfd`` as the root directory
    while resolving: ".." cannot climb above it and an absolute symlink such
    as ``/etc -> /`` is resolved inside it.  This is how nbdock follows a
    path inside a container's (untrusted) file system without ever being
    redirected to the host's.

    Preconditions: Linux 5.6 or newer; ``flags`` must not contain unknown
    bits; ``mode`` must be 0 unless O_CREAT or O_TMPFILE is in ``flags``.
    """
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(
        ctypes.c_long(SYS_openat2), ctypes.c_int(dirfd), _bytes(path), ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how))
    )
    return _check(fd, "openat2", dirfd, path, flags, resolve)


# ---------------------------------------------------------------------------
# eBPF: loading a program into the kernel and attaching it to a cgroup


class _BpfProgLoadAttr(ctypes.Structure):
    """The BPF_PROG_LOAD member of ``union bpf_attr``, up to ``prog_name`` (Linux 4.15).

    The kernel accepts a shorter attr than its own and treats the missing
    fields as zero; it rejects a longer one unless the extra bytes are zero.
    """

    _fields_ = [
        ("prog_type", ctypes.c_uint32),
        ("insn_cnt", ctypes.c_uint32),  # number of 8-byte instructions, not bytes
        ("insns", ctypes.c_uint64),  # user-space address of the instructions
        ("license", ctypes.c_uint64),  # address of a NUL-terminated string
        ("log_level", ctypes.c_uint32),  # 0: no verifier log; 1: the log of a failed load
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64),
        ("kern_version", ctypes.c_uint32),  # only checked for kprobe programs
        ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * BPF_OBJ_NAME_LEN),
    ]


class _BpfProgAttachAttr(ctypes.Structure):
    """The BPF_PROG_ATTACH member of ``union bpf_attr`` (the fields every kernel since 4.10 knows)."""

    _fields_ = [
        ("target_fd", ctypes.c_uint32),  # for cgroup hooks: an open directory of the cgroup
        ("attach_bpf_fd", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("attach_flags", ctypes.c_uint32),
    ]


class _Name(str):
    """A string shown bare in a SyscallError: ``bpf(BPF_PROG_LOAD, ...)``, not ``bpf('BPF_PROG_LOAD', ...)``."""

    def __repr__(self) -> str:
        return str(self)


class BpfLoadError(SyscallError):
    """BPF_PROG_LOAD failed; ``verifier_log`` holds what the verifier said, if it said anything."""

    def __init__(self, args: tuple, err: int, verifier_log: str):
        super().__init__("bpf", args, err)
        self.verifier_log = verifier_log

    def __str__(self) -> str:
        if not self.verifier_log:
            return super().__str__()
        return f"{super().__str__()}; the verifier said:\n{self.verifier_log}"


def _bpf(cmd: int, attr: ctypes.Structure) -> int:
    """The raw bpf(2) call: bpf(cmd, &attr, sizeof attr).  Returns the result; -1 means see errno."""
    return _libc.syscall(
        ctypes.c_long(_syscall_number("bpf")), ctypes.c_int(cmd), ctypes.byref(attr), ctypes.c_uint(ctypes.sizeof(attr))
    )


def bpf_prog_load(prog_type: int, insns: bytes, license: str, name: str = "") -> int:
    """Load an eBPF program (``insns``: struct bpf_insn, 8 bytes each) and return its file descriptor.

    The program lives as long as a reference to it does: this descriptor, or
    an attachment made with :func:`bpf_prog_attach`.  The descriptor is
    close-on-exec (the kernel always sets O_CLOEXEC on bpf descriptors).

    Preconditions (bpf(2), BPF_PROG_LOAD):

    * CAP_SYS_ADMIN, or since Linux 5.8 CAP_BPF together with CAP_NET_ADMIN
      (the kernel counts cgroup program types among the networking ones),
      in the *initial* user namespace: a process that is root only inside a
      user namespace cannot load programs of this kind (EPERM).
    * The kernel was built with CONFIG_BPF_SYSCALL (else ENOSYS) and knows
      ``prog_type`` (for BPF_PROG_TYPE_CGROUP_DEVICE: CONFIG_CGROUP_BPF; else EINVAL).
    * The verifier must prove the program safe before it ever runs: every
      path ends in ``exit`` with r0 set to a value the hook accepts, no
      register is read before it is written, the context is only read at
      the offsets and sizes its struct allows, no instruction is unreachable,
      no jump goes backwards into a loop it cannot bound.  A refusal is
      EACCES (or EINVAL); the load is then repeated with the verifier's log
      switched on and the log is put into the error.
    * Kernels before 5.11 charge the program to RLIMIT_MEMLOCK: a tiny limit
      gives EPERM.
    * ``license`` matters only to programs calling GPL-only kernel helpers;
      a program calling no helpers at all may carry any license string.
    * ``name`` at most 15 characters of letters, digits, "_" and "."
      (Linux 4.15+); it shows in ``bpftool prog``.
    """
    insn_buffer = ctypes.create_string_buffer(insns, len(insns))
    license_buffer = ctypes.create_string_buffer(license.encode())
    attr = _BpfProgLoadAttr(
        prog_type=prog_type,
        insn_cnt=len(insns) // 8,
        insns=ctypes.addressof(insn_buffer),
        license=ctypes.addressof(license_buffer),
        prog_name=name.encode(),
    )
    shown = (_Name("BPF_PROG_LOAD"), {"prog_type": prog_type, "insn_cnt": attr.insn_cnt, "license": license, "prog_name": name})
    fd = _bpf(BPF_PROG_LOAD, attr)
    if fd >= 0:
        return fd
    err = ctypes.get_errno()
    log = ""
    if err in (errno.EACCES, errno.EINVAL):
        # Ask again, this time for the verifier's reasoning.  (Not the first time: a log
        # buffer that is too small is itself an error, ENOSPC, even for a good program.)
        log_buffer = ctypes.create_string_buffer(1 << 16)
        attr.log_level, attr.log_size, attr.log_buf = 1, len(log_buffer), ctypes.addressof(log_buffer)
        fd = _bpf(BPF_PROG_LOAD, attr)
        if fd >= 0:  # it passed the second time: unlikely, but the program is loaded
            return fd
        err = ctypes.get_errno()
        log = log_buffer.value.decode(errors="replace").strip()
    raise BpfLoadError(shown, err, log)


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
    """Attach a loaded program to a hook of ``target_fd`` (for cgroup hooks: an O_DIRECTORY fd of the cgroup).

    The attachment holds its own reference to the program, so the caller may
    close ``prog_fd`` straight afterwards.  A program attached to a cgroup is
    detached when the cgroup is removed (rmdir).

    Preconditions (bpf(2), BPF_PROG_ATTACH to a cgroup):

    * The same privilege as the load (CAP_NET_ADMIN or CAP_SYS_ADMIN in the
      initial user namespace), and a cgroup v2 directory: the hooks exist only
      in the unified hierarchy, a v1 directory gives EBADF.
    * ``attach_type`` must suit the program's type (BPF_CGROUP_DEVICE for
      BPF_PROG_TYPE_CGROUP_DEVICE), else EINVAL.
    * The flags must agree with what the ancestors have attached: below a
      cgroup whose program was attached with no flag (neither
      BPF_F_ALLOW_OVERRIDE nor BPF_F_ALLOW_MULTI) nothing may be attached (EPERM).
    * Without BPF_F_ALLOW_MULTI a cgroup holds one program per hook and a
      second attach *replaces* the first; with it, the programs of the cgroup
      and of all its ancestors run in turn, and an access is allowed only if
      every one of them allows it.
    """
    attr = _BpfProgAttachAttr(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type, attach_flags=flags)
    if _bpf(BPF_PROG_ATTACH, attr) < 0:
        shown = {"target_fd": target_fd, "attach_bpf_fd": prog_fd, "attach_type": attach_type, "attach_flags": flags}
        raise SyscallError("bpf", (_Name("BPF_PROG_ATTACH"), shown), ctypes.get_errno())


# ---------------------------------------------------------------------------
# The new mount API: detached mounts, idmapped mounts, file system contexts
#
# mount(2) does everything in one call, by path, in the caller's namespace.
# The calls below (Linux 5.2 and 5.12) split it up: a mount can exist as a
# file descriptor, attached to no path ("detached"), be changed there, and be
# attached later -- possibly by another process in another mount namespace.
# That is what lets the root daemon prepare a user-namespaced container's
# root with host privileges and hand it to the container to attach.

# Numbers shared by every architecture (the unified table from 424 on).
SYS_open_tree = 428
SYS_move_mount = 429
SYS_fsopen = 430
SYS_fsconfig = 431
SYS_fsmount = 432
SYS_mount_setattr = 442

# --- include/uapi/linux/mount.h and fcntl.h
OPEN_TREE_CLONE = 1  # a copy of the mount (a new detached mount), not the mount itself
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000  # the path is "" and the descriptor itself is meant
AT_RECURSIVE = 0x8000  # with the mounts below it, as MS_REC
MOVE_MOUNT_F_EMPTY_PATH = 0x04  # the source is the descriptor itself
MOVE_MOUNT_T_EMPTY_PATH = 0x40  # the target is the descriptor ``to_dirfd`` itself
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOUNT_ATTR_RDONLY = 0x01
MOUNT_ATTR_NOSUID = 0x02
MOUNT_ATTR_NODEV = 0x04
MOUNT_ATTR_NOEXEC = 0x08
MOUNT_ATTR_IDMAP = 0x00100000  # show the files' owners through a user namespace's id maps


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def open_tree(dirfd: int, path: str, flags: int) -> int:
    """A descriptor of the mount at ``path``; with OPEN_TREE_CLONE, of a new *detached* copy of it.

    The clone is a bind mount that is attached nowhere: it lives as long as
    a descriptor (or an attachment made with :func:`move_mount`) holds it,
    and closing the last descriptor of a still-detached clone unmounts it --
    nothing to clean up on the host.

    Preconditions (open_tree(2), Linux 5.2): OPEN_TREE_CLONE needs
    CAP_SYS_ADMIN in the user namespace owning the caller's mount namespace
    (as a bind mount does); AT_RECURSIVE copies the mounts below ``path``
    too, and is only allowed with OPEN_TREE_CLONE.
    """
    fd = _libc.syscall(ctypes.c_long(SYS_open_tree), ctypes.c_int(dirfd), _bytes(path), ctypes.c_uint(flags | OPEN_TREE_CLOEXEC))
    return _check(fd, "open_tree", dirfd, path, flags)


def mount_setattr(fd: int, attr_set: int, attr_clr: int = 0, userns_fd: int = 0, flags: int = AT_EMPTY_PATH) -> None:
    """Change the attributes of the mount ``fd`` (read-only, nosuid..., or its id mapping).

    With MOUNT_ATTR_IDMAP and ``userns_fd`` (an open /proc/PID/ns/user) the
    mount shows every file through that user namespace's maps: with
    ``0 100000 65536`` a file that is owned by 0 on disk is seen as owned by
    100000 -- which is root inside that namespace -- and a file created
    through the mount by 100000 is written to disk as 0.  Nothing on disk
    changes: the translation happens at each access.

    Preconditions (mount_setattr(2), Linux 5.12):

    * CAP_SYS_ADMIN in the user namespace owning the mount's namespace; an
      id mapping can only be set on a *detached* mount (an open_tree clone)
      that has never been attached, and only once.
    * The user namespace must not be the initial one, and it must already
      have its uid_map and gid_map written (else EINVAL).
    * The file system must support idmapped mounts (ext4, xfs, btrfs, tmpfs
      since 6.3, overlayfs as a *lower* layer...; else EINVAL).
    """
    attr = _MountAttr(attr_set, attr_clr, 0, userns_fd)
    result = _libc.syscall(ctypes.c_long(SYS_mount_setattr), ctypes.c_int(fd), b"", ctypes.c_uint(flags),
                           ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    _check(result, "mount_setattr", fd, {"attr_set": hex(attr_set), "attr_clr": hex(attr_clr), "userns_fd": userns_fd})


def move_mount(from_fd: int, to_path: str, from_path: str = "", flags: int = MOVE_MOUNT_F_EMPTY_PATH,
               to_dirfd: int = -100) -> None:
    """Attach the (detached) mount ``from_fd`` at ``to_path``, or move an attached mount there.

    Preconditions (move_mount(2), Linux 5.2): CAP_SYS_ADMIN in the user
    namespace owning the caller's mount namespace; ``to_path`` must exist in
    the caller's mount namespace; a detached mount made by another process
    may be attached as long as it has never been attached before.
    """
    result = _libc.syscall(ctypes.c_long(SYS_move_mount), ctypes.c_int(from_fd), _bytes(from_path),
                           ctypes.c_int(to_dirfd), _bytes(to_path), ctypes.c_uint(flags))
    _check(result, "move_mount", from_fd, to_path)


def fsopen(fstype: str) -> int:
    """A new file system context of type ``fstype``, to be configured with :func:`fsconfig`.

    Preconditions (fsopen(2), Linux 5.2): CAP_SYS_ADMIN in the user namespace
    owning the caller's mount namespace; the type must be known to the kernel.
    The kernel writes its complaints about bad options into the context,
    readable from the descriptor (see :func:`fs_context_log`).
    """
    fd = _libc.syscall(ctypes.c_long(SYS_fsopen), _bytes(fstype), ctypes.c_uint(FSOPEN_CLOEXEC))
    return _check(fd, "fsopen", fstype)


def fsconfig(fd: int, cmd: int, key: str | None = None, value: str | None = None) -> None:
    """Set one option of a file system context (FSCONFIG_SET_STRING "lowerdir" ...), or create it (FSCONFIG_CMD_CREATE).

    Preconditions (fsconfig(2)): options are checked one by one, and the
    super block is made (with the caller's credentials) at FSCONFIG_CMD_CREATE;
    an error there leaves the reason in the context's log.
    """
    result = _libc.syscall(ctypes.c_long(SYS_fsconfig), ctypes.c_int(fd), ctypes.c_uint(cmd), _bytes(key),
                           _bytes(value), ctypes.c_int(0))
    if result == -1:
        err = ctypes.get_errno()
        log = fs_context_log(fd)
        raise SyscallError("fsconfig", (fd, cmd, key, value) + ((log,) if log else ()), err)


def fsmount(fd: int, attr_flags: int = 0) -> int:
    """A detached mount of the created file system context ``fd`` (attach it with :func:`move_mount`).

    Preconditions (fsmount(2)): the context must have been created with
    FSCONFIG_CMD_CREATE; same privilege as :func:`fsopen`.
    """
    result = _libc.syscall(ctypes.c_long(SYS_fsmount), ctypes.c_int(fd), ctypes.c_uint(FSMOUNT_CLOEXEC),
                           ctypes.c_uint(attr_flags))
    return _check(result, "fsmount", fd, attr_flags)


def fs_context_log(fd: int) -> str:
    """The messages the kernel left in a file system context ("e overlayfs: ..."), read without blocking."""
    lines = []
    os.set_blocking(fd, False)
    try:
        while True:
            try:
                lines.append(os.read(fd, 4096).decode(errors="replace").strip())
            except OSError:
                break
    finally:
        os.set_blocking(fd, True)
    return "; ".join(line for line in lines if line)
