"""POST /build: ``docker build`` with the classic builder.

The request's body is the build context -- a tar (plain or compressed), or
a Dockerfile alone -- or nothing, when ``remote=`` names a git repository
or a URL to fetch it from.  The whole body is read (and unpacked) before
the build starts.  The reply is a JSON message stream: the builder's
output as it happens (``{"stream": "Step 1/3 : FROM busybox\\n"}``...), the
image ID as ``{"aux": {"ID": ...}}``, and, on failure, an error message the
docker CLI prints and turns into its exit status (a failed RUN's exit code).

An error before the first message (a malformed Dockerfile, an unknown
``dockerfile=``) is an ordinary HTTP error instead, as in Docker.  With
``q=1`` the output is held back and only the image ID is sent -- or, if the
build fails, everything held back and then the error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from typing import Any

from aiohttp import web

from ..builder.builder import BuildOptions, Builder
from ..builder.context import open_build_context
from ..engine import pipes
from ..errors import InvalidArgument, NbdockError
from ..image import reference
from ..registry import AuthConfig
from .http import JSONStream, filters, flag, integer, json_response, query_json

log = logging.getLogger("nbdock.daemon")
routes = web.RouteTableDef()

#: How often a build looks whether its client is still connected, in seconds.
CLIENT_CHECK_INTERVAL = 0.25


@routes.post("/build")
async def build(request: web.Request) -> web.StreamResponse:
    engine = request.app["engine"]
    options = await _build_options(request)
    remote = request.query.get("remote", "")
    dockerfile_name = request.query.get("dockerfile", "")
    context = await pipes.to_thread(
        lambda body: open_build_context(body, tmp_dir=engine.images.store.tmp_dir, remote=remote,
                                        dockerfile_name=dockerfile_name),
        request.content.iter_any())
    stream = JSONStream(request)
    output = _HeldBackOutput() if flag(request, "q") else _StreamedOutput(stream)
    try:
        image_id = await _unless_client_leaves(request, Builder(engine.build_backend, context, options, output).build())
    except _ClientGone:
        return stream.response if stream.prepared else web.Response()  # nobody will read it
    except Exception as error:  # noqa: BLE001 - reported in the stream once it has started
        return await _report_failure(stream, output, error)
    finally:
        await asyncio.to_thread(context.close)
    if isinstance(output, _HeldBackOutput):
        await stream.send({"stream": image_id + "\n"})
    return await stream.finish()


async def _report_failure(stream: JSONStream, output, error: Exception) -> web.StreamResponse:
    """The error as the stream's last message -- or, if nothing was sent yet, as a plain HTTP error."""
    if isinstance(output, _HeldBackOutput):
        for message in output.messages:  # q=1: what was held back explains the failure
            await stream.send(message)
    if not stream.prepared:
        raise error
    if not isinstance(error, NbdockError):
        log.exception("build failed", exc_info=error)
    message = error.message if isinstance(error, NbdockError) else str(error)
    await stream.error(message, getattr(error, "code", None))
    return await stream.finish()


class _ClientGone(Exception):
    pass


async def _unless_client_leaves(request: web.Request, build):
    """Run ``build``; cancel it if the client hangs up first (Ctrl-C on ``docker build``).

    Docker stops a build nobody waits for; here cancelling it kills and
    removes the container of a RUN in progress, which could otherwise run
    forever.  aiohttp does not cancel a handler when its client goes, so we
    look at the connection now and then.
    """
    task = asyncio.ensure_future(build)
    while not task.done():
        await asyncio.wait({task}, timeout=CLIENT_CHECK_INTERVAL)
        transport = request.transport
        if not task.done() and (transport is None or transport.is_closing()):
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception as error:  # noqa: BLE001 - nobody is left to tell, but a bug is still logged
                if not isinstance(error, NbdockError):
                    log.exception("build failed after its client left", exc_info=error)
            raise _ClientGone()
    return task.result()


class _StreamedOutput:
    """The builder's messages, sent to the client as they come."""

    def __init__(self, stream: JSONStream):
        self.stream = stream
        self.client_gone = False

    async def send(self, message: dict[str, Any]) -> None:
        # Once the client has hung up, messages go nowhere, but the build's cleanup must go on.
        if self.client_gone:
            return
        try:
            await self.stream.send(message)
        except ConnectionResetError:
            self.client_gone = True


