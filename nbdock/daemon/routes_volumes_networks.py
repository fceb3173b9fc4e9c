"""/volumes/... and /networks/...."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import InvalidArgument
from .http import body_json, flag, json_response, normalize_filters, query_json

routes = web.RouteTableDef()


# ---------------------------------------------------------------------------
# volumes


@routes.get("/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    filters = normalize_filters(await query_json(request, "filters", {}))
    volumes = await asyncio.to_thread(engine.volumes.list)
    if "dangling" in filters:
        want_dangling = any(v.lower() in ("true", "1") for v in filters["dangling"])
        volumes = [v for v in volumes if (not engine.containers.using_volume(v["Name"])) == want_dangling]
    if "name" in filters:
        volumes = [v for v in volumes if any(n in v["Name"] for n in filters["name"])]
    return json_response({"Volumes": volumes, "Warnings": []})


@routes.post("/volumes/create")
async def create_volume(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    body = await body_json(request, {}) or {}
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise InvalidArgument(f"volume driver {driver!r} is not supported: nbdock has the local driver only")
    volume = await asyncio.to_thread(engine.volumes.create, body.get("Name") or "", labels=body.get("Labels"),
                                     options=body.get("DriverOpts"))
    engine.events.publish("volume", "create", volume["Name"], {"driver": "local"})
    return json_response(volume, status=201)


@routes.get("/volumes/{name}")
async def inspect_volume(request: web.Request) -> web.Response:
    return json_response(request.app["engine"].volumes.inspect(request.match_info["name"]))


@routes.delete("/volumes/{name}")
async def remove_volume(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    name = request.match_info["name"]
    await asyncio.to_thread(engine.volumes.remove, name, users=engine.containers.using_volume(name), force=flag(request, "force"))
    engine.events.publish("volume", "destroy", name, {"driver": "local"})
    return web.Response(status=204)


@routes.post("/volumes/prune")
async def prune_volumes(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    deleted, reclaimed = [], 0
    for volume in await asyncio.to_thread(engine.volumes.list):
        name = volume["Name"]
        if engine.containers.using_volume(name):
            continue
        reclaimed += await asyncio.to_thread(engine.volumes.size, name)
        await asyncio.to_thread(engine.volumes.remove, name, users=[])
        engine.events.publish("volume", "destroy", name, {"driver": "local"})
        deleted.append(name)
    return json_response({"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed})


# ---------------------------------------------------------------------------
# networks


@routes.get("/networks")
async def list_networks(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    filters = normalize_filters(await query_json(request, "filters", {}))
    networks = await asyncio.to_thread(engine.networks.list)
    result = []
    for network in networks:
        if "name" in filters and not any(n in network["Name"] for n in filters["name"]):
            continue
        if "id" in filters and not any(network["Id"].startswith(i) for i in filters["id"]):
            continue
        if "driver" in filters and network["Driver"] not in filters["driver"]:
            continue
        result.append({**network, "Containers": {}})  # Docker lists containers only in inspect
    return json_response(result)


@routes.get("/networks/{id}")
async def inspect_network(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    return json_response(await asyncio.to_thread(engine.networks.get, request.match_info["id"]))


@routes.post("/networks/create")
async def create_network(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    body = await body_json(request, {}) or {}
    name = body.get("Name") or ""
    if not name:
        raise InvalidArgument("network name is required")
    ipam = (body.get("IPAM") or {}).get("Config") or [{}]
    first = ipam[0] if ipam else {}
    network = await asyncio.to_thread(
        engine.networks.create, name, driver=body.get("Driver") or "bridge", subnet=first.get("Subnet"),
        gateway=first.get("Gateway"), internal=bool(body.get("Internal")), labels=body.get("Labels"),
        options=body.get("Options"), check_duplicate=body.get("CheckDuplicate", True))
    engine.events.publish("network", "create", network["Id"], {"name": name, "type": network["Driver"]})
    return json_response({"Id": network["Id"], "Warning": ""}, status=201)


@routes.delete("/networks/{id}")
async def remove_network(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    network = await asyncio.to_thread(engine.networks.get, request.match_info["id"])
    await asyncio.to_thread(engine.networks.remove, network["Id"])
    engine.events.publish("network", "destroy", network["Id"], {"name": network["Name"], "type": network["Driver"]})
    return web.Response(status=204)


@routes.post("/networks/prune")
async def prune_networks(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    deleted = []
    for network in await asyncio.to_thread(engine.networks.list):
        if network["Name"] in ("bridge", "host", "none"):
            continue
        full = await asyncio.to_thread(engine.networks.get, network["Id"])
        if full.get("Containers"):
            continue
        await asyncio.to_thread(engine.networks.remove, network["Id"])
        deleted.append(network["Name"])
    return json_response({"NetworksDeleted": deleted or None})


@routes.post("/networks/{id}/connect")
async def connect(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    body = await body_json(request, {}) or {}
    await engine.containers.connect_network(request.match_info["id"], body.get("Container", ""), body.get("EndpointConfig") or {})
    return web.Response(status=200)


@routes.post("/networks/{id}/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    body = await body_json(request, {}) or {}
    await engine.containers.disconnect_network(request.match_info["id"], body.get("Container", ""), bool(body.get("Force")))
    return web.Response(status=200)
