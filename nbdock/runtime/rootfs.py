"""The container's root file system: an overlay, the standard mounts, and pivot_root.

Everything here runs inside the container's new mount namespace (in the
container's init process, before it execs the user's command), so every
mount made here vanishes by itself when the container's last process exits:
the host's mount table never sees them.

The steps, in order (:func:`prepare`, :func:`pivot`, :func:`finalize`):

1. make every mount private, so nothing we mount propagates back to the host;
2. mount the overlay: the image's layers as read-only ``lowerdir``\\ s and the
   container's own ``upperdir`` on top -- writes land in the upper directory
   (copy-up), deletions become "whiteouts" there, the image is never touched;
3. mount /proc, a tmpfs /dev with device nodes, devpts, /dev/shm, /dev/mqueue,
   a read-only /sys, the container's cgroup at /sys/fs/cgroup;
4. bind-mount /etc/hostname, /etc/hosts, /etc/resolv.conf and the volumes;
5. ``pivot_root`` into the overlay and detach the old root;
6. hide Docker's masked paths and make its read-only paths read-only.

In a user namespace (``--userns-remap``) the overlay and every bind mount
were made beforehand by the spawner, root of the host, as *detached*
mounts (userns.py): here they are only attached, with move_mount(2), and
/dev gets bind mounts of the host's device nodes, since mknod(2) is never
allowed inside a user namespace.

Mount targets come from the image (an untrusted file tree), so every target
is resolved inside the container's root (:mod:`nbdock.kernel.saferoot`): a
symlink such as ``/etc/hosts -> /../../host/etc/passwd`` stays inside the container.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat

from ..kernel import libc, saferoot
from ..kernel.libc import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_STRICTATIME
from . import devices
from .kernel import LINUX, Kernel
from .spec import ContainerSpec, Mount, Rootfs


def _attach(kernel: Kernel, mount_fd: int, target: str, *, shown_target: str) -> None:
    """Attach a detached mount (made outside by the spawner) at ``target``, a /proc/self/fd/N path.

    The target is named by its descriptor (MOVE_MOUNT_T_EMPTY_PATH): the
    kernel would not follow the magic link as the last component of a path.
    """
    if target.startswith("/proc/self/fd/"):
        kernel.move_mount(mount_fd, int(target.rsplit("/", 1)[1]), shown_target=shown_target)
        return
    target_fd = kernel.open(target, os.O_PATH)
    try:
        kernel.move_mount(mount_fd, target_fd, shown_target=shown_target)
    finally:
        kernel.close(target_fd)


# --------------------------------------------------------------------------
# Resolving paths inside the container's root


@contextlib.contextmanager
def target_in_root(root: str, path: str, create: str | None = None):
    """Yield a path naming ``path`` inside ``root`` that is safe to mount on.

    ``path`` is resolved the way the container itself will see it -- symlinks
    followed, but an absolute symlink starts again at ``root`` and ".." stops
    there -- and missing directories are created along the *resolved* path
    (``create`` = "dir" or "file" for the last component).  The result is
    handed out as /proc/self/fd/N: the kernel follows that "magic link"
    straight to the inode we resolved, so a symlink swapped in afterwards
    cannot redirect the mount onto the host.  (How and why: nbdock.kernel.saferoot.)
    """
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # In user space, not by the kernel: the end of the path may not exist yet, and is made here.
        resolved = saferoot.resolve_in_root(root_fd, path)
        if create is not None:
            _create_along(root_fd, resolved, create)
        # Every symlink is already expanded: refuse any that appears now (a race).
        fd = saferoot.open_in_root(root_fd, resolved or ".", os.O_PATH, saferoot.Purpose.RESOLVED)
    finally:
        os.close(root_fd)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _create_along(root_fd: int, resolved: str, last: str) -> None:
    """mkdir every missing directory of ``resolved`` (no symlinks in it), then the last as dir or file."""
    if last != "file":
        saferoot.make_dirs_in_root(root_fd, resolved, saferoot.Purpose.RESOLVED)
        return
    parent = resolved.rpartition("/")[0]
    saferoot.make_dirs_in_root(root_fd, parent, saferoot.Purpose.RESOLVED)
    parent_fd, name = saferoot.open_parent_in_root(root_fd, resolved, saferoot.Purpose.RESOLVED)
    try:
        if name:
            with contextlib.suppress(FileExistsError):
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755,
                                 dir_fd=parent_fd))
    finally:
        os.close(parent_fd)


# --------------------------------------------------------------------------
# Before pivot_root


def make_mounts_private(kernel: Kernel = LINUX) -> None:
    """Stop mount events from travelling between our new namespace and the host's.

    unshare(CLONE_NEWNS) copies the host's mounts *with their propagation*:
    on systemd hosts "/" is shared, so without this every mount we make would
    appear on the host too, and pivot_root would fail with EINVAL.
    """
    kernel.mount(None, "/", None, MS_REC | MS_PRIVATE)


def overlay_options(rootfs: Rootfs) -> str:
    """The overlay's option string.  lowerdirs are listed top-most first.

    Without an upperdir the overlay is read-only: a merged view of the lower
    directories alone (``docker export`` reads a container that way).
    """
    lower = ":".join(rootfs.lowerdirs)
    if not rootfs.upperdir:
        return f"lowerdir={lower}"
    return f"lowerdir={lower},upperdir={rootfs.upperdir},workdir={rootfs.workdir}"


def mount_overlay(rootfs: Rootfs, kernel: Kernel = LINUX) -> None:
    if not rootfs.lowerdirs:
        raise ValueError("an overlay needs at least one lower directory (the image has no layers)")
    kernel.mount("overlay", rootfs.mountpoint, "overlay", 0, overlay_options(rootfs))


def mount_proc(root: str, kernel: Kernel = LINUX) -> None:
    """A new proc file system: since we are in a new PID namespace, it lists only our processes."""
    with target_in_root(root, "/proc", "dir") as target:
        kernel.mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, shown_target="/proc")


def mount_dev(root: str, tty: bool, shm_size: int, kernel: Kernel = LINUX, *, in_userns: bool = False) -> None:
    """A fresh /dev: a small tmpfs holding only the nodes a process needs.

    In a user namespace mknod(2) fails whatever our capabilities (a device
    node would be a door to the host's hardware), and a tmpfs mounted there
    is "nodev" anyway: the host's own nodes are bind-mounted instead, as runc does.
    """
    with target_in_root(root, "/dev", "dir") as target:
        kernel.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", shown_target="/dev")
    dev = os.path.join(root, "dev")  # a tmpfs we just made: it holds no symlinks of the image's
    for device in devices.DEFAULT_DEVICES:
        if in_userns:
            devices.bind_device_node(dev, device, kernel)
            continue
        devices.make_device_node(dev, device, kernel)
    for name, target_path in devices.DEFAULT_SYMLINKS:
        kernel.symlink(target_path, os.path.join(dev, name), shown_path=f"/dev/{name}")
    for name in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, name), 0o755)
    # newinstance: a devpts of our own, so the container's ptys are numbered from 0 and
    # invisible to the host's /dev/pts; gid=5 is the "tty" group.
    kernel.mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620,gid=5", shown_target="/dev/pts")
    kernel.mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          f"mode=1777,size={shm_size // 1024}k", shown_target="/dev/shm")
    try:
        kernel.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              shown_target="/dev/mqueue")
    except libc.SyscallError as e:
        if e.errno != errno.EPERM or not in_userns:
            raise
        # --ipc host (or another container's): the IPC namespace belongs to another user namespace,
        # whose message queues we may not mount ourselves; the host's mount of them, if any, is bound.
        if os.path.ismount("/dev/mqueue"):
            kernel.mount("/dev/mqueue", os.path.join(dev, "mqueue"), None, MS_BIND | MS_REC, shown_target="/dev/mqueue")
    if tty:
        # The console's mount point; the pty slave is bound onto it once it exists.
        os.close(os.open(os.path.join(dev, "console"), os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))


def mount_sys(root: str, spec: ContainerSpec, kernel: Kernel = LINUX) -> None:
    """A read-only sysfs, and the container's own cgroup at /sys/fs/cgroup.

    sysfs shows the network devices of the network namespace of whoever
    mounts it: ours, so /sys/class/net lists only the container's interfaces.
    """
    with target_in_root(root, "/sys", "dir") as target:
        try:
            kernel.mount("sysfs", target, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, shown_target="/sys")
        except libc.SyscallError as e:
            if e.errno != errno.EPERM or not spec.user_namespace:
                raise
            # In a user namespace sysfs can be mounted only over a network namespace that
            # namespace owns; with --network container:X it is X's: the host's /sys then (runc's way).
            kernel.mount("/sys", target, None, MS_BIND | MS_REC, shown_target="/sys")
    if spec.cgroup_version == 2:
        return  # mounted at the very end, inside the container's cgroup namespace (mount_cgroup2)
    cgroup_dir = os.path.join(root, "sys/fs/cgroup")  # inside the sysfs we just mounted
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    kernel.mount("tmpfs", cgroup_dir, "tmpfs", flags, "mode=755", shown_target="/sys/fs/cgroup")
    for host_dir, name in spec.cgroup_view:
        target = os.path.join(cgroup_dir, name)
        os.mkdir(target, 0o755)
        kernel.mount(host_dir, target, None, MS_BIND, shown_target=f"/sys/fs/cgroup/{name}")
        kernel.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, shown_target=f"/sys/fs/cgroup/{name}")
        if "," in name:  # co-mounted controllers (cpu,cpuacct): each name is a symlink, as on the host
            for part in name.split(","):
                os.symlink(name, os.path.join(cgroup_dir, part))


def mount_cgroup2(target: str, kernel: Kernel = LINUX) -> None:
    """cgroup v2: mount the unified hierarchy read-only.  Mounted from inside a cgroup
    namespace, its root is the container's own cgroup, so the container sees its
    limits (memory.max, cpu.max...) at the top of /sys/fs/cgroup."""
    kernel.mount("cgroup", target, "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


#: tmpfs options that are mount *flags* (the rest go to the file system as its data string).
_FLAG_OPTIONS = {
    "ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False), "nosuid": (MS_NOSUID, True), "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True), "dev": (MS_NODEV, False), "noexec": (MS_NOEXEC, True), "exec": (MS_NOEXEC, False),
}


def tmpfs_flags_and_data(options: str, readonly: bool) -> tuple[int, str]:
    """Split "size=64m,exec,mode=1777" into mount flags and tmpfs's own options.

    A tmpfs is nosuid, nodev and noexec unless the options say otherwise (Docker's default).
    """
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (MS_RDONLY if readonly else 0)
    data = []
    for option in filter(None, options.split(",")):
        if option in _FLAG_OPTIONS:
            bit, on = _FLAG_OPTIONS[option]
            flags = flags | bit if on else flags & ~bit
        else:
            data.append(option)
    return flags, ",".join(data)


def bind_mount(root: str, mount: Mount, kernel: Kernel = LINUX, attached: int | None = None) -> None:
    """A bind mount or tmpfs at ``mount.destination`` inside the container.

    ``attached``: the bind was made outside, detached (in a user namespace):
    attach that descriptor; it is already read-only if it should be.
    """
    if mount.type == "tmpfs":
        with target_in_root(root, mount.destination, "dir") as target:
            flags, data = tmpfs_flags_and_data(mount.data, mount.readonly)
            kernel.mount("tmpfs", target, "tmpfs", flags, data or None, shown_target=mount.destination)
        return
    source = mount.source if attached is None else f"/proc/self/fd/{attached}"
    kind = "dir" if os.path.isdir(source) else "file"
    with target_in_root(root, mount.destination, kind) as target:
        if mount.copy_up:
            copy_up(target, source, kernel, shown=mount.destination)
        if attached is not None:
            _attach(kernel, attached, target, shown_target=mount.destination)
            return
        kernel.mount(mount.source, target, None, MS_BIND | MS_REC, shown_target=mount.destination)
    if mount.readonly:
        # A bind mount ignores MS_RDONLY on creation; read-only takes a second, remounting call --
        # on the *new* mount, so the path is resolved again (the old descriptor still names the
        # directory underneath it).
        with target_in_root(root, mount.destination) as target:
            kernel.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, shown_target=mount.destination)


def copy_up(image_dir: str, volume_dir: str, kernel: Kernel = LINUX, *, shown: str = "") -> None:
    """Fill an empty volume with what the image holds where it is about to be mounted.

    This is what makes ``VOLUME /data`` in a Dockerfile useful: the files the
    image put in /data appear in the new volume, and survive the container.
    A volume that already holds anything is left alone.  ``image_dir`` is the
    /proc/self/fd path of the resolved mount target, so nothing here can be
    redirected out of the container's root by a symlink.
    """
    if os.listdir(volume_dir) or not os.path.isdir(image_dir) or not os.listdir(image_dir):
        return
    kernel.note("mount", "copy_up", source=shown, volume=volume_dir)
    _copy_tree(image_dir, volume_dir)
    st = os.stat(image_dir)
    os.chown(volume_dir, st.st_uid, st.st_gid)
    os.chmod(volume_dir, stat.S_IMODE(st.st_mode))


def _copy_tree(source: str, target: str) -> None:
    """Copy a directory's content preserving symlinks (never followed), modes, owners and times."""
    for entry in os.scandir(source):
        src, dst = entry.path, os.path.join(target, entry.name)
        st = entry.stat(follow_symlinks=False)
        if entry.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(dst)
            _copy_tree(src, dst)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(src, dst, follow_symlinks=False)
        else:
            continue  # devices, sockets and fifos stay in the image
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
        if not entry.is_symlink():
            os.chmod(dst, stat.S_IMODE(st.st_mode))
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def prepare(spec: ContainerSpec, kernel: Kernel = LINUX, attached: dict[str, int] | None = None) -> str:
    """Build the container's whole tree (steps 1-4); return the path of its root, for :func:`pivot`.

    That is spec.rootfs.mountpoint, or, with ``attached`` (the detached mounts
    of a user-namespaced container, see userns.prepare_mounts), the overlay's
    own descriptor as /proc/self/fd/N: the remapped root need not be able to
    walk the host's path to the mount point.
    """
    attached = attached or {}
    root = spec.rootfs.mountpoint
    make_mounts_private(kernel)
    if "rootfs" in attached:
        root = _attach_root(root, attached, kernel)
    else:
        mount_overlay(spec.rootfs, kernel)
    mount_proc(root, kernel)
    mount_dev(root, spec.process.tty, spec.shm_size, kernel, in_userns=bool(spec.user_namespace))
    mount_sys(root, spec, kernel)
    for destination, host_file in spec.etc_files.items():
        # With --read-only these are read-only too, as in Docker.
        bind_mount(root, Mount(destination=destination, source=host_file, readonly=spec.rootfs.readonly), kernel,
                   attached.get(f"etc:{destination}"))
    for index, mount in enumerate(spec.mounts):
        bind_mount(root, mount, kernel, attached.get(f"mount:{index}"))
    return root


def _attach_root(mountpoint: str, attached: dict[str, int], kernel: Kernel) -> str:
    _attach(kernel, attached["rootfs"], f"/proc/self/fd/{attached['mountpoint']}", shown_target=mountpoint)
    return f"/proc/self/fd/{attached['rootfs']}"


def attach_prepared(mountpoint: str, mounts: list[Mount], attached: dict[str, int], kernel: Kernel = LINUX) -> str:
    """A container's root and mounts only, from the spawner's detached mounts (a cp helper's, in a user
    namespace); return the root's path for :func:`pivot`."""
    make_mounts_private(kernel)
    root = _attach_root(mountpoint, attached, kernel)
    for index, mount in enumerate(mounts):
        bind_mount(root, mount, kernel, attached.get(f"mount:{index}"))
    return root


# --------------------------------------------------------------------------
# pivot_root and after


def pivot(root: str, kernel: Kernel = LINUX) -> None:
    """Make ``root`` the root of our mount namespace and detach the old one.

    The trick (runc's): ``pivot_root(".", ".")`` with the new root as the
    working directory.  The old root ends up mounted *on top of* the new one
    at "/", so one lazy unmount of "/" removes it -- no temporary put_old
    directory to create in the image and delete again.
    """
    kernel.chdir(root)
    kernel.pivot_root(".", ".", shown_new_root=root)
    kernel.umount2("/", libc.MNT_DETACH, why="detach the old root stacked on top")
    kernel.chdir("/")


def mask_paths(paths, kernel: Kernel = LINUX) -> None:
    """Hide each existing path: /dev/null over a file, an empty read-only tmpfs over a directory."""
    for path in paths:
        kind = _kind_of(kernel, path)
        if kind == "dir":
            kernel.mount("tmpfs", path, "tmpfs", MS_RDONLY)
        elif kind is not None:
            kernel.mount("/dev/null", path, None, MS_BIND)


def make_readonly(paths, kernel: Kernel = LINUX) -> None:
    """Bind each existing path onto itself, then remount that bind read-only."""
    for path in paths:
        if _kind_of(kernel, path) is None:
            continue
        kernel.mount(path, path, None, MS_BIND | MS_REC)
        kernel.mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _kind_of(kernel: Kernel, path: str) -> str | None:
    """"dir", "other" or None (missing): a path after pivot_root, as the kernel sees it (symlinks followed)."""
    try:
        return "dir" if stat.S_ISDIR(kernel.stat(path).st_mode) else "other"
    except OSError:
        return None


def finalize(spec: ContainerSpec, kernel: Kernel = LINUX) -> None:
    make_readonly(spec.readonly_paths, kernel)
    mask_paths(spec.masked_paths, kernel)
    if spec.rootfs.readonly:
        kernel.mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def bind_console(slave_path: str, kernel: Kernel = LINUX) -> None:
    """Bind the pty slave onto /dev/console (``docker run -t`` shows it in /dev)."""
    kernel.mount(slave_path, "/dev/console", None, MS_BIND)
