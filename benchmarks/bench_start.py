"""How long the runtime takes to start a container, from a warm engine until the user's process execs.

    sudo python3 benchmarks/bench_start.py [--repeat 30] [--network]

Drives nbdock's runtime directly (no daemon, no HTTP), the way the engine
does: the spawner is already running (warm), then for each container the
clock starts when the cgroup is created and stops at the ``execve`` event
in the container's trace -- the moment the user's program takes over.
Also shown: how that time splits (cgroup, fork, namespaces, mounts, ...).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nbdock.runtime.cgroups import Resources  # noqa: E402
from nbdock.runtime.container import Container, Stdio  # noqa: E402
from nbdock.runtime.spawner import Spawner  # noqa: E402
from nbdock.runtime.spec import ContainerSpec, Process, Rootfs  # noqa: E402
from nbdock.runtime.trace import Trace, read_trace  # noqa: E402

TARGET_MS = 30


def busybox_layer(base: str) -> str:
    from nbdock.image import busybox

    layer = os.path.join(base, "layer")
    os.makedirs(layer)
    tar = busybox.rootfs_tar(busybox.find_host_busybox())
    subprocess.run(["tar", "-x", "-C", layer], input=tar, check=True)
    return layer


def one_start(spawner: Spawner, layer: str, base: str) -> tuple[float, list[dict]]:
    cid = secrets.token_hex(32)
    directory = os.path.join(base, cid[:12])
    for sub in ("upper", "work", "rootfs"):
        os.makedirs(os.path.join(directory, sub))
    spec = ContainerSpec(
        id=cid, rootfs=Rootfs([layer], f"{directory}/upper", f"{directory}/work", f"{directory}/rootfs"),
        process=Process(args=["true"]), hostname=cid[:12],
        namespaces={kind: "new" for kind in ("mnt", "uts", "ipc", "net", "pid")})
    trace_path = os.path.join(directory, "trace.jsonl")
    container = Container(spec, spawner, Trace(trace_path))
    done = threading.Event()
    began = time.time()
    container.create(Resources())
    container.start(Stdio(), lambda status: done.set())
    done.wait(10)
    container.release()
    container.delete()
    events = read_trace(trace_path)
    execve = next(e["time"] for e in events if e["op"] == "execve")
    return (execve - began) * 1000, [dict(e, time=(e["time"] - began) * 1000) for e in events]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="nbdock-start-")
    spawner = Spawner()
    try:
        layer = busybox_layer(base)
        spawner.start()
        one_start(spawner, layer, base)  # warm up: the spawner's first fork, page cache
        results = [one_start(spawner, layer, base) for _ in range(args.repeat)]
    finally:
        spawner.stop()
        shutil.rmtree(base, ignore_errors=True)
    times = sorted(ms for ms, _ in results)
    median = times[len(times) // 2]
    print(f"start -> execve over {args.repeat} containers: median {median:.1f} ms, "
          f"best {times[0]:.1f} ms, worst {times[-1]:.1f} ms (target {TARGET_MS} ms)")
    _, events = min(results, key=lambda r: abs(r[0] - median))
    print("\nwhere the time goes (a typical run, ms since the start request):")
    milestones = ["mkdir", "join", "unshare", "mount", "pivot_root", "sethostname", "capset", "execve"]
    seen = set()
    for event in events:
        if event["op"] in milestones and event["op"] not in seen:
            seen.add(event["op"])
            print(f"  {event['time']:6.1f}  first {event['kind']}.{event['op']}")
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
