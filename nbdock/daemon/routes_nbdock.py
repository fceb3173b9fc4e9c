"""/nbdock/v1/...: what Docker's API has no words for, and the notebooks show.

* a container's event trace: every kernel-facing step the runtime took;
* its namespaces next to the host's (inode numbers: same = shared);
* its cgroup files and their values;
* its stats as a stream at the rate a live chart wants (Docker's stream is one a second);
* an image's layers, each with the files it adds, changes and deletes;
* the map of the cluster's overlay networks: which container is on which host.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import stat

from aiohttp import web

from ..engine import stats
from ..errors import InvalidArgument, NotFound
from ..kernel import saferoot
from ..runtime.trace import read_trace
from .http import json_response

routes = web.RouteTableDef()
FILE_PREVIEW_LIMIT = 64 * 1024

_TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink", stat.S_IFCHR: "char-device",
          stat.S_IFBLK: "block-device", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"}


@routes.get("/nbdock/v1/containers/{id}/trace")
async def trace(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    container = engine.containers.get(request.match_info["id"])
    path = os.path.join(container.record.directory(engine.root), "trace.jsonl")
    return json_response(await asyncio.to_thread(read_trace, path))


@routes.get("/nbdock/v1/networks/map")
async def network_map(request: web.Request) -> web.Response:
    """The cluster's hosts, overlay networks and their containers, as this daemon's store watch sees them."""
    return json_response(await asyncio.to_thread(request.app["engine"].networks.cluster_map))


@routes.get("/nbdock/v1/containers/{id}/namespaces")
async def namespaces(request: web.Request) -> web.Response:
    return json_response(request.app["engine"].containers.namespaces(request.match_info["id"]))


@routes.get("/nbdock/v1/containers/{id}/stats")
async def stats_stream(request: web.Request) -> web.StreamResponse:
    """Docker's stats objects, one per line every ``interval`` seconds, on one connection.

    A chart sampling at 10 Hz through ``GET /containers/{id}/stats`` would
    pay a whole HTTP request per sample on both sides; here it pays only the
    cgroup reads.  Ends when the container stops or the client hangs up.
    """
    engine = request.app["engine"]
    container = engine.containers.get(request.match_info["id"])
    try:
        interval = float(request.query.get("interval", stats.STREAM_INTERVAL))
    except ValueError:
        raise InvalidArgument(f"invalid value for interval: {request.query['interval']!r} is not a number") from None
    if not interval >= stats.MIN_STREAM_INTERVAL:
        raise InvalidArgument(f"interval must be at least {stats.MIN_STREAM_INTERVAL} s")
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        async for sample in engine.stats.samples(container, streaming=True, one_shot=False, interval=interval):
            await response.write(json.dumps(sample).encode() + b"\n")
        await response.write_eof()
    return response


@routes.get("/nbdock/v1/containers/{id}/cgroup")
async def cgroup(request: web.Request) -> web.Response:
    runtime = request.app["engine"].containers.runtime_of(request.match_info["id"])
    files = await asyncio.to_thread(runtime.cgroup.limit_files)
    return json_response({"version": runtime.cgroup.version, "path": runtime.cgroup.host_path(), "files": files})


@routes.get("/nbdock/v1/images/{name:.+}/layers/{diff_id}/file")
async def layer_file(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    store = engine.images.store
    image = await asyncio.to_thread(store.get, request.match_info["name"])
    diff_id = request.match_info["diff_id"]
    if not diff_id.startswith("sha256:"):
        diff_id = "sha256:" + diff_id
    if diff_id not in image.diff_ids:
        raise NotFound(f"image {request.match_info['name']} has no layer {diff_id}")
    directory = await asyncio.to_thread(store.layer_dir, diff_id)
    path = request.query.get("path", "")
    content, st, target = await asyncio.to_thread(_read_in_layer, directory, path)
    headers = {"X-Nbdock-Mode": oct(st.st_mode), "X-Nbdock-Size": str(st.st_size), "X-Nbdock-Uid": str(st.st_uid),
               "X-Nbdock-Gid": str(st.st_gid), "X-Nbdock-Mtime": str(int(st.st_mtime)),
               "X-Nbdock-Type": _TYPES.get(stat.S_IFMT(st.st_mode), "other")}
    if target is not None:
        headers["X-Nbdock-Link-Target"] = target
    return web.Response(body=content, headers=headers, content_type="application/octet-stream")


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


@routes.get("/nbdock/v1/images/{name:.+}/layers")
async def layers(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    return json_response(await asyncio.to_thread(_layers, engine, request.match_info["name"]))


def _layers(engine, name: str) -> list[dict]:
    """One entry per history step (base first); steps that made a layer carry its changes."""
    store = engine.images.store
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
                change["type"] = _TYPES.get(stat.S_IFMT(change["mode"]), "other")
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


