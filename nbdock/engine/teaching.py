"""What the notebooks show and Docker's API has no words for (served under /nbdock/v1 by daemon/routes_nbdock.py).

* a container's event trace: every kernel-facing step the runtime took;
* its cgroup files and their values;
* an image's layers, each with the files it adds, changes and deletes, and
  one file of a layer, read without following a symlink out of it.

The computations live here so the daemon stays a thin HTTP layer; a
container's namespaces are the container service's (containers.namespaces).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..kernel import saferoot
from ..runtime.trace import read_trace

if TYPE_CHECKING:
    from ..image.store import ImageStore
    from .containers import ContainerService

#: How much of a layer's file the layer tree shows.
FILE_PREVIEW_LIMIT = 64 * 1024

FILE_TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink", stat.S_IFCHR: "char-device",
              stat.S_IFBLK: "block-device", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"}


class TeachingViews:
    """Blocking reads for the notebooks' views, given the containers, the image store and the data root."""

    def __init__(self, containers: "ContainerService", image_store: "ImageStore", root: str):
        self.containers = containers
        self.image_store = image_store
        self.root = root

    def trace(self, ref: str) -> list[dict[str, Any]]:
        """The container's trace.jsonl, in time order."""
        container = self.containers.get(ref)
        return read_trace(os.path.join(container.record.directory(self.root), "trace.jsonl"))

    def cgroup(self, ref: str) -> dict[str, Any]:
        """The cgroup version, its directory on the host, and the files that limit the container."""
        runtime = self.containers.runtime_of(ref)
        return {"version": runtime.cgroup.version, "path": runtime.cgroup.host_path(), "files": runtime.cgroup.limit_files()}

    def layer_file(self, name: str, diff_id: str, path: str) -> tuple[bytes, os.stat_result, str | None]:
        """One file of one of image ``name``'s layers: its first bytes, its stat, its link target if a symlink."""
        image = self.image_store.get(name)
        if not diff_id.startswith("sha256:"):
            diff_id = "sha256:" + diff_id
        if diff_id not in image.diff_ids:
            raise NotFound(f"image {name} has no layer {diff_id}")
        return _read_in_layer(self.image_store.layer_dir(diff_id), path)

    def layers(self, name: str) -> list[dict]:
        """One entry per history step (base first); steps that made a layer carry its changes."""
        store = self.image_store
        image = store.get(name)
        history = list(image.config.get("history") or [])
        diff_ids = list(image.diff_ids)
        sharing = {}
        for other in store.list(all=True):
            if other.id == image.id:
                continue
            for diff_id in other.diff_ids:
                sharing.setdefault(diff_id, set()).update(other.repo_tags or [other.id[7:19]])
        if not history:
            history = [{"created": image.created, "created_by": ""} for _ in diff_ids]
        result, next_layer = [], 0
        for step in history:
            entry = {"created_by": step.get("created_by", ""), "created": step.get("created", ""),
                     "comment": step.get("comment", ""), "empty_layer": bool(step.get("empty_layer"))}
            if entry["empty_layer"] or next_layer >= len(diff_ids):
                entry.update({"empty_layer": True, "diff_id": None, "size": 0, "changes": [], "shared_with": []})
            else:
                diff_id = diff_ids[next_layer]
                directory = store.layer_dir(diff_id)
                changes = store.layer_changes(diff_id, lower_diff_ids=diff_ids[:next_layer])
                for change in changes:
                    change["type"] = FILE_TYPES.get(stat.S_IFMT(change["mode"]), "other")
                    if change["kind"] == "D":
                        change["type"] = "whiteout"
                    change["link_target"] = None
                    if change["type"] == "symlink":
                        try:
                            change["link_target"] = os.readlink(os.path.join(directory, change["path"].lstrip("/")))
                        except OSError as e:
                            if e.errno != errno.ENOENT:
                                raise
                entry.update({"diff_id": diff_id, "size": store.layer(diff_id).size, "changes": changes,
                              "shared_with": sorted(sharing.get(diff_id, ()))})
                next_layer += 1
            result.append(entry)
        return result


def _read_in_layer(directory: str, path: str) -> tuple[bytes, os.stat_result, str | None]:
    """A file of a layer, never following a symlink out of it (layers come from untrusted images)."""
    try:
        parent_fd, name = saferoot.open_parent_in_root(directory, os.path.normpath("/" + path), saferoot.Purpose.READ)
    except OSError:
        raise NotFound(f"no {path} in this layer") from None
    try:
        st = os.stat(name or ".", dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return b"", st, os.readlink(name, dir_fd=parent_fd)
        if not stat.S_ISREG(st.st_mode):
            return b"", st, None
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        with os.fdopen(fd, "rb") as f:
            return f.read(FILE_PREVIEW_LIMIT), st, None
    except FileNotFoundError:
        raise NotFound(f"no {path} in this layer") from None
    finally:
        os.close(parent_fd)
