"""Swarm mode's endpoints, answered as Docker answers them on a node that is in no swarm.

nbdock has no swarm mode (no services, tasks, nodes, secrets or configs: those
are a cluster's objects, kept in its managers' Raft store).  A Docker daemon
that has not joined a swarm answers all of these endpoints with 503 Service
Unavailable and one of two messages, and clients rely on that shape: docker-py's
``leave_swarm(force=True)`` treats the 503 as "nothing to leave", and
``docker service ls`` prints the message.  So nbdock gives exactly those
answers; only ``swarm init`` and ``swarm join``, which would make this node a
swarm member, are refused as what nbdock does not implement.
"""

from __future__ import annotations

from aiohttp import web

from ..errors import NotImplementedYet
from .http import error_response

routes = web.RouteTableDef()

#: Docker's answer to any cluster request on a node that is no manager (moby's errNoManager, no swarm).
NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                 'to connect this node to swarm and try again.')
#: Docker's answer to ``swarm leave`` when there is nothing to leave (moby's errNoSwarm).
NOT_IN_A_SWARM = "This node is not part of a swarm"

#: The path prefixes of the cluster's objects.
CLUSTER_OBJECTS = ("/nodes", "/services", "/tasks", "/secrets", "/configs")


def _unavailable(message: str) -> web.Response:
    return error_response(503, message)


@routes.post("/swarm/init")
@routes.post("/swarm/join")
async def init_or_join(request: web.Request) -> web.Response:
    command = request.path.rsplit("/", 1)[1]
    raise NotImplementedYet(f"nbdock has no swarm mode: docker swarm {command} is not supported")


@routes.post("/swarm/leave")
async def leave(request: web.Request) -> web.Response:
    return _unavailable(NOT_IN_A_SWARM)


@routes.get("/swarm")
@routes.post("/swarm/update")
@routes.get("/swarm/unlockkey")
@routes.post("/swarm/unlock")
async def swarm(request: web.Request) -> web.Response:
    return _unavailable(NOT_A_MANAGER)


for _prefix in CLUSTER_OBJECTS:
    # The collection itself and everything under it (/services/create, /nodes/ID/update, ...).
    routes.route("*", _prefix)(swarm)
    routes.route("*", _prefix + "/{rest:.*}")(swarm)
