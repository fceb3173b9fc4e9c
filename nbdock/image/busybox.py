"""The image that is always there: ``busybox:latest``, made from the host's static busybox.

nbdock never pulls from the internet, yet ``docker run busybox`` must work
on a fresh machine.  BusyBox is one static executable that behaves as ``sh``,
``ls``, ``echo`` and some 300 other programs depending on the name it is
called by (``argv[0]``).  So a complete small root file system is: the
binary at ``/bin/busybox``, a symlink to it for every applet it lists
(``busybox --list``), the usual top-level directories, and an
``/etc/passwd`` and ``/etc/group`` so that user names resolve.

The binary must be *statically* linked: the image has no ``/lib``, so a
dynamically linked busybox could not even start (its ELF header names a
program interpreter, ``ld-linux``, that the image does not have).
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tarfile

from ..errors import HostError, NotFound
from . import archive
from .layers import END_OF_ARCHIVE
from .store import ImageStore

REFERENCE = "busybox:latest"

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
#: Top-level directories and their modes (/tmp is world-writable with the sticky bit, like everywhere).
DIRECTORIES = {"bin": 0o755, "etc": 0o755, "home": 0o755, "root": 0o755, "tmp": 0o1777, "var": 0o755}

_PT_INTERP = 3  # ELF program header type: "run me through this interpreter" = dynamically linked


def find_host_busybox() -> str:
    path = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(path):
        raise HostError("no busybox on this host to build busybox:latest from (apt-get install busybox-static)")
    return os.path.realpath(path)


def is_static_elf(path: str) -> bool:
    """Whether an ELF executable has no program interpreter, i.e. runs without a dynamic loader."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 2 = 64-bit
            return False
        endian = "<" if header[5] == 1 else ">"
        program_headers_at, = struct.unpack_from(endian + "Q", header, 0x20)
        entry_size, count = struct.unpack_from(endian + "HH", header, 0x36)
        f.seek(program_headers_at)
        table = f.read(entry_size * count)
    return all(struct.unpack_from(endian + "I", table, i * entry_size)[0] != _PT_INTERP for i in range(count))


def applets(busybox: str) -> list[str]:
    """The programs this busybox can be (``busybox --list``), without busybox itself."""
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True, timeout=30).stdout.split()
    return sorted(name for name in listed if name != "busybox" and "/" not in name)


def rootfs_tar(busybox: str) -> bytes:
    """The root file system as a tar, every entry owned by root and dated like the binary."""
    mtime = int(os.stat(busybox).st_mtime)
    out = io.BytesIO()

    def entry(name: str, mode: int, **fields) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode, info.mtime, info.uname, info.gname = mode, mtime, "", ""
        for key, value in fields.items():
            setattr(info, key, value)
        return info

    def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
        info.size = len(data) if info.type == tarfile.REGTYPE else 0
        out.write(info.tobuf(format=tarfile.PAX_FORMAT))
        out.write(data + b"\0" * (-len(data) % 512))

    for name, mode in sorted(DIRECTORIES.items()):
        add(entry(name, mode, type=tarfile.DIRTYPE))
    with open(busybox, "rb") as f:
        add(entry("bin/busybox", 0o755), f.read())
    for applet in applets(busybox):
        add(entry(f"bin/{applet}", 0o777, type=tarfile.SYMTYPE, linkname="/bin/busybox"))
    add(entry("etc/group", 0o644), GROUP.encode())
    add(entry("etc/passwd", 0o644), PASSWD.encode())
    out.write(END_OF_ARCHIVE)
    return out.getvalue()


def ensure_busybox(store: ImageStore, busybox: str | None = None) -> tuple[str, str | None]:
    """busybox:latest's image ID, creating the image first if the store lacks it.

    Returns (image id, message): the message says what was done, or is None
    when the image was already there.
    """
    try:
        return store.resolve(REFERENCE), None
    except NotFound:
        pass
    busybox = busybox or find_host_busybox()
    if not is_static_elf(busybox):
        raise HostError(f"{busybox} is dynamically linked; busybox:latest needs a static one (apt-get install busybox-static)")
    image_id = archive.import_rootfs(
        store, io.BytesIO(rootfs_tar(busybox)), repo_tag=REFERENCE, changes={"Cmd": ["sh"]},
        message=f"Imported from {busybox}",
    )
    count = len(applets(busybox))
    return image_id, f"created {REFERENCE} ({image_id[7:19]}) from the host's static {busybox} with {count} applets"


__all__ = ["ensure_busybox", "find_host_busybox", "is_static_elf", "rootfs_tar", "REFERENCE"]
