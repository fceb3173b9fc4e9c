"""Container commands: run, create, start, attach, exec, logs, ps, rm, stop... export.

Each handler takes the :class:`~nbdock.client.commands.Session` and the
parsed words, makes the same requests the docker CLI makes (in the same
order, where order matters), and writes what the docker CLI prints.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import tarfile
import tempfile
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterator

import docker

from nbdock.image import reference, tarsafe

from .. import stats as stats_math
from ..container_config import create_body, parse_env
from ..errors import CommandError, api_message
from ..flags import Parsed
from ..formatting import Listing, ellipsis, human_duration, human_size, render_template
from ..streams import read_frames

if TYPE_CHECKING:
    from . import Session

# ---------------------------------------------------------------------------
# create and run


def create(session: Session, parsed: Parsed) -> int:
    container_id = create_container(session, parsed)
    session.console.out(container_id + "\n")
    return 0


def run(session: Session, parsed: Parsed) -> int:
    """``docker run``: create, [attach, wait,] start -- in that order, so no output and no exit is missed."""
    options = parsed.options
    attach_stdin = options["interactive"] and not options["detach"]
    if attach_stdin and options["tty"] and not session.console.has_terminal():
        raise CommandError("the input device is not a TTY", exit_code=1)
    container_id = create_container(session, parsed)
    api = session.api
    if options["detach"]:
        _start_or_status_error(session, container_id)
        session.console.out(container_id + "\n")
        return 0
    socket_io = _attach_socket(api, container_id, stdin=attach_stdin)
    waiter = ExitWaiter(api, container_id, "removed" if options["rm"] else "next-exit")
    _start_or_status_error(session, container_id)
    _resize(session, container_id, options["tty"])
    stream_container(session, container_id, socket_io, options["tty"], attach_stdin, options["sig_proxy"])
    return waiter.exit_code()


def create_container(session: Session, parsed: Parsed) -> str:
    """``POST /containers/create``; when the image is missing, pull it and try again (as the CLI does)."""
    request = create_body(parsed, console_size=session.console.terminal_size())
    api = session.api
    try:
        try:
            answer = api.create_container_from_config(request.body, request.name)
        except docker.errors.ImageNotFound:
            image = request.body["Image"]
            session.console.err(f"Unable to find image '{reference.parse(image).with_default_tag().familiar()}' locally\n")
            pull_image(session, image, to_stderr=True)
            answer = api.create_container_from_config(request.body, request.name)
    except docker.errors.APIError as error:
        raise _status_error(error) from None
    for warning in answer.get("Warnings") or []:
        session.console.err(f"WARNING: {warning}\n")
    return answer["Id"]


def _start_or_status_error(session: Session, container_id: str) -> None:
    try:
        session.api.start(container_id)
    except docker.errors.APIError as error:
        raise _status_error(error) from None


def _status_error(error: docker.errors.APIError) -> CommandError:
    """The docker CLI's exit code for a container that could not be created or started.

    127: the command was not found; 126: it cannot be executed; 125: any
    other failure of the engine.  Anything else is the container's own code.
    """
    message = str(error.explanation or error)
    if "executable file not found" in message or "no such file or directory" in message:
        code = 127
    elif "permission denied" in message or "is a directory" in message:
        code = 126
    else:
        code = 125
    return CommandError(f"Error response from daemon: {api_message(error)}", exit_code=code)


def pull_image(session: Session, image: str, to_stderr: bool = False) -> None:
    """Pull, showing the daemon's progress messages (shared with ``pull`` in images.py)."""
    repository, tag = docker.utils.parse_repository_tag(image)
    messages = session.api.pull(
        repository, tag or "latest", stream=True, decode=True, auth_config=session.connection.registry_auth(image)
    )
    session.console.progress(messages, to_stderr=to_stderr)


# ---------------------------------------------------------------------------
# Attaching: a container's stdin and output over one hijacked connection


