"""The daemon: the Docker Engine API over HTTP, on a unix socket, in front of the engine.

    python -m nbdock daemon --host unix:///run/nbdock/nbdock.sock --data-root /var/lib/nbdock
    python -m nbdock daemon stop      # SIGTERM the daemon its pid file names (/run/nbdock/nbdock.pid)

Every route is reachable both unversioned (``/containers/json``) and with
any version prefix (``/v1.44/containers/json``), as in Docker.  Errors from
the engine are translated here, once: ``{"message": ...}`` with the status
the error class carries (404 no such container, 409 conflict...), which is
exactly what makes the docker CLI print "Error response from daemon: ..."
and exit with its usual codes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import grp
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from urllib.parse import urlparse

from aiohttp import web

from .. import __version__
from ..defaults import DEFAULT_DATA_ROOT, DEFAULT_HOST
from ..engine import API_VERSION, MIN_API_VERSION, Engine
from ..engine.remap import UsernsRemap
from ..errors import InvalidArgument, NbdockError, NotModified
from ..network.overlay import ClusterConfig
from . import (routes_build, routes_containers, routes_images, routes_nbdock, routes_swarm, routes_system,
               routes_volumes_networks)
from .http import api_error, error_response

log = logging.getLogger("nbdock.daemon")

ROUTE_TABLES = (routes_system.routes, routes_containers.routes, routes_images.routes, routes_volumes_networks.routes,
                routes_nbdock.routes, routes_build.routes, routes_swarm.routes)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nbdock daemon", description="Run the nbdock engine (the Docker Engine API). "
                                     "`nbdock daemon stop` stops a running one.")
    parser.add_argument("-H", "--host", action="append", default=[],
                        help=f"where to listen: unix:///path or tcp://127.0.0.1:PORT (repeatable; default {DEFAULT_HOST})")
    parser.add_argument("--data-root", default=DEFAULT_DATA_ROOT, help=f"where images, containers and volumes live (default {DEFAULT_DATA_ROOT})")
    parser.add_argument("--offline", action="store_true", help="never contact a registry; busybox comes from the host")
    parser.add_argument("--registry-mirror", action="append", default=[], help="a mirror for docker.io (repeatable)")
    parser.add_argument("--insecure-registry", action="append", default=[], help="a registry to reach over plain HTTP (repeatable)")
    parser.add_argument("--allow-nonlocal-tcp", action="store_true",
                        help="allow tcp:// hosts other than loopback (the API has no authentication!)")
    parser.add_argument("--debug", action="store_true", help="log every request")
    parser.add_argument("-p", "--pidfile", metavar="PATH",
                        help="where to write the daemon's pid, as dockerd's --pidfile (default: beside the first unix "
                             "socket, named after it: /run/nbdock/nbdock.pid); removed when the daemon stops")
    parser.add_argument("--userns-remap", metavar="default|USER[:GROUP]",
                        help="run every container in a user namespace whose root is USER's first subordinate id "
                             "(/etc/subuid, /etc/subgid); default: the dockremap user, created if missing")
    # Overlay networks across hosts, as Docker 1.12-20.10 made them (nbdock/network/overlay.py).
    parser.add_argument("--cluster-store", metavar="etcd://HOST:PORT[,HOST:PORT...]",
                        help="the etcd cluster the daemons of several hosts share overlay networks through")
    parser.add_argument("--cluster-advertise", metavar="ADDR[:PORT]",
                        help="this host's address (or interface) that the other hosts reach it at: its VXLAN end")
    parser.add_argument("--cluster-store-opt", action="append", default=[], metavar="discovery.ttl=SECONDS",
                        help="how long a dead daemon's containers stay in the store (its etcd lease; default 20)")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# the HTTP application


@web.middleware
async def translate_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except NotModified:
        return web.Response(status=304)
    except NbdockError as e:
        status, message = api_error(e)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.path, message)
        return error_response(status, message, e.explanation)
    except web.HTTPNotFound:
        return error_response(404, "page not found")
    except web.HTTPMethodNotAllowed:
        return error_response(404, "page not found")
    except web.HTTPException:
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as e:  # noqa: BLE001 - the client gets a message, the log the traceback
        log.exception("%s %s failed", request.method, request.path)
        return error_response(*api_error(e))


@web.middleware
async def check_api_version(request: web.Request, handler):
    version = request.match_info.get("version")
    if version:
        requested = _version_tuple(version)
        if requested > _version_tuple(API_VERSION):
            return error_response(400, f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
        if requested < _version_tuple(MIN_API_VERSION):
            return error_response(
                400, f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
                     "please upgrade your client to a newer version")
    return await handler(request)


@web.middleware
async def track_requests(request: web.Request, handler):
    """Remember each request's task while its handler runs, so that shutdown can end the streams.

    Most requests end in milliseconds; a few never end by themselves --
    ``GET /events``, ``stats`` and ``logs --follow`` stream until the client
    hangs up.  aiohttp's graceful shutdown waits for every running handler,
    so one idle ``docker events`` (or a notebook's event watcher) held the
    daemon's exit for its whole timeout (~10 s).  dockerd ends such streams
    when it shuts down; :func:`_end_streams` does the same.
    """
    running = request.app["running_requests"]
    task = asyncio.current_task()
    running.add(task)
    try:
        return await handler(request)
    finally:
        running.discard(task)


async def _end_streams(app: web.Application) -> None:
    """On shutdown (the containers already stopped): cancel the requests still running -- the endless streams."""
    for task in list(app["running_requests"]):
        task.cancel()


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (0,)


async def _standard_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The headers dockerd adds to every response (the CLI reads the OS from Server)."""
    response.headers["Api-Version"] = API_VERSION
    response.headers["Ostype"] = "linux"
    response.headers["Docker-Experimental"] = "false"
    response.headers["Server"] = f"Docker/nbdock-{__version__} (linux)"


def make_app(engine: Engine, *, debug: bool = False) -> web.Application:
    app = web.Application(middlewares=[track_requests, translate_errors, check_api_version], client_max_size=0)
    app["engine"] = engine
    app["running_requests"] = set()
    app.on_shutdown.append(_end_streams)  # runs first in runner.cleanup(), before it waits for the handlers
    for table in ROUTE_TABLES:
        for route in table:
            for path in (route.path, "/v{version:[0-9.]+}" + route.path):
                if route.method == "GET":
                    app.router.add_get(path, route.handler, **route.kwargs)
                else:
                    app.router.add_route(route.method, path, route.handler, **route.kwargs)
    app.on_response_prepare.append(_standard_headers)
    return app


# ---------------------------------------------------------------------------
# sockets


def _listen_unix(path: str) -> socket.socket:
    """A unix socket at ``path``, mode 0660, group "nbdock" if that group exists (as dockerd's "docker")."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path):
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(1)
            probe.connect(path)
            raise SystemExit(f"nbdock daemon: another daemon is already listening at {path}")
        os.unlink(path)  # a stale socket from a daemon that died
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o660)
    with contextlib.suppress(KeyError):
        os.chown(path, -1, grp.getgrnam("nbdock").gr_gid)
    return sock


def _listen_tcp(host: str, port: int, allow_nonlocal: bool) -> socket.socket:
    if not allow_nonlocal and not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        raise SystemExit(f"nbdock daemon: refusing to listen on tcp://{host}:{port}: the API has no authentication "
                         "(use a loopback address, or --allow-nonlocal-tcp if you really mean it)")
    return socket.create_server((host, port))


async def serve(args: argparse.Namespace) -> None:
    # Bad flags stop the daemon now; on a worker thread, as netlink (an interface's address) must be.
    cluster = await asyncio.to_thread(ClusterConfig.parse, args.cluster_store, args.cluster_advertise,
                                      args.cluster_store_opt)
    if args.userns_remap:
        UsernsRemap.check(args.userns_remap)  # an unknown user or no subordinate ids: exit now, nothing made
    data_root = os.path.abspath(args.data_root)
    os.makedirs(data_root, exist_ok=True)
    lock = open(os.path.join(data_root, "nbdock.lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"nbdock daemon: another daemon is using the data root {data_root}") from None

    sockets = []
    unix_paths = []
    for host in args.host or [DEFAULT_HOST]:
        url = urlparse(host)
        if url.scheme == "unix":
            sockets.append(_listen_unix(url.path))
            unix_paths.append(url.path)
        elif url.scheme == "tcp":
            sockets.append(_listen_tcp(url.hostname or "127.0.0.1", url.port or 2375, args.allow_nonlocal_tcp))
        else:
            raise SystemExit(f"nbdock daemon: unsupported host {host!r} (use unix:///path or tcp://127.0.0.1:PORT)")
    pidfile = pidfile_path(args.pidfile, unix_paths, data_root)
    _write_pidfile(pidfile)

    engine = Engine(data_root, offline=args.offline, registry_mirrors=args.registry_mirror,
                    insecure_registries=args.insecure_registry, cluster=cluster, userns_remap=args.userns_remap)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(make_app(engine, debug=args.debug), access_log=log if args.debug else None,
                           handle_signals=False, shutdown_timeout=5)
    try:
        await engine.start()
        await runner.setup()
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        log.info("nbdock %s: serving the Docker Engine API %s at %s (data root %s)", __version__, API_VERSION,
                 ", ".join(args.host or [DEFAULT_HOST]), data_root)
        await stop.wait()
        log.info("nbdock: shutting down (stopping containers)")
    finally:
        for site in list(runner.sites):
            # No new connections; the ones open (attach, wait) end as containers stop.  (Bounded:
            # asyncio's Server.wait_closed waits for every connection, hijacked ones included.)
            await _bounded(site.stop(), 5, "closing the listening sockets")
        await engine.shutdown()
        await _bounded(runner.cleanup(), 10, "closing the clients' connections")
        for path in [*unix_paths, pidfile]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        lock.close()


def pidfile_path(explicit: str | None, unix_paths: list[str], data_root: str) -> str:
    """``--pidfile``, else the first unix socket's path with ``.pid`` for ``.sock``, else in the data root.

    Beside the socket and named after it, so that one name finds both (and two
    daemons with sockets in one folder do not share a pid file): the daemon at
    /run/nbdock/nbdock.sock is stopped with ``kill $(cat /run/nbdock/nbdock.pid)``.
    """
    if explicit:
        return os.path.abspath(explicit)
    if unix_paths:
        return os.path.splitext(unix_paths[0])[0] + ".pid"
    return os.path.join(data_root, "nbdock.pid")


def _write_pidfile(path: str) -> None:
    """Write our pid to ``path`` (replaced atomically: a reader never sees it half written)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    scratch = f"{path}.{os.getpid()}.tmp"
    with open(scratch, "w") as file:
        file.write(f"{os.getpid()}\n")
    os.replace(scratch, path)


async def _bounded(step, seconds: float, what: str) -> None:
    """Await a step of the shutdown, for ``seconds`` at most (then say so and go on)."""
    try:
        await asyncio.wait_for(step, seconds)
    except asyncio.TimeoutError:
        log.warning("nbdock: %s took more than %g s; going on", what, seconds)


def stop_daemon(argv: list[str]) -> int:
    """``nbdock daemon stop [--host H | --pidfile P]``: SIGTERM the daemon named by its pid file, wait for it.

    The same as ``kill $(cat /run/nbdock/nbdock.pid)``, then waiting: the
    daemon stops its containers first, and removes its pid file last, so the
    file's disappearance says it is done (a pid alone could be reused).
    """
    parser = argparse.ArgumentParser(prog="nbdock daemon stop", description="Stop a running nbdock daemon.")
    parser.add_argument("-H", "--host", default=DEFAULT_HOST, help=f"the daemon's unix socket (default {DEFAULT_HOST})")
    parser.add_argument("-p", "--pidfile", help="its pid file (default: beside the socket, named after it)")
    parser.add_argument("--timeout", type=float, default=30.0, help="how long to wait for it to stop (default 30 s)")
    args = parser.parse_args(argv)
    url = urlparse(args.host)
    path = pidfile_path(args.pidfile, [url.path] if url.scheme == "unix" else [], DEFAULT_DATA_ROOT)
    try:
        pid = int(open(path).read().strip())
    except FileNotFoundError:
        print(f"nbdock daemon stop: no pid file at {path}: is a daemon running there?", file=sys.stderr)
        return 1
    except ValueError:
        print(f"nbdock daemon stop: {path} holds no pid", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        os.unlink(path)
        print(f"nbdock daemon stop: the daemon of {path} (pid {pid}) had already died; removed its pid file",
              file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.timeout
    while os.path.exists(path):
        if time.monotonic() > deadline:
            print(f"nbdock daemon stop: pid {pid} is still stopping after {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.05)
    print(f"nbdock daemon: stopped (pid {pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["stop"]:
        return stop_daemon(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if os.geteuid() != 0:
        print("nbdock daemon: must run as root (it makes namespaces, mounts and cgroups)", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(args))
    except InvalidArgument as e:
        print(f"nbdock daemon: {e.message}", file=sys.stderr)
        return 1
    return 0
