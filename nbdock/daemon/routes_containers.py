"""/containers/... and /exec/...: the Docker API's container and exec endpoints."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import signal

from aiohttp import web

from ..engine import Engine, clock, detachkeys
from ..engine.clock import parse_rfc3339
from ..engine.errorcontext import in_context
from ..engine.execs import ExecStartError
from ..engine.signals import parse_signal
from ..engine.streams import end_of_input
from ..errors import InvalidArgument, NbdockError, NotFound
from . import bodies
from .http import (CONTAINER_FILTERS, CONTAINER_PRUNE_FILTERS, MULTIPLEXED, RAW, Hijacked, api_error, body_json, filters,
                   flag, frame, integer, json_response, stream_bytes, unless_disconnected, while_connected)

routes = web.RouteTableDef()
log = logging.getLogger("nbdock.daemon")


def engine_of(request: web.Request) -> Engine:
    return request.app["engine"]


# ---------------------------------------------------------------------------
# create, list, inspect


@routes.post("/containers/create")
async def create(request: web.Request) -> web.Response:
    body = await body_json(request, bodies.CONTAINER_CREATE, "container config")
    bodies.normalize_strings(body, "Cmd", "Entrypoint", "Shell")
    bodies.normalize_strings(body.get("HostConfig") or {}, "CapAdd", "CapDrop")
    result = await engine_of(request).containers.create(body, request.query.get("name") or None)
    return json_response(result, status=201)


@routes.get("/containers/json")
async def list_containers(request: web.Request) -> web.Response:
    limit = integer(request, "limit", -1)
    containers = engine_of(request).containers.list(
        all=flag(request, "all"), filters=filters(request, CONTAINER_FILTERS), limit=limit, size=flag(request, "size"))
    return json_response(containers)


@routes.get("/containers/{id}/json")
async def inspect(request: web.Request) -> web.Response:
    return json_response(engine_of(request).containers.inspect(request.match_info["id"], size=flag(request, "size")))


# ---------------------------------------------------------------------------
# life cycle


@routes.post("/containers/{id}/start")
async def start(request: web.Request) -> web.Response:
    await engine_of(request).containers.start(request.match_info["id"])
    return web.Response(status=204)


@routes.post("/containers/{id}/stop")
async def stop(request: web.Request) -> web.Response:
    await engine_of(request).containers.stop(request.match_info["id"], integer(request, "t"), request.query.get("signal"))
    return web.Response(status=204)


@routes.post("/containers/{id}/restart")
async def restart(request: web.Request) -> web.Response:
    await engine_of(request).containers.restart(request.match_info["id"], integer(request, "t"))
    return web.Response(status=204)


@routes.post("/containers/{id}/kill")
async def kill(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    number = parse_signal(request.query.get("signal"), signal.SIGKILL)  # a bad signal is refused as it is
    try:
        await engine_of(request).containers.kill(ref, number)
    except NbdockError as e:
        raise in_context(e, f"Cannot kill container: {ref}") from None  # Docker's wording
    return web.Response(status=204)


@routes.post("/containers/{id}/update")
async def update(request: web.Request) -> web.Response:
    body = await body_json(request, bodies.UPDATE_CONFIG, "update config")
    warnings = await engine_of(request).containers.update(request.match_info["id"], body)
    return json_response({"Warnings": warnings})


@routes.post("/containers/{id}/pause")
async def pause(request: web.Request) -> web.Response:
    await engine_of(request).containers.pause(request.match_info["id"])
    return web.Response(status=204)


@routes.post("/containers/{id}/unpause")
async def unpause(request: web.Request) -> web.Response:
    await engine_of(request).containers.unpause(request.match_info["id"])
    return web.Response(status=204)


@routes.post("/containers/{id}/rename")
async def rename(request: web.Request) -> web.Response:
    await engine_of(request).containers.rename(request.match_info["id"], request.query.get("name", ""))
    return web.Response(status=204)


@routes.delete("/containers/{id}")
async def remove(request: web.Request) -> web.Response:
    if flag(request, "link"):  # a link name has a slash; a plain name is the container's own, not a link
        await engine_of(request).containers.remove_link(request.match_info["id"])
        return web.Response(status=204)
    await engine_of(request).containers.remove(request.match_info["id"], force=flag(request, "force"), volumes=flag(request, "v"))
    return web.Response(status=204)


@routes.delete("/containers/{id}/{alias}")
async def remove_link(request: web.Request) -> web.Response:
    """``DELETE /containers/NAME/ALIAS?link=1``: remove a legacy link (the name has a slash)."""
    link_name = f"{request.match_info['id']}/{request.match_info['alias']}"
    if not flag(request, "link"):
        raise NotFound(f"No such container: {link_name}")
    await engine_of(request).containers.remove_link(link_name)
    return web.Response(status=204)


@routes.post("/containers/prune")
async def prune(request: web.Request) -> web.Response:
    return json_response(await engine_of(request).containers.prune(filters(request, CONTAINER_PRUNE_FILTERS)))


@routes.post("/containers/{id}/wait")
async def wait(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    container_id = request.match_info["id"]
    condition = request.query.get("condition") or "not-running"
    engine.containers.check_wait(container_id, condition)  # errors must come before the headers
    # The docker CLI waits for these headers before it starts the container: send them now.
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    result = await unless_disconnected(request, engine.containers.wait(container_id, condition))
    if result is None:
        return response
    with contextlib.suppress(ConnectionError):
        await response.write(json.dumps(result).encode() + b"\n")
        await response.write_eof()
    return response


@routes.post("/containers/{id}/resize")
async def resize(request: web.Request) -> web.Response:
    from ..runtime.terminal import set_window_size

    container = engine_of(request).containers.get(request.match_info["id"])
    height, width = integer(request, "h", 0), integer(request, "w", 0)
    if container.run is not None and container.run.started.console is not None and height and width:
        set_window_size(container.run.started.console, height, width)
    return web.Response(status=200)


# ---------------------------------------------------------------------------
# attach and logs


async def relay_input(hijacked: Hijacked, listeners, scanner: detachkeys.DetachScanner | None) -> bool:
    """Hand what the client types to the process's stdin (``listeners``; None: read and drop it) until
    the client stops sending (False) or types the detach sequence (True), which the process never sees."""
    async for data in hijacked.read_input():
        if listeners is None:
            continue
        detached = False
        if scanner is not None:
            data, detached = scanner.feed(data)
        if data:
            listeners.stdin.put_nowait(data)
        if detached:
            return True
    return False


@routes.post("/containers/{id}/attach")
async def attach(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    container = engine.containers.get(request.match_info["id"])
    config = container.record.Config
    tty = bool(config.get("Tty"))
    wanted = {s for s in ("stdout", "stderr") if flag(request, s)}
    use_stdin = flag(request, "stdin") and bool(config.get("OpenStdin"))
    stream = flag(request, "stream")
    # With a terminal, the client's keys are watched for its detach sequence (see detachkeys).
    scanner = detachkeys.DetachScanner(detachkeys.parse(request.query.get("detachKeys", ""))) if tty else None
    # Listen before answering, so that output of a container started right after is not missed.
    # (A stopped container's output comes at its next start: `docker start -a` attaches first.)
    output = container.listeners.listen() if stream else None
    hijacked = await Hijacked.upgrade(request, RAW if tty else MULTIPLEXED)
    engine.containers.publish(container.record, "attach")

    def send(stream_name: str, data: bytes) -> None:
        if stream_name in wanted:
            hijacked.write(data if tty else frame(stream_name, data))

    async def pass_input() -> None:
        if await relay_input(hijacked, container.listeners if use_stdin else None, scanner):
            # The attachment ends here; the container runs on.
            engine.containers.publish(container.record, "detach")
            if output is not None:
                output.put_nowait(None)
            hijacked.close()
            return
        if use_stdin and output is not None:
            end_of_input(container.listeners, output, close_stdin=bool(config.get("StdinOnce")), tty=tty)
        if hijacked.closed and output is not None:
            output.put_nowait(None)  # the client went away: stop relaying to it

    input_task = asyncio.get_running_loop().create_task(pass_input())
    try:
        if flag(request, "logs"):
            async for batch in engine.containers.logs(container.id):
                for entry in batch:
                    send(entry.stream, entry.data)
                await hijacked.drain()
        while output is not None:
            item = await output.get()
            if item is None or hijacked.closed:
                break
            send(*item)
            await hijacked.drain()
    finally:
        if output is not None:
            container.listeners.unlisten(output)
        input_task.cancel()
        hijacked.close()
    return hijacked.response


@routes.get("/containers/{id}/logs")
async def container_logs(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    container = engine.containers.get(request.match_info["id"])
    wanted = {s for s in ("stdout", "stderr") if flag(request, s)}
    if not wanted:
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    tty = bool(container.record.Config.get("Tty"))
    tail = request.query.get("tail", "all")
    try:
        tail_count = None if tail in ("all", "") else int(tail)
    except ValueError:
        raise InvalidArgument(f"invalid value for tail: {tail!r}") from None
    response = web.StreamResponse(status=200, headers={"Content-Type": RAW if tty else MULTIPLEXED})
    await response.prepare(request)
    timestamps, details = flag(request, "timestamps"), flag(request, "details")
    entries = engine.containers.logs(
        container.id, follow=flag(request, "follow"), tail=tail_count,
        since=_time_param(request.query.get("since")), until=_time_param(request.query.get("until")))
    with contextlib.suppress(ConnectionError):
        # A batch of entries at a time, one write each: response.write waits while the client is
        # slower than the file, so the daemon holds one batch per reader, whatever the log's size.
        async for batch in while_connected(request, entries):
            frames = []
            for entry in batch:
                if entry.stream not in wanted:
                    continue
                data = entry.data
                if details:
                    data = b" " + data  # the log's extra attributes (nbdock's logs have none), then a space
                if timestamps:
                    data = clock.nine_digits(entry.time).encode() + b" " + data
                frames.append(data if tty else frame(entry.stream, data))
            if frames:
                await response.write(b"".join(frames))
        await response.write_eof()
    return response


def _time_param(value: str | None) -> float:
    """since/until: Unix seconds (possibly fractional) or an RFC 3339 time."""
    if not value:
        return 0
    try:
        return float(value)
    except ValueError:
        return parse_rfc3339(value)


# ---------------------------------------------------------------------------
# exec


@routes.post("/containers/{id}/exec")
async def exec_create(request: web.Request) -> web.Response:
    body = await body_json(request, bodies.EXEC_CREATE, "exec config")
    bodies.normalize_strings(body, "Cmd")
    try:
        detachkeys.parse(body.get("DetachKeys") or "")
    except InvalidArgument:
        raise InvalidArgument(f"Invalid escape keys ({body['DetachKeys']}) provided") from None
    exec_id = engine_of(request).execs.create(request.match_info["id"], body)
    return json_response({"Id": exec_id}, status=201)


@routes.post("/exec/{id}/start")
async def exec_start(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    body = await body_json(request, bodies.EXEC_START, "exec start config")
    instance = engine.execs.check_startable(request.match_info["id"])
    if body.get("Detach"):
        await engine.execs.start(instance.id, detach=True)
        return web.Response(status=200)
    # The stream is raw or multiplexed as the *start* request asks (Docker's rule: a client that
    # starts a terminal exec without Tty gets frames); the terminal itself is the exec's config.
    raw = bool(body.get("Tty"))
    tty = bool(instance.config.get("Tty"))
    # With a terminal, the client's keys are watched for the exec's detach sequence (see detachkeys).
    scanner = detachkeys.DetachScanner(detachkeys.parse(instance.config.get("DetachKeys") or "")) if tty else None
    detached = asyncio.Event()
    output = instance.listeners.listen()
    hijacked = await Hijacked.upgrade(request, RAW if raw else MULTIPLEXED)
    wanted = {s for s, key in (("stdout", "AttachStdout"), ("stderr", "AttachStderr")) if instance.config.get(key, True)}

    async def pass_input() -> None:
        if await relay_input(hijacked, instance.listeners if instance.config.get("AttachStdin") else None, scanner):
            # The client leaves; the process runs on, as after `docker attach`'s detach.
            detached.set()
            output.put_nowait(None)
            hijacked.close()
            return
        if instance.config.get("AttachStdin"):
            end_of_input(instance.listeners, output, close_stdin=True, tty=tty)

    input_task = asyncio.get_running_loop().create_task(pass_input())
    try:
        try:
            await engine.execs.start(instance.id)
        except Exception as e:  # noqa: BLE001 - after the upgrade, the stream is the only way to tell the client
            # Docker reports a failed exec on the stream itself; the exit code (126) is in exec inspect.
            if not isinstance(e, ExecStartError):
                log.exception("exec %s failed to start", instance.id)
            message = (api_error(e)[1] + "\r\n").encode()
            hijacked.write(message if raw else frame("stdout", message))
            await hijacked.drain()
            return hijacked.response
        while True:
            item = await output.get()
            if item is None or hijacked.closed:
                break
            stream, data = item
            if stream in wanted:
                hijacked.write(data if raw else frame(stream, data))
                await hijacked.drain()
        if not detached.is_set():
            await instance.done.wait()  # the exit code is recorded before the client learns the stream ended
    finally:
        instance.listeners.unlisten(output)
        input_task.cancel()
        hijacked.close()
    return hijacked.response


@routes.post("/exec/{id}/resize")
async def exec_resize(request: web.Request) -> web.Response:
    engine_of(request).execs.resize(request.match_info["id"], integer(request, "h", 0), integer(request, "w", 0))
    return web.Response(status=200)


@routes.get("/exec/{id}/json")
async def exec_inspect(request: web.Request) -> web.Response:
    return json_response(engine_of(request).execs.get(request.match_info["id"]).to_inspect())


# ---------------------------------------------------------------------------
# looking inside: top, stats, changes, export, archive


@routes.get("/containers/{id}/top")
async def top(request: web.Request) -> web.Response:
    return json_response(await engine_of(request).stats.top(request.match_info["id"], request.query.get("ps_args") or "-ef"))


@routes.get("/containers/{id}/stats")
async def container_stats(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    container = engine.containers.get(request.match_info["id"])
    streaming = flag(request, "stream", True) and not flag(request, "one-shot")
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # `docker stats` ends by hanging up
        async for sample in engine.stats.samples(container, streaming=streaming, one_shot=flag(request, "one-shot")):
            await response.write(json.dumps(sample).encode() + b"\n")
        await response.write_eof()
    return response


@routes.get("/containers/{id}/changes")
async def changes(request: web.Request) -> web.Response:
    return json_response(await engine_of(request).files.changes(request.match_info["id"]))


@routes.get("/containers/{id}/export")
async def export(request: web.Request) -> web.StreamResponse:
    return await stream_bytes(request, engine_of(request).files.export(request.match_info["id"]))


@routes.head("/containers/{id}/archive")
async def archive_head(request: web.Request) -> web.Response:
    stat = await engine_of(request).files.stat_path(request.match_info["id"], request.query.get("path", ""))
    return web.Response(status=200, headers={"X-Docker-Container-Path-Stat": _encode_stat(stat), "Content-Type": "application/json"})


@routes.get("/containers/{id}/archive", allow_head=False)
async def archive_get(request: web.Request) -> web.StreamResponse:
    engine, container_id, path = engine_of(request), request.match_info["id"], request.query.get("path", "")
    stat = await engine.files.stat_path(container_id, path)  # a missing path is a 404, before any byte
    return await stream_bytes(request, engine.files.get_archive(container_id, path),
                               {"X-Docker-Container-Path-Stat": _encode_stat(stat)})


@routes.put("/containers/{id}/archive")
async def archive_put(request: web.Request) -> web.Response:
    await engine_of(request).files.put_archive(
        request.match_info["id"], request.query.get("path", ""), request.content.iter_chunked(1 << 16),
        no_overwrite_dir_non_dir=flag(request, "noOverwriteDirNonDir"), copy_uid_gid=flag(request, "copyUIDGID"))
    return web.Response(status=200)


def _encode_stat(stat: dict) -> str:
    return base64.b64encode(json.dumps(stat).encode()).decode()


# ---------------------------------------------------------------------------
# commit


@routes.post("/commit")
async def commit(request: web.Request) -> web.Response:
    engine = engine_of(request)
    container = engine.containers.get(request.query.get("container", ""))
    config_override = await body_json(request, bodies.CONFIG, "container config")
    pause_it = flag(request, "pause", True) and container.running and not container.record.State.Paused
    if pause_it:
        # As in Docker, a container that cannot be paused is committed as it is: it may just have
        # exited (its cgroup, and the freezer's file in it, go with its last process).
        try:
            await engine.containers.pause(container.id)
        except (NbdockError, OSError) as e:
            log.debug("commit of %s without pausing it: %s", container.id[:12], e)
            pause_it = False
    try:
        image_id = await asyncio.to_thread(
            engine.images.commit, container, repo=request.query.get("repo", ""), tag=request.query.get("tag", ""),
            comment=request.query.get("comment", ""), author=request.query.get("author", ""),
            changes=request.query.getall("changes", []), config_override=config_override)
    finally:
        if pause_it:
            with contextlib.suppress(NbdockError, OSError):  # killed while paused: nothing to resume
                await engine.containers.unpause(container.id)
    return json_response({"Id": image_id}, status=201)