class ExitWaiter:
    """``POST /containers/{id}/wait``, sent *before* the container starts.

    The daemon answers the headers at once and the body -- ``{"StatusCode": N}``
    -- only when the condition is met.  Asking before ``start`` is what
    makes it impossible to miss the exit of a container that ends at once
    (or is removed at once, with ``--rm``).
    """

    def __init__(self, api: docker.APIClient, container_id: str, condition: str | None):
        url = api._url("/containers/{0}/wait", container_id)
        self.response = api._post(url, params={"condition": condition}, timeout=None, stream=True)
        api._raise_for_status(self.response)

    def exit_code(self) -> int:
        answer = self.response.json()  # blocks until the daemon writes the body
        error = (answer.get("Error") or {}).get("Message")
        if error:
            raise CommandError(f"Error waiting for container: {error}", exit_code=125)
        return int(answer["StatusCode"])


def _attach_socket(api: docker.APIClient, container_id: str, stdin: bool):
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
    return api.attach_socket(container_id, params=params)


def _resize(session: Session, container_id: str, tty: bool) -> None:
    rows, columns = session.console.terminal_size()
    if tty and rows:
        session.api.resize(container_id, rows, columns)


def stream_container(session: Session, container_id: str, socket_io, tty: bool, send_stdin: bool, sig_proxy: bool) -> None:
    """Copy our stdin to the container and its output to the console, until the output ends.

    ``socket_io`` is the connection docker-py hands back after the daemon
    answered ``101 UPGRADED``: from then on it is a plain two-way byte
    stream.  When our stdin ends we shut down our *writing* half only: the
    container sees end-of-input and can still send what it has to say.
    """
    raw_socket = socket_io._sock
    if send_stdin:
        threading.Thread(target=_pump_stdin, args=(session, raw_socket), daemon=True).start()
    # With a TTY, Ctrl-C is just a byte for the container's terminal; without one, it is a signal to pass on.
    if sig_proxy and not tty:
        proxy = forward_signals(lambda name: session.api.kill(container_id, name))
    else:
        proxy = contextlib.nullcontext()
    with proxy, (session.console.raw_terminal() if tty and send_stdin else contextlib.nullcontext()):
        for stream, data in read_frames(socket_io, tty):
            session.console.container_output(stream, data)
    socket_io.close()


def _pump_stdin(session: Session, raw_socket: socket.socket) -> None:
    try:
        while data := session.console.read_stdin():
            raw_socket.sendall(data)
        raw_socket.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the container went away first: nothing left to send to


#: The Ctrl-C that gives up on a container that ignores the forwarded ones (a PID 1 without a handler does).
GIVE_UP_AFTER_INTERRUPTS = 3


