"""Volumes with the ``local`` driver: directories under <data-root>/volumes/<name>/_data.

A volume is storage that outlives containers.  The engine bind-mounts a
volume's ``_data`` directory into every container that uses it; the data is
never part of a container's overlay, so ``docker rm`` leaves it, ``docker
commit`` ignores it, and several containers can share it (the "data
container" pattern: ``--volumes-from``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from . import clock

VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class VolumeStore:
    def __init__(self, data_root: str):
        self.root = os.path.join(data_root, "volumes")
        os.makedirs(self.root, exist_ok=True)
        self._lock = threading.Lock()

    def reconcile(self) -> list[str]:
        """At start: the half-made (``.new-*``) and half-deleted (``.removing-*``) volumes of a killed daemon."""
        from ..image.store import remove_tree

        removed = []
        for name in os.listdir(self.root):
            if name.startswith((".new-", ".removing-")):
                remove_tree(self._dir(name))
                removed.append(self._dir(name))
        return removed

    def _dir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def _meta_path(self, name: str) -> str:
        return os.path.join(self._dir(name), "volume.json")

    def create(self, name: str = "", *, labels: dict | None = None, options: dict | None = None, anonymous: bool = False) -> dict[str, Any]:
        """Create a volume (or return the existing one of that name, as Docker does)."""
        name = name or secrets.token_hex(32)
        if not VALID_NAME.match(name):
            raise InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
            )
        if options:
            raise InvalidArgument(f"create {name}: nbdock's local driver takes no options (got {sorted(options)})")
        with self._lock:
            if os.path.exists(self._meta_path(name)):
                return self.inspect(name)
            staging = os.path.join(self.root, f".new-{secrets.token_hex(8)}")
            os.makedirs(os.path.join(staging, "_data"), mode=0o755)
            meta = {"Name": name, "Labels": labels or {}, "Options": options or {}, "CreatedAt": clock.rfc3339(int(time.time())),
                    "Anonymous": anonymous}
            with open(os.path.join(staging, "volume.json"), "w") as f:
                json.dump(meta, f)
            os.rename(staging, self._dir(name))
        return self.inspect(name)

    def exists(self, name: str) -> bool:
        return os.path.exists(self._meta_path(name))

    def inspect(self, name: str) -> dict[str, Any]:
        try:
            with open(self._meta_path(name)) as f:
                meta = json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"get {name}: no such volume") from None
        return {
            "CreatedAt": meta["CreatedAt"],
            "Driver": "local",
            "Labels": meta.get("Labels") or None,  # Docker shows none as null
            "Mountpoint": self.data_path(name),
            "Name": name,
            "Options": meta.get("Options") or None,
            "Scope": "local",
        }

    def data_path(self, name: str) -> str:
        return os.path.join(self._dir(name), "_data")

    def list(self) -> list[dict[str, Any]]:
        names = sorted(n for n in os.listdir(self.root) if not n.startswith(".") and self.exists(n))
        return [self.inspect(n) for n in names]

    def remove(self, name: str, *, users: list[str], force: bool = False) -> None:
        """Delete a volume and its data; 409 while a container uses it."""
        if not self.exists(name):
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        with self._lock:
            doomed = os.path.join(self.root, f".removing-{secrets.token_hex(8)}")
            os.rename(self._dir(name), doomed)  # gone from the listing at once, even if deleting takes time
        shutil.rmtree(doomed, ignore_errors=True)

    def size(self, name: str) -> int:
        total = 0
        for directory, _, files in os.walk(self.data_path(name)):
            for file in files:
                try:
                    total += os.lstat(os.path.join(directory, file)).st_size
                except OSError:
                    pass
        return total