class _HeldBackOutput:
    """``q=1``: the messages are kept, to be shown only if the build fails."""

    def __init__(self):
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


async def _build_options(request: web.Request) -> BuildOptions:
    """The query parameters of ``POST /build`` (Docker's names), checked before the body is read."""
    query = request.query
    if query.get("version") == "2":
        raise InvalidArgument("this daemon has only the classic builder: build with DOCKER_BUILDKIT=0")
    build_args = await query_json(request, "buildargs", {})
    labels = await query_json(request, "labels", {})
    if not isinstance(build_args, dict) or any(not isinstance(v, (str, type(None))) for v in build_args.values()):
        raise InvalidArgument("error reading build args: buildargs must map names to strings (or null)")
    if not isinstance(labels, dict) or not all(isinstance(value, str) for value in labels.values()):
        raise InvalidArgument("error reading labels: labels must map names to strings")
    cache_from = await query_json(request, "cachefrom", None)
    if cache_from is not None and (not isinstance(cache_from, list) or not all(isinstance(r, str) for r in cache_from)):
        raise InvalidArgument("error reading cachefrom: it must be a JSON list of image references")
    return BuildOptions(
        tags=_tags(query.getall("t", [])),
        build_args=build_args,
        labels=labels,
        target=query.get("target", ""),
        no_cache=flag(request, "nocache"),
        cache_from=cache_from or None,
        # rm defaults to true; forcerm implies it
        remove=flag(request, "rm", default=True) or flag(request, "forcerm"),
        force_remove=flag(request, "forcerm"),
        pull=flag(request, "pull"),
        host_config=_host_config(request),
        registry_auth=_registry_config(request.headers.get("X-Registry-Config", "")),
    )


def _tags(names: list[str]) -> list[str]:
    """``t=`` values as full references (``name`` means ``name:latest``), without repeats."""
    tags: list[str] = []
    for name in names:
        if not name:
            continue
        parsed = reference.parse(name)
        if parsed.digest:
            raise InvalidArgument("build tag cannot contain a digest")
        full = str(parsed.with_default_tag())
        if full not in tags:
            tags.append(full)
    return tags


def _host_config(request: web.Request) -> dict[str, Any]:
    """The HostConfig of RUN's containers: the resources and network the client asked the build to use."""
    host_config: dict[str, Any] = {"NetworkMode": request.query.get("networkmode") or "default"}
    for parameter, key in (("memory", "Memory"), ("memswap", "MemorySwap"), ("cpushares", "CpuShares"),
                           ("cpuperiod", "CpuPeriod"), ("cpuquota", "CpuQuota"), ("shmsize", "ShmSize")):
        value = integer(request, parameter)
        if value:
            host_config[key] = value
    for parameter, key in (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems")):
        if request.query.get(parameter):
            host_config[key] = request.query[parameter]
    if request.query.getall("extrahosts", []):
        host_config["ExtraHosts"] = request.query.getall("extrahosts")
    return host_config


def _registry_config(header: str) -> dict[str, AuthConfig]:
    """X-Registry-Config: base64url of ``{"registry": {auth config}, ...}``, credentials for FROM pulls.

    Docker ignores a header it cannot decode (a build without credentials
    still works for public images), and so do we.
    """
    if not header:
        return {}
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {registry: AuthConfig.from_json(auth) for registry, auth in decoded.items() if isinstance(auth, dict)}


#: The filters of ``docker builder prune`` (BuildKit's cache records), accepted for Docker's answers.
BUILD_PRUNE_FILTERS = ("until", "unused-for", "id", "parent", "type", "description", "inuse", "shared", "private")


@routes.post("/build/prune")
async def build_prune(request: web.Request) -> web.Response:
    """``docker builder prune``: nothing to delete, since nbdock keeps no build cache of its own.

    This endpoint empties BuildKit's cache.  The classic builder (nbdock's
    only one) keeps its cache as images -- each step's result, found again
    through its parent (see :mod:`nbdock.builder.cache`) -- which
    ``docker image prune`` removes.  Docker answers the same with the classic
    builder alone: no cache records, nothing reclaimed.
    """
    try:
        filters(request, BUILD_PRUNE_FILTERS)
    except InvalidArgument as e:
        raise InvalidArgument(f"failed to prune build cache: {e.message}") from None
    integer(request, "keep-storage", 0)
    return json_response({"CachesDeleted": None, "SpaceReclaimed": 0})
