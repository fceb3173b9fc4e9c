"""/volumes/... and /networks/...."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import InvalidArgument
from ..network.ipam import pools_by_family
from . import bodies
from ..engine import filtering
from .http import (NETWORK_FILTERS, NETWORK_PRUNE_FILTERS, VOLUME_FILTERS, VOLUME_PRUNE_FILTERS, body_json, filters, flag,
                   json_response)

routes = web.RouteTableDef()


# ---------------------------------------------------------------------------
# volumes


@routes.get("/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    wanted = filters(request, VOLUME_FILTERS)
    volumes = await asyncio.to_thread(engine.volumes.list)
    if "dangling" in wanted:
        dangling = filtering.truth(wanted["dangling"], "dangling")
        volumes = [v for v in volumes if (not engine.containers.using_volume(v["Name"])) == dangling]
    if "name" in wanted:
        volumes = [v for v in volumes if any(n in v["Name"] for n in wanted["name"])]
    if "driver" in wanted:
        volumes = [v for v in volumes if v["Driver"] in wanted["driver"]]
    volumes = [v for v in volumes if filtering.labels_match(v["Labels"] or {}, wanted.get("label", []))]
    return json_response({"Volumes": volumes, "Warnings": []})


@routes.post("/volumes/create")
async def create_volume(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    body = await body_json(request, bodies.VOLUME_CREATE, "volume config")
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
    wanted = filters(request, VOLUME_PRUNE_FILTERS)
    deleted, reclaimed = [], 0
    for volume in await asyncio.to_thread(engine.volumes.list):
        name = volume["Name"]
        if engine.containers.using_volume(name) or not filtering.labels_match(
                volume["Labels"] or {}, wanted.get("label", []), wanted.get("label!", [])):
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
    wanted = filters(request, NETWORK_FILTERS)
    networks = await asyncio.to_thread(engine.networks.list)
    result = []
    for network in networks:
        predefined = network["Name"] in ("bridge", "host", "none")
        checks = {
            "name": lambda v: v in network["Name"],
            "id": lambda v: network["Id"].startswith(v),
            "driver": lambda v: network["Driver"] == v,
            "scope": lambda v: network["Scope"] == v,
            "type": lambda v: v == ("builtin" if predefined else "custom"),
        }
        if any(key in wanted and not any(check(v) for v in wanted[key]) for key, check in checks.items()):
            continue
        if not filtering.labels_match(network.get("Labels") or {}, wanted.get("label", [])):
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
    body = await body_json(request, bodies.NETWORK_CREATE, "network config")
    name = body.get("Name") or ""
    if not name:
        raise InvalidArgument("network name is required")
    ipam = body.get("IPAM") or {}
    pool4, pool6 = pools_by_family(ipam.get("Config") or [])
    network = await asyncio.to_thread(
        engine.networks.create, name, driver=body.get("Driver") or "bridge", subnet=pool4.get("Subnet") or None,
        gateway=pool4.get("Gateway") or None, internal=bool(body.get("Internal")), labels=body.get("Labels"),
        options=body.get("Options"), check_duplicate=body.get("CheckDuplicate", True),
        ip_range=pool4.get("IPRange") or None, aux_addresses=pool4.get("AuxiliaryAddresses") or None,
        ipam_options=ipam.get("Options"), enable_ipv6=bool(body.get("EnableIPv6")),
        subnet6=pool6.get("Subnet") or None, gateway6=pool6.get("Gateway") or None,
        ip_range6=pool6.get("IPRange") or None)
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
    wanted = filters(request, NETWORK_PRUNE_FILTERS)
    deleted = []
    for network in await asyncio.to_thread(engine.networks.list):
        if network["Name"] in ("bridge", "host", "none"):
            continue
        if network["Scope"] == "global":
            continue  # an overlay network belongs to every host of the cluster: one host's prune keeps it
        if not filtering.labels_match(network.get("Labels") or {}, wanted.get("label", []), wanted.get("label!", [])) \
                or not filtering.created_before(network["Created"], wanted.get("until", [])):
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
    body = await body_json(request, bodies.NETWORK_CONNECT, "network connect config")
    await engine.containers.connect_network(request.match_info["id"], body.get("Container", ""), body.get("EndpointConfig") or {})
    return web.Response(status=200)


@routes.post("/networks/{id}/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    body = await body_json(request, bodies.NETWORK_CONNECT, "network disconnect config")
    await engine.containers.disconnect_network(request.match_info["id"], body.get("Container", ""), bool(body.get("Force")))
    return web.Response(status=200)
