"""/_ping, /version, /info, /events, /system/df, /auth."""

from __future__ import annotations

import asyncio
import contextlib
import json

import time

from aiohttp import web

from ..engine import events as engine_events
from ..errors import InvalidArgument
from ..registry import AuthConfig
from .http import EVENT_FILTERS, body_json, filters, json_response, unless_disconnected

routes = web.RouteTableDef()


def _ping_headers() -> dict[str, str]:
    return {"Builder-Version": "1", "Swarm": "inactive", "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache"}


@routes.get("/_ping")
async def ping(request: web.Request) -> web.Response:
    return web.Response(text="OK", headers=_ping_headers())


@routes.get("/version")
async def version(request: web.Request) -> web.Response:
    return json_response(request.app["engine"].version())


@routes.get("/info")
async def info(request: web.Request) -> web.Response:
    return json_response(await asyncio.to_thread(request.app["engine"].info))


@routes.post("/auth")
async def auth(request: web.Request) -> web.Response:
    body = await body_json(request, {"username": str, "password": str, "serveraddress": str}, "auth config")
    engine = request.app["engine"]
    server = body.get("serveraddress") or "https://index.docker.io/v1/"
    if not body.get("username"):
        raise InvalidArgument("login requires a username")
    result = await engine.registry.login(server, body.get("username", ""), body.get("password", ""))
    return json_response(result)


@routes.get("/system/df")
async def disk_usage(request: web.Request) -> web.Response:
    engine = request.app["engine"]

    def gather() -> dict:
        containers = engine.containers.list(all=True, size=True)
        images = engine.images.with_usage(engine.images.list())
        volumes = []
        for volume in engine.volumes.list():
            volume["UsageData"] = {"Size": engine.volumes.size(volume["Name"]),
                                   "RefCount": len(engine.containers.using_volume(volume["Name"]))}
            volumes.append(volume)
        layers_size = engine.images.layers_size(images)  # a layer shared by two images counted once
        return {"LayersSize": layers_size, "Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": []}

    return json_response(await asyncio.to_thread(gather))


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    engine = request.app["engine"]
    wanted = filters(request, EVENT_FILTERS)
    since, until = _event_time(request.query.get("since")), _event_time(request.query.get("until"))
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    queue = engine.events.subscribe()
    try:
        await response.prepare(request)
        if since is not None:
            for event in engine.events.since(since, until):
                if engine_events.matches(event, wanted):
                    await response.write(json.dumps(event).encode() + b"\n")
        deadline = None if until is None else until / 1e9
        while deadline is None or time.time() < deadline:
            timeout = None if deadline is None else max(deadline - time.time(), 0)
            try:
                event = await asyncio.wait_for(unless_disconnected(request, queue.get()), timeout)
            except asyncio.TimeoutError:
                break
            if event is None:
                break  # the client went away
            if engine_events.matches(event, wanted):
                await response.write(json.dumps(event).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        pass
    finally:
        engine.events.unsubscribe(queue)
    return response


def _event_time(value: str | None) -> int | None:
    """since/until: Unix seconds ("1700000000.5") or a duration relative to now is not supported; nanoseconds out."""
    if not value:
        return None
    try:
        return int(float(value) * 1_000_000_000)
    except ValueError:
        raise InvalidArgument(f"invalid time for events: {value!r}") from None


def registry_auth(request: web.Request) -> AuthConfig | None:
    from ..registry import decode_auth_header

    return decode_auth_header(request.headers.get("X-Registry-Auth"))


