"""A first tour of nbdock, in the terminal: ``python3 -m nbdock.tour`` (as root).

It needs no network: the image it starts from is the embedded default,
busybox made from the host's own static busybox binary.  In a few seconds
it shows the whole life of a container -- the engine answering on its
socket, an image built layer by layer, a container running it, what each
layer added, changed and deleted, a memory limit being hit (with a chart,
saved as nbdock-tour.png), and the kernel operations behind one run.
The notebooks in notebooks/ then take each of these apart.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import time

from .client.connection import Connection
from .runtime.trace import describe

TOUR_IMAGE = "nbdock-tour:latest"
DOCKERFILE = """\
FROM busybox
LABEL course="nbdock tour"
RUN mkdir /app && echo 'hello from a layer' > /app/hello.txt
COPY greet.sh /app/greet.sh
RUN rm /etc/group && chmod 755 /app/greet.sh
CMD ["/app/greet.sh"]
"""
GREET = """#!/bin/sh
echo "$(cat /app/hello.txt), running as PID $$ in container $(hostname)"
"""
#: Fills /dev/shm (whose pages count against the container's memory) 2 MB at a time.
MEMORY_HOG = "i=0; while true; do head -c 2000000 /dev/zero > /dev/shm/block$i; i=$((i+1)); sleep 0.15; done"


def heading(number: int, title: str) -> None:
    print(f"\n\033[1m{number}. {title}\033[0m")


def context_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text, mode in (("Dockerfile", DOCKERFILE, 0o644), ("greet.sh", GREET, 0o755)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run(host: str | None = None) -> int:
    connection = Connection.open(host, announce=lambda message: print("  " + message))
    api = connection.api

    heading(1, "The engine")
    version = api.version()
    print(f"  nbdock {version['Version']} answers the Docker Engine API {version['ApiVersion']} at {connection.host}")
    print(f"  (the real docker CLI works too:  docker -H {connection.host} ps)")

    heading(2, "An image to start from")
    for message in api.pull("busybox", tag="latest", stream=True, decode=True):
        if "status" in message and "id" not in message:
            print("  " + message["status"])
    print("  busybox:latest is here, offline if need be: the engine makes it from the host's static busybox")

    heading(3, "Building an image: one layer (or config entry) per Dockerfile instruction")
    for line in DOCKERFILE.splitlines():
        print("    | " + line)
    for message in api.build(fileobj=io.BytesIO(context_tar()), custom_context=True, tag=TOUR_IMAGE, rm=True, decode=True):
        if "stream" in message:
            text = message["stream"].rstrip()
            if text:
                print("  " + text)
        if "error" in message:
            print("  build failed: " + message["error"], file=sys.stderr)
            return 1

    heading(4, "Running it")
    container = api.create_container(TOUR_IMAGE)
    api.start(container)
    api.wait(container)
    print("  " + api.logs(container).decode().strip())
    api.remove_container(container)

    heading(5, "The layers of the image (A added, C changed, D deleted)")
    for layer in connection.image_layers(TOUR_IMAGE):
        if layer["empty_layer"]:
            print(f"  (config only)  {layer['created_by'][:70]}")
            continue
        made_by = layer["created_by"] or layer["comment"] or "(imported)"
        print(f"  {layer['diff_id'][7:19]}  {layer['size']:>9} bytes  {made_by[:60]}")
        changes = [c for c in layer["changes"] if c["type"] != "dir" or c["kind"] == "D"]
        if len(changes) > 20:
            print(f"      A {len(changes)} files: a whole root file system")
            continue
        for change in changes[:4]:
            print(f"      {change['kind']} {change['path']}" + ("  (whiteout: hides the file below)" if change["kind"] == "D" else ""))
        if len(changes) > 4:
            print(f"      ... and {len(changes) - 4} more")

    heading(6, "A memory limit, enforced by a cgroup")
    samples, trace = memory_under_limit(api, connection)
    chart = plot(samples)
    if chart:
        print(f"  chart saved as {chart}")

    heading(7, "What the kernel did to start that container")
    counts: dict[str, int] = {}
    for event in trace:
        counts[event["kind"]] = counts.get(event["kind"], 0) + 1
    print("  " + ", ".join(f"{count} {kind}" for kind, count in counts.items()) + " operations, among them:")
    for event in trace:
        if event["op"] in SHOWN_STEPS or (event["op"] == "write" and "memory.limit" in event["args"].get("path", "")):
            print("    " + describe(event)[:110])
    print(f"\nNext: the notebooks take each step apart --  {command('jupyter')} lab --allow-root notebooks/")
    print(f"      or the command line:  {command('nbdock')} run --rm busybox echo hello")
    return 0


def command(name: str) -> str:
    """How to run one of the environment's commands: ``.venv/bin/jupyter`` when the tour runs from a venv."""
    if sys.prefix == sys.base_prefix:
        return name
    scripts = os.path.join(sys.prefix, "bin")
    relative = os.path.relpath(scripts)
    return os.path.join(relative if not relative.startswith("..") else scripts, name)


#: The trace events the last step prints: one per stage of a container's birth.
SHOWN_STEPS = ("unshare", "pivot_root", "sethostname", "execve")


def memory_under_limit(api, connection) -> tuple[list[tuple[float, int, int]], list[dict]]:
    """Run a container that keeps allocating under --memory 32m; sample its memory until the OOM kill."""
    limit = 32 * 1024 * 1024
    container = api.create_container("busybox", ["sh", "-c", MEMORY_HOG],
                                     host_config=api.create_host_config(mem_limit=limit, memswap_limit=limit))["Id"]
    api.start(container)
    samples: list[tuple[float, int, int]] = []
    began = time.time()
    while api.inspect_container(container)["State"]["Running"] and time.time() - began < 30:
        stats = api.stats(container, stream=False, one_shot=True)
        memory = stats.get("memory_stats") or {}
        if memory.get("usage") and (not samples or memory["usage"] >= samples[-1][1] / 2):
            samples.append((time.time() - began, memory["usage"], memory.get("limit", limit)))
            bar = "#" * int(40 * memory["usage"] / limit)
            print(f"  {samples[-1][0]:4.1f}s  {memory['usage'] / 2**20:5.1f} MiB  |{bar:<40}|")
        time.sleep(0.2)
    state = api.inspect_container(container)["State"]
    print(f"  the kernel's OOM killer ended it: exit code {state['ExitCode']}, OOMKilled={state['OOMKilled']}")
    trace = connection.container_trace(container)
    api.remove_container(container)
    return samples, trace


def plot(samples) -> str | None:
    if not samples:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.5))
    seconds = [s[0] for s in samples]
    axis.plot(seconds, [s[1] / 2**20 for s in samples], marker="o", label="memory charged to its cgroup")
    axis.axhline(samples[-1][2] / 2**20, color="red", linestyle="--", label="limit (--memory 32m)")
    axis.set_xlabel("seconds")
    axis.set_ylabel("MiB")
    axis.set_title("A container filling its memory cgroup until the OOM kill")
    axis.legend(loc="lower right")
    figure.tight_layout()
    path = os.path.abspath("nbdock-tour.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main() -> int:
    if os.geteuid() != 0:
        print("the tour starts containers: run it as root (in a root shell, or with sudo)", file=sys.stderr)
        return 1
    return run()


if __name__ == "__main__":
    sys.exit(main())
