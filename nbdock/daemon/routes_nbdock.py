"""/nbdock/v1/...: what Docker's API has no words for, and the notebooks show.

* a container's event trace: every kernel-facing step the runtime took;
* its namespaces next to the host's (inode numbers: same = shared);
* its cgroup files and their values;
* its stats as a stream at the rate a live chart wants (Docker's stream is one a second);
* an image's layers, each with the files it adds, changes and deletes;
* the map of the cluster's overlay networks: which container is on which host.

A thin HTTP layer: what each view computes is nbdock/engine/teaching.py's
(engine.teaching), the stats the engine's stats service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat

from aiohttp import web

from ..engine import stats
from ..engine.teaching import FILE_TYPES
from ..errors import InvalidArgument
from .http import json_response

routes = web.RouteTableDef()


@routes.get("/nbdock/v1/containers/{id}/trace")
async def trace(request: web.Request) -> web.Response:
    return json_response(await asyncio.to_thread(request.app["engine"].teaching.trace, request.match_info["id"]))


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
    return json_response(await asyncio.to_thread(request.app["engine"].teaching.cgroup, request.match_info["id"]))


@routes.get("/nbdock/v1/images/{name:.+}/layers/{diff_id}/file")
async def layer_file(request: web.Request) -> web.Response:
    content, st, target = await asyncio.to_thread(request.app["engine"].teaching.layer_file, request.match_info["name"],
                                                  request.match_info["diff_id"], request.query.get("path", ""))
    headers = {"X-Nbdock-Mode": oct(st.st_mode), "X-Nbdock-Size": str(st.st_size), "X-Nbdock-Uid": str(st.st_uid),
               "X-Nbdock-Gid": str(st.st_gid), "X-Nbdock-Mtime": str(int(st.st_mtime)),
               "X-Nbdock-Type": FILE_TYPES.get(stat.S_IFMT(st.st_mode), "other")}
    if target is not None:
        headers["X-Nbdock-Link-Target"] = target
    return web.Response(body=content, headers=headers, content_type="application/octet-stream")


@routes.get("/nbdock/v1/images/{name:.+}/layers")
async def layers(request: web.Request) -> web.Response:
    return json_response(await asyncio.to_thread(request.app["engine"].teaching.layers, request.match_info["name"]))