@contextlib.contextmanager
def forward_signals(send: Callable[[str], None]) -> Iterator[None]:
    """While attached, pass Ctrl-C (SIGINT) and SIGTERM on to the container (the CLI's ``--sig-proxy``).

    The container decides what they mean; we keep reading its output
    until it ends.  A process that is PID 1 of its namespace ignores
    signals it has no handler for, so the third Ctrl-C stops *us* instead
    (the container keeps running).  Signal handlers can only be set in the
    main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    forwarded = (signal.SIGINT, signal.SIGTERM)
    saved = {number: signal.getsignal(number) for number in forwarded}
    interrupts = 0

    def forward(received: int, frame) -> None:
        nonlocal interrupts
        if received == signal.SIGINT:
            interrupts += 1
            if interrupts >= GIVE_UP_AFTER_INTERRUPTS:
                raise KeyboardInterrupt
        send(signal.Signals(received).name.removeprefix("SIG"))

    for number in forwarded:
        signal.signal(number, forward)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def start(session: Session, parsed: Parsed) -> int:
    api = session.api
    if not parsed.attach and not parsed.interactive:
        failed = []
        for name in parsed.args:
            try:
                api.start(name)
                session.console.out(name + "\n")
            except docker.errors.APIError as error:
                session.console.err(f"Error response from daemon: {error.explanation}\n")
                failed.append(name)
        if failed:
            raise CommandError(f"Error: failed to start containers: {', '.join(failed)}")
        return 0
    if len(parsed.args) > 1:
        raise CommandError("you cannot start and attach multiple containers at once")
    container = api.inspect_container(parsed.args[0])
    container_id, tty = container["Id"], container["Config"]["Tty"]
    send_stdin = parsed.interactive and container["Config"]["OpenStdin"]
    if send_stdin and tty and not session.console.has_terminal():
        raise CommandError("the input device is not a TTY")
    socket_io = _attach_socket(api, container_id, stdin=send_stdin)
    waiter = ExitWaiter(api, container_id, "removed" if container["HostConfig"]["AutoRemove"] else "next-exit")
    _start_or_status_error(session, container_id)
    _resize(session, container_id, tty)
    stream_container(session, container_id, socket_io, tty, send_stdin, sig_proxy=True)
    return waiter.exit_code()


def attach(session: Session, parsed: Parsed) -> int:
    api = session.api
    waiter = ExitWaiter(api, parsed.args[0], None)
    container = api.inspect_container(parsed.args[0])
    state = container["State"]
    if not state["Running"]:
        raise CommandError("You cannot attach to a stopped container, start it first")
    if state["Paused"]:
        raise CommandError("You cannot attach to a paused container, unpause it first")
    tty = container["Config"]["Tty"]
    send_stdin = container["Config"]["OpenStdin"] and not parsed.no_stdin
    if send_stdin and tty and not session.console.has_terminal():
        raise CommandError("the input device is not a TTY")
    socket_io = _attach_socket(api, container["Id"], stdin=send_stdin)
    _resize(session, container["Id"], tty)
    stream_container(session, container["Id"], socket_io, tty, send_stdin, parsed.sig_proxy)
    return waiter.exit_code()


def exec_(session: Session, parsed: Parsed) -> int:
    """``docker exec``: create an exec instance, start it attached, then ask it for its exit code."""
    api = session.api
    container, command = parsed.args[0], parsed.args[1:]
    if parsed.interactive and parsed.tty and not session.console.has_terminal():
        raise CommandError("the input device is not a TTY")
    exec_id = api.exec_create(
        container, command, stdout=True, stderr=True, stdin=parsed.interactive, tty=parsed.tty,
        privileged=parsed.privileged, user=parsed.user or "", workdir=parsed.workdir,
        environment=parse_env(parsed.env_file, parsed.env) or None,
    )["Id"]
    if parsed.detach:
        api.exec_start(exec_id, detach=True)
        return 0
    socket_io = api.exec_start(exec_id, tty=parsed.tty, socket=True)
    rows, columns = session.console.terminal_size()
    if parsed.tty and rows:
        api.exec_resize(exec_id, height=rows, width=columns)
    stream_container(session, container, socket_io, parsed.tty, parsed.interactive, sig_proxy=False)
    return int(api.exec_inspect(exec_id)["ExitCode"] or 0)


# ---------------------------------------------------------------------------
# Looking at containers


def logs(session: Session, parsed: Parsed) -> int:
    api = session.api
    container = api.inspect_container(parsed.args[0])
    params = {
        "stdout": 1, "stderr": 1, "tail": parsed.tail, "follow": int(parsed.follow),
        "timestamps": int(parsed.timestamps), "details": int(parsed.details),
        "since": timestamp_param(parsed.since), "until": timestamp_param(parsed.until),
    }
    response = api._get(api._url("/containers/{0}/logs", container["Id"]), params=params, stream=True, timeout=None)
    api._raise_for_status(response)
    with response:
        for stream, data in read_frames(response.raw, container["Config"]["Tty"]):
            session.console.container_output(stream, data)
    return 0


_GO_DURATION = re.compile(r"^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def timestamp_param(text: str | None) -> str | None:
    """``--since 10m`` means ten minutes ago: the CLI turns durations into a unix time; other forms pass as they are."""
    if not text:
        return None
    if _GO_DURATION.match(text):
        seconds = sum(float(number) * _DURATION_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
        return f"{time.time() - seconds:.9f}"
    return text


PS_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
    "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS",
    "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}
PS_FORMAT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def ps(session: Session, parsed: Parsed) -> int:
    containers = session.api.containers(
        all=parsed.all, size=parsed.size, filters=parse_filters(parsed.filter) or None,
        limit=int(parsed.last) if parsed.last else -1, latest=parsed.latest,
    )
    format_text = parsed.format or (PS_FORMAT + ("\t{{.Size}}" if parsed.size else ""))
    listing = Listing(PS_HEADERS, format_text, [ps_row(c, truncate=not parsed.no_trunc) for c in containers])
    session.console.listing(listing, parsed.format, parsed.quiet)
    return 0


def ps_row(summary: dict, truncate: bool = True, now: float | None = None) -> dict:
    """One ``docker ps`` row, its fields named as in ``--format`` templates."""
    now = time.time() if now is None else now
    command = summary.get("Command") or ""
    image = summary.get("Image") or ""
    if image.startswith("sha256:") and truncate:
        image = image[7:19]
    labels = summary.get("Labels") or {}
    mounts = [m.get("Name") or m.get("Source", "") for m in summary.get("Mounts") or []]
    size = ""
    if "SizeRw" in summary or "SizeRootFs" in summary:
        size = f"{human_size(summary.get('SizeRw') or 0)} (virtual {human_size(summary.get('SizeRootFs') or 0)})"
    return {
        "ID": summary["Id"][:12] if truncate else summary["Id"],
        "Image": image,
        "Command": json.dumps(ellipsis(command, 20) if truncate else command, ensure_ascii=False),
        "CreatedAt": go_time(summary.get("Created", 0)),
        "RunningFor": human_duration(now - summary.get("Created", now)) + " ago",
        "Ports": display_ports(summary.get("Ports") or []),
        "State": summary.get("State", ""),
        "Status": summary.get("Status", ""),
        "Size": size,
        "Names": ",".join(name[1:] for name in summary.get("Names") or []),
        "Labels": ",".join(f"{key}={value}" for key, value in sorted(labels.items())),
        "Mounts": ",".join(ellipsis(mount, 15) if truncate else mount for mount in mounts),
        "Networks": ",".join(sorted((summary.get("NetworkSettings") or {}).get("Networks") or {})),
        "LocalVolumes": str(sum(1 for m in summary.get("Mounts") or [] if m.get("Driver") == "local")),
    }


def go_time(unix_seconds: float) -> str:
    """A time as Go prints ``time.Time``: ``2026-11-28 12:50:48 +0000 UTC``."""
    moment = datetime.fromtimestamp(unix_seconds, timezone.utc).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %z ") + (moment.tzname() or "")


def display_ports(ports: list[dict]) -> str:
    """The PORTS column: consecutive ports grouped into ranges, published ones as ``0.0.0.0:8080->80/tcp``.

    The same rules as the docker CLI's ``DisplayablePorts``.
    """
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    host_mappings: list[str] = []
    for port in sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""), p.get("PublicPort", 0), p.get("Type", ""))):
        private, kind, ip = port.get("PrivatePort", 0), port.get("Type", "tcp"), port.get("IP", "")
        key = kind
        if ip:
            if port.get("PublicPort") != private:
                host_mappings.append(f"{join_host_port(ip, port.get('PublicPort', 0))}->{private}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
            order.append(key)
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_port_group(key, *group))
            groups[key] = [private, private]
    result += [_port_group(key, *groups[key]) for key in order]
    return ", ".join(result + host_mappings)


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    ports = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{ports}->{ports}/{kind}" if ip else f"{ports}/{kind}"


def join_host_port(ip: str, port: int | str) -> str:
    """``0.0.0.0:8080``, and ``[::]:8080`` for an IPv6 address (as Go's ``net.JoinHostPort``)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    """``-f status=exited -f name=web`` -> ``{"status": ["exited"], "name": ["web"]}``."""
    filters: dict[str, list[str]] = {}
    for value in values:
        key, has_value, content = value.partition("=")
        if not has_value:
            raise CommandError(f"bad format of filter (expected name=value): {value}", exit_code=125)
        filters.setdefault(key.strip().lower(), []).append(content)
    return filters


def inspect(session: Session, parsed: Parsed) -> int:
    """``docker inspect``: try each kind of object in the CLI's order, unless ``--type`` says which."""
    api = session.api
    lookups = {
        "container": lambda name: _inspect_container(api, name, parsed.size),
        "image": api.inspect_image,
        "network": api.inspect_network,
        "volume": api.inspect_volume,
    }
    if parsed.type and parsed.type not in lookups:
        raise CommandError(f'"{parsed.type}" is not a valid value for --type', exit_code=125)
    kinds = [parsed.type] if parsed.type else list(lookups)
    found, missing = [], []
    for name in parsed.args:
        for kind in kinds:
            try:
                found.append(lookups[kind](name))
                break
            except docker.errors.NotFound:
                continue
        else:
            missing.append(name)
    print_objects(session, found, parsed.format)
    if missing:
        what = parsed.type or "object"
        raise CommandError("\n".join(f"Error: No such {what}: {name}" for name in missing))
    return 0


def _inspect_container(api: docker.APIClient, name: str, size: bool) -> dict:
    response = api._get(api._url("/containers/{0}/json", name), params={"size": int(size)})
    return api._result(response, json=True)


def print_objects(session: Session, objects: list[dict], format_text: str | None) -> None:
    """Inspect output: an indented JSON array, or one template line per object."""
    if format_text:
        for item in objects:
            session.console.out(render_template(format_text, item) + "\n")
    else:
        session.console.out(json.dumps(objects, indent=4) + "\n")


def port(session: Session, parsed: Parsed) -> int:
    container = session.api.inspect_container(parsed.args[0])
    ports = (container.get("NetworkSettings") or {}).get("Ports") or {}
    if len(parsed.args) == 2:
        wanted = parsed.args[1] if "/" in parsed.args[1] else parsed.args[1] + "/tcp"
        bindings = ports.get(wanted)
        if not bindings:
            raise CommandError(f"Error: No public port '{wanted}' published for {parsed.args[0]}")
        for binding in bindings:
            session.console.out(join_host_port(binding["HostIp"], binding["HostPort"]) + "\n")
        return 0
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for binding in ports[key] or []:
            session.console.out(f"{key} -> {join_host_port(binding['HostIp'], binding['HostPort'])}\n")
    return 0


def top(session: Session, parsed: Parsed) -> int:
    answer = session.api.top(parsed.args[0], ps_args=" ".join(parsed.args[1:]) or None)
    session.console.table(answer["Titles"], answer["Processes"] or [], min_width=20)
    return 0


def diff(session: Session, parsed: Parsed) -> int:
    kinds = {0: "C", 1: "A", 2: "D"}
    for change in session.api.diff(parsed.args[0]) or []:
        session.console.out(f"{kinds.get(change['Kind'], '?')} {change['Path']}\n")
    return 0


# ---------------------------------------------------------------------------
# stats


STATS_HEADERS = {
    "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}
STATS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"


def stats(session: Session, parsed: Parsed) -> int:
    """``docker stats``: one table (``--no-stream``), redrawn every second until Ctrl-C otherwise.

    ``--seconds S`` samples S seconds into a table of numbers instead (nbdock).
    """
    if parsed.seconds or parsed.interval or parsed.plot:
        return _stats_samples(session, parsed)
    while True:
        listing = stats_listing(session, parsed)
        if parsed.no_stream:
            session.console.listing(listing, parsed.format)
            return 0
        if session.console.stdout.isatty():
            session.console.out("\x1b[2J\x1b[H")  # clear the screen, cursor to the top
        session.console.listing(listing, parsed.format)
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            return 0


def stats_listing(session: Session, parsed: Parsed) -> Listing:
    api = session.api
    names = parsed.args or [c["Id"] for c in api.containers(all=parsed.all)]
    rows = []
    for name in names:
        sample = stats_math.summarize(api.stats(name, stream=False))
        row = stats_math.display_row(sample)
        if not parsed.no_trunc:
            row["ID"] = row["ID"][:12]
        rows.append(row)
    return Listing(STATS_HEADERS, STATS_FORMAT, rows, quiet_field="ID")


def _stats_samples(session: Session, parsed: Parsed) -> int:
    if len(parsed.args) != 1:
        raise CommandError("stats --seconds/--interval/--plot samples one container: name it", exit_code=125)
    seconds = float(parsed.seconds or 10)
    interval = float(parsed.interval or 1)
    if seconds <= 0 or interval <= 0:
        raise CommandError("--seconds and --interval must be positive", exit_code=125)
    frame = stats_math.sample(stats_math.polled_readings(session.api, parsed.args[0], interval), seconds)
    session.console.out(frame.to_string(index=False) + "\n")
    return 0


# ---------------------------------------------------------------------------
# Changing containers


def _for_each(session: Session, names: list[str], action: Callable[[str], object], echo: bool = True) -> int:
    """Apply ``action`` to every container named, reporting each failure; exit 1 if any failed (as the CLI)."""
    failed = False
    for name in names:
        try:
            action(name)
            if echo:
                session.console.out(name + "\n")
        except docker.errors.APIError as error:
            session.console.err(f"Error response from daemon: {error.explanation or error}\n")
            failed = True
    return 1 if failed else 0


def _post_container(session: Session, name: str, action: str, **params) -> None:
    """``POST /containers/{name}/{action}`` with the CLI's parameters (docker-py's own methods lack ``signal=``)."""
    api = session.api
    response = api._post(api._url("/containers/{0}/" + action, name), params=params, timeout=None)
    api._raise_for_status(response)


def rm(session: Session, parsed: Parsed) -> int:
    return _for_each(session, parsed.args, lambda name: session.api.remove_container(
        name, v=parsed.volumes, link=parsed.link, force=parsed.force))


def stop(session: Session, parsed: Parsed) -> int:
    def stop_one(name: str) -> None:
        _post_container(session, name, "stop", t=parsed.time, signal=parsed.signal)

    return _for_each(session, parsed.args, stop_one)


def restart(session: Session, parsed: Parsed) -> int:
    def restart_one(name: str) -> None:
        _post_container(session, name, "restart", t=parsed.time, signal=parsed.signal)

    return _for_each(session, parsed.args, restart_one)


def kill(session: Session, parsed: Parsed) -> int:
    return _for_each(session, parsed.args, lambda name: session.api.kill(name, signal=parsed.signal))


def pause(session: Session, parsed: Parsed) -> int:
    return _for_each(session, parsed.args, session.api.pause)


def unpause(session: Session, parsed: Parsed) -> int:
    return _for_each(session, parsed.args, session.api.unpause)


def wait(session: Session, parsed: Parsed) -> int:
    def wait_one(name: str) -> None:
        session.console.out(f"{session.api.wait(name)['StatusCode']}\n")

    return _for_each(session, parsed.args, wait_one, echo=False)


def rename(session: Session, parsed: Parsed) -> int:
    session.api.rename(parsed.args[0], parsed.args[1])
    return 0


def commit(session: Session, parsed: Parsed) -> int:
    repository, tag = docker.utils.parse_repository_tag(parsed.args[1]) if len(parsed.args) > 1 else (None, None)
    answer = session.api.commit(
        parsed.args[0], repository=repository, tag=tag, message=parsed.message, author=parsed.author,
        pause=parsed.pause, changes=parsed.change or None,
    )
    session.console.out(answer["Id"] + "\n")
    return 0


def export(session: Session, parsed: Parsed) -> int:
    chunks = session.api.export(parsed.args[0])
    if parsed.output:
        write_file_atomically(parsed.output, chunks)
    else:
        session.console.binary_output(chunks)
    return 0


def write_file_atomically(path: str, chunks) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: never a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temp_path = tempfile.mkstemp(prefix=".nbdock-", dir=directory)
    try:
        os.fchmod(descriptor, 0o644)  # mkstemp makes it private; an exported archive is an ordinary file
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
        os.replace(temp_path, path)
    except BaseException:
        os.unlink(temp_path)
        raise


# ---------------------------------------------------------------------------
# cp


def cp(session: Session, parsed: Parsed) -> int:
    """``docker cp``: a tar stream in one direction or the other (``GET``/``PUT /containers/{id}/archive``)."""
    source, destination = parsed.args
    source_container, source_path = _split_container_path(source)
    destination_container, destination_path = _split_container_path(destination)
    if bool(source_container) == bool(destination_container):
        raise CommandError("must specify exactly one container path (CONTAINER:PATH) and one local path", exit_code=125)
    if source_container:
        _copy_from_container(session, source_container, source_path, destination)
    else:
        _copy_to_container(session, source, destination_container, destination_path, parsed.archive)
    return 0


def _split_container_path(text: str) -> tuple[str, str]:
    """``web:/etc/hosts`` -> (``web``, ``/etc/hosts``); a local path (``./a:b``, ``/x``) has no container."""
    if text.startswith((".", "/")) or ":" not in text:
        return "", text
    container, _, path = text.partition(":")
    return container, path


def _copy_from_container(session: Session, container: str, path: str, destination: str) -> None:
    chunks, _ = session.api.get_archive(container, path)
    if destination == "-":
        session.console.binary_output(chunks)
        return
    into_directory = os.path.isdir(destination)
    target_parent = destination if into_directory else os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(target_parent):
        raise CommandError(f"destination directory {target_parent} does not exist")
    # Unpack into a fresh directory first: the tar comes from the container
    # and is treated as hostile (no absolute paths, no escaping symlinks).
    staging = tempfile.mkdtemp(prefix=".nbdock-cp-", dir=target_parent)
    try:
        tarsafe.extract(_ChunkReader(chunks), staging)
        entries = os.listdir(staging)
        if len(entries) != 1:
            raise CommandError(f"{container}:{path}: expected one entry in the archive, got {len(entries)}")
        entry = entries[0]
        final = os.path.join(destination, entry) if into_directory else destination
        if os.path.isdir(final) and not os.path.islink(final) and os.path.isdir(os.path.join(staging, entry)):
            for name in os.listdir(os.path.join(staging, entry)):
                os.replace(os.path.join(staging, entry, name), os.path.join(final, name))
        else:
            os.replace(os.path.join(staging, entry), final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _ChunkReader:
    """A ``read(n)`` over an iterator of byte chunks (what docker-py gives for a streamed body)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        data, self._pending = (self._pending, b"") if size < 0 else (self._pending[:size], self._pending[size:])
        return data


def _copy_to_container(session: Session, source: str, container: str, path: str, keep_owner: bool) -> None:
    api = session.api
    if source == "-":
        api.put_archive(container, path, session.console.stdin)
        return
    if not os.path.lexists(source):
        raise CommandError(f"stat {source}: no such file or directory")
    stat = _container_path_stat(api, container, path)
    if stat is not None and stat["mode"] & (1 << 31):  # an existing directory: copy into it
        directory, name = path, os.path.basename(os.path.normpath(source))
    else:
        directory, name = os.path.dirname(path.rstrip("/")) or "/", os.path.basename(path.rstrip("/"))
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
                if not keep_owner:
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                return info

            tar.add(source, arcname=name, filter=owner)
        archive.seek(0)
        api.put_archive(container, directory, archive)


def _container_path_stat(api: docker.APIClient, container: str, path: str) -> dict | None:
    """``HEAD /containers/{id}/archive``: the path's stat in ``X-Docker-Container-Path-Stat``, None if absent."""
    response = api.head(api._url("/containers/{0}/archive", container), params={"path": path})
    if response.status_code == 404:
        return None
    api._raise_for_status(response)
    return json.loads(base64.b64decode(response.headers["X-Docker-Container-Path-Stat"]))


HANDLERS = {
    "run": run, "create": create, "start": start, "attach": attach, "exec": exec_, "logs": logs, "ps": ps,
    "rm": rm, "stop": stop, "kill": kill, "restart": restart, "pause": pause, "unpause": unpause, "wait": wait,
    "inspect": inspect, "rename": rename, "port": port, "top": top, "stats": stats, "cp": cp, "diff": diff,
    "commit": commit, "export": export,
}
