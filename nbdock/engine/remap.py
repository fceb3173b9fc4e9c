"""``nbdock daemon --userns-remap``: what the engine adds to a container's spec for a user namespace.

The runtime does the kernel's part (runtime/userns.py); here the engine
decides, once at start, *whose* ids the containers get (the remapped root)
and how the layers are shown with the right owners -- idmapped mounts when
the kernel and file system can make one, else a chowned copy of the layers
per remapped root -- and at every start gives the container's own files to
that root: its writable layer, /etc/hostname, /etc/hosts, /etc/resolv.conf.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import InvalidArgument
from ..runtime import userns
from ..runtime.spec import ContainerSpec

log = logging.getLogger("nbdock.engine")


class UsernsRemap:
    def __init__(self, data_root: str, option: str):
        try:
            self.root = userns.remapped_root(option)
        except userns.RemapError as e:
            raise InvalidArgument(str(e)) from None
        self.option = option
        probe_dir = os.path.join(data_root, "layers")
        os.makedirs(probe_dir, exist_ok=True)
        # Asked of the kernel, not of its version: the data root's file system must support it too.
        # NBDOCK_USERNS_LAYERS=chowned-copy behaves as a kernel without them would (for the tests).
        if os.environ.get("NBDOCK_USERNS_LAYERS") == "chowned-copy":
            self.layers = userns.CHOWNED_COPY
        else:
            self.layers = userns.IDMAPPED if userns.probe_idmapped_mounts(probe_dir) else userns.CHOWNED_COPY
        log.info("user namespaces: root in containers is %s:%s (uid %d, gid %d); layers through %s",
                 self.root.user, self.root.group, self.root.uid, self.root.gid, self.layers)

    @staticmethod
    def check(option: str) -> None:
        """Fail now (before the daemon listens) if ``option`` cannot be honoured."""
        try:
            userns.remapped_root(option)
        except userns.RemapError as e:
            raise InvalidArgument(str(e)) from None

    @staticmethod
    def applies_to(host_config: dict[str, Any]) -> bool:
        """Whether a container gets a user namespace: all do, but ``--userns=host`` ones."""
        return (host_config.get("UsernsMode") or "") != "host"

    def apply(self, spec: ContainerSpec, directory: str, host_config: dict[str, Any], mount_points: list[dict],
              store, image_id: str) -> None:
        """Turn the spec into a user-namespaced one (the runtime does the rest)."""
        if not self.applies_to(host_config):
            return
        uid, gid = self.root.uid, self.root.gid
        spec.user_namespace = self.root.spec(self.layers)
        for mode in spec.namespaces.values():
            if mode.startswith("/proc/"):  # --network/--pid/--ipc container:X
                # Docker's rule: sharing a namespace with a container means sharing its user namespace,
                # the one that owns it (root of another could not use it).
                other = "/proc/" + mode.split("/")[2] + "/ns/user"
                if os.stat(other).st_ino == os.stat("/proc/self/ns/user").st_ino:
                    spec.user_namespace = {}  # X runs with --userns=host: so does this one
                    return
                spec.user_namespace["path"] = other
        if "net.ipv4.ping_group_range" not in (host_config.get("Sysctls") or {}):
            # Docker's default "0 2147483647" names gids the namespace does not map (EINVAL): like
            # Docker with --userns-remap, it is left out.
            spec.sysctls.pop("net.ipv4.ping_group_range", None)
        # The container's own files belong to its root.  Only the tops of upper/ and work/: what
        # the container made inside already has its (remapped) owners.
        for name in ("upper", "work", "hostname", "hosts", "resolv.conf"):
            os.chown(os.path.join(directory, name), uid, gid)
        volumes = {point["Destination"]: point["Source"] for point in mount_points if point.get("Type") == "volume"}
        if self.layers == userns.IDMAPPED:
            for mount in spec.mounts:
                # A volume is the engine's: idmapped, its files have the same owners on disk for a
                # remapped container and a --userns=host one.  A host bind is never idmapped: root
                # inside must stay an ordinary user to the host's files.
                mount.idmap = mount.type == "bind" and volumes.get(mount.destination) == mount.source
            return
        init_layer = os.path.join(directory, "init")
        userns.chown_tree(init_layer, uid, gid)
        spec.rootfs.lowerdirs = [init_layer] + store.remapped_lowerdirs(image_id, self.root)
        for source in volumes.values():
            if os.stat(source).st_uid == 0:
                os.chown(source, uid, gid)  # Docker makes a remapped daemon's volumes its root's

    def for_files(self, record, lowerdirs: list[str], store, *, writable: bool) -> tuple[dict, list[str]]:
        """(user namespace, lowerdirs) for a ``docker cp`` helper in a *stopped* container of ours:
        it makes a user namespace with the container's maps, so files get the container's ids."""
        userns_spec = self.root.spec(self.layers)
        if not writable:
            userns_spec["plain_lowerdirs"] = 1  # upper/ comes first, as a lowerdir: its ids are the container's
        if self.layers == userns.CHOWNED_COPY:
            lowerdirs = [lowerdirs[0]] + store.remapped_lowerdirs(record.Image, self.root)
        return userns_spec, lowerdirs

    def info(self) -> tuple[str, list[str]]:
        """(SecurityOptions entry, DriverStatus row) for ``docker info``."""
        return "name=userns", ["Userns Remap Layers", self.layers]
