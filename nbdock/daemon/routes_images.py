"""/images/...: list, inspect, history, tag, remove, pull and import, push, save, load, prune."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..engine import pipes
from ..errors import InvalidArgument, NbdockError, NotFound
from ..image import reference
from .http import IMAGE_FILTERS, IMAGE_PRUNE_FILTERS, JSONStream, filters, flag, json_response, stream_bytes
from .routes_system import registry_auth

routes = web.RouteTableDef()


@routes.get("/images/json")
async def list_images(request: web.Request) -> web.Response:
    wanted = filters(request, IMAGE_FILTERS)
    if request.query.get("filter"):  # the pre-1.25 way of `docker images NAME`
        wanted.setdefault("reference", []).append(request.query["filter"])
    engine = request.app["engine"]
    return json_response(await asyncio.to_thread(engine.images.list, all=flag(request, "all"), filters=wanted))


@routes.get("/images/get")
async def save_many(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


@routes.get("/images/{name:.+}/get")
async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    engine = request.app["engine"]
    if not names:
        raise InvalidArgument("no image names given to save")
    for name in names:  # unknown names are a 404 before the tar starts
        await asyncio.to_thread(engine.images.store.resolve, name)
    return await stream_bytes(request, pipes.from_thread(lambda out: engine.images.save(names, out)))


@routes.get("/images/{name:.+}/json")
async def inspect(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    name = request.match_info["name"]
    try:
        return json_response(await asyncio.to_thread(engine.images.inspect, name))
    except NotFound as e:
        raise NotFound(f"no such image: {name}: {e.message}") from None  # Docker's wording for this route


@routes.get("/images/{name:.+}/history")
async def history(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    return json_response(await asyncio.to_thread(engine.images.history, request.match_info["name"]))


@routes.post("/images/{name:.+}/tag")
async def tag(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    repo = request.query.get("repo", "")
    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    await asyncio.to_thread(engine.images.tag, request.match_info["name"], repo, request.query.get("tag", ""))
    return web.Response(status=201)


@routes.delete("/images/{name:.+}")
async def remove(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    records = await asyncio.to_thread(engine.images.remove, request.match_info["name"], force=flag(request, "force"),
                                      prune=not flag(request, "noprune"))
    return json_response(records)


@routes.post("/images/prune")
async def prune(request: web.Request) -> web.Response:
    engine = request.app["engine"]
    return json_response(await asyncio.to_thread(engine.images.prune, filters(request, IMAGE_PRUNE_FILTERS)))


@routes.post("/images/create")
async def create(request: web.Request) -> web.StreamResponse:
    """``docker pull`` (fromImage=) and ``docker import`` (fromSrc=)."""
    if request.query.get("fromSrc"):
        return await _import(request)
    from_image = request.query.get("fromImage", "")
    if not from_image:
        raise InvalidArgument("fromImage or fromSrc is required")
    tag = request.query.get("tag", "")
    ref = from_image
    if tag:
        ref = f"{from_image}@{tag}" if tag.startswith("sha256:") else f"{from_image}:{tag}"
    reference.parse(ref)  # an invalid reference is a 400 before any streaming
    engine = request.app["engine"]
    messages = engine.images.pull(ref, registry_auth(request), request.query.get("platform", ""))
    return await _relay(request, messages)


async def _relay(request: web.Request, messages) -> web.StreamResponse:
    """Stream progress messages; an error before the first message is a plain HTTP error."""
    stream = JSONStream(request)
    iterator = messages.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        return await stream.finish()
    await stream.send(first)
    try:
        async for message in iterator:
            await stream.send(message)
    except NbdockError as e:
        await stream.error(e.message)
    return await stream.finish()


async def _import(request: web.Request) -> web.StreamResponse:
    engine = request.app["engine"]
    source = request.query["fromSrc"]
    if source != "-":
        raise InvalidArgument("importing from a URL is not supported: download it and import the file (fromSrc=-)")
    repo, tag = request.query.get("repo", ""), request.query.get("tag", "")
    changes = request.query.getall("changes", [])
    message = request.query.get("message", "")
    image_id = await pipes.to_thread(
        lambda body: engine.images.import_rootfs(body, repo=repo, tag=tag, changes=changes, message=message),
        request.content.iter_chunked(1 << 16))
    stream = JSONStream(request)
    await stream.send({"status": image_id})
    return await stream.finish()


@routes.post("/images/load")
async def load(request: web.Request) -> web.StreamResponse:
    engine = request.app["engine"]
    stream = JSONStream(request)
    try:
        messages = await pipes.to_thread(engine.images.load, request.content.iter_chunked(1 << 16))
    except NbdockError as e:
        await stream.error(e.message)  # Docker reports a bad archive in the stream, not as an HTTP error
        return await stream.finish()
    for line in messages:
        await stream.send({"stream": line + "\n"})
    return await stream.finish()


@routes.post("/images/{name:.+}/push")
async def push(request: web.Request) -> web.StreamResponse:
    engine = request.app["engine"]
    auth = registry_auth(request)
    if "X-Registry-Auth" not in request.headers:
        # Docker's older form, which docker-py (and so compose) still sends: the credentials as the JSON
        # body, ``{}`` for none.  Only a body that is not JSON at all is refused, in Docker's words.
        import base64
        import json

        body = await request.read()
        try:
            credentials = json.loads(body)
        except ValueError as error:
            raise InvalidArgument(f"Bad parameters and missing X-Registry-Auth: {error if body.strip() else 'EOF'}") from None
        if credentials:
            from ..registry import decode_auth_header

            auth = decode_auth_header(base64.urlsafe_b64encode(json.dumps(credentials).encode()).decode())
    name = request.match_info["name"]
    tag = request.query.get("tag", "")
    ref = f"{name}:{tag}" if tag else name
    return await _relay(request, engine.images.push(ref, auth))
