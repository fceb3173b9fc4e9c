"""A classroom's load on one machine: 100 live containers, 500 stopped ones, nbdock beside Docker.

    sudo python3 benchmarks/bench_classroom.py [--running 100] [--stopped 500]

Thirty students with a few containers each is a normal lab.  For each engine
in turn (the other one idle), on a data root of its own:

1. the engine idle: its own memory (the RSS of every engine process: dockerd
   and containerd, or nbdock's daemon and spawner) and its CPU over 10 s;
2. ``--running`` containers started *at once* (half ``sleep``, half busybox
   ``httpd``) from as many concurrent ``docker run -d``: the wall time, the
   host memory they cost (``free``'s "used", before and after) per container
   -- everything included: daemon, shims or spawner, the containers' own
   processes, which are the same busybox on both engines -- and the engine's
   CPU over 10 s with them all running (no busy polling: it should be ~0);
3. ``--stopped`` more containers that printed 100 lines each and exited:
   every one's ``docker logs`` must be whole;
4. with all of them there, the latency of ``ps``, ``ps -a``, ``inspect`` and
   ``stats --no-stream`` (which samples every running container);
5. ``rm -f`` of everything, then what is left: mounts under the data root,
   container processes, veth devices.

Ratios are nbdock / Docker (below 1: nbdock uses less).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import Engines, median  # noqa: E402

LINES = 100  # what each stopped container printed


def used_memory_bytes() -> int:
    """Host memory in use, as free(1) counts it: total - free - buffers - page cache (reclaimable)."""
    fields = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, value = line.split(":")
            fields[name] = int(value.split()[0]) * 1024
    return fields["MemTotal"] - fields["MemFree"] - fields["Buffers"] - fields["Cached"] - fields["SReclaimable"]


def mounts_under(directory: str) -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4].startswith(directory + "/"))


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parent = int(f.read().rpartition(")")[2].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def engine_processes(engines: Engines, engine: str) -> list[int]:
    """The engine's own processes: the daemon and its helpers, not the containers' processes.

    dockerd starts containerd, which starts one containerd-shim per container (the shims
    count: they are the per-container overhead); nbdock's daemon starts one spawner, whose
    children are the containers' processes (those are the containers, not the engine).
    """
    daemon = engines.pids[engine]
    found = []
    for pid in process_tree(daemon):
        try:
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pid == daemon or name.startswith(("containerd", "dockerd", "docker-proxy")) or "nbdock.runtime.spawner" in cmdline:
            found.append(pid)
    return found


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_percent_over(engines: Engines, engine: str, seconds: float) -> float:
    pids = engine_processes(engines, engine)
    before = cpu_seconds(pids)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pids) - before) / seconds


def latency(engines: Engines, engine: str, args: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        engines.docker(*args, engine=engine)
        times.append(time.perf_counter() - start)
    return median(times)


def in_parallel(count: int, work, workers: int = 100) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, count)) as pool:
        for future in [pool.submit(work, index) for index in range(count)]:
            future.result()


def measure(engines: Engines, engine: str, running: int, stopped: int) -> dict[str, float]:
    result: dict[str, float] = {}
    time.sleep(2)
    result["idle_rss"] = rss_bytes(engine_processes(engines, engine))
    result["idle_cpu"] = cpu_percent_over(engines, engine, 10)
    idle_mounts = mounts_under(os.path.join(engines.base, engine))
    memory_before = used_memory_bytes()

    def start(index: int) -> None:
        command = ["sleep", "3600"] if index % 2 else ["httpd", "-f", "-p", "80"]
        engines.docker("run", "-d", "--name", f"class-{engine}-{index}", "busybox", *command, engine=engine)

    began = time.perf_counter()
    in_parallel(running, start)
    result["start_all"] = time.perf_counter() - began
    time.sleep(3)
    result["memory_per_container"] = (used_memory_bytes() - memory_before) / running
    result["loaded_rss"] = rss_bytes(engine_processes(engines, engine))
    result["loaded_cpu"] = cpu_percent_over(engines, engine, 10)

    def run_and_exit(index: int) -> None:
        engines.docker("run", "--name", f"done-{engine}-{index}", "busybox", "seq", "1", str(LINES), engine=engine)

    in_parallel(stopped, run_and_exit, workers=20)
    names = [f"done-{engine}-{index}" for index in range(stopped)]
    whole = 0
    for name in names:
        lines = engines.docker("logs", name, engine=engine).stdout.decode().split()
        whole += lines == [str(n) for n in range(1, LINES + 1)]
    result["logs_whole"] = whole
    result["ps"] = latency(engines, engine, ["ps"])
    result["ps_a"] = latency(engines, engine, ["ps", "-a"])
    result["inspect"] = latency(engines, engine, ["inspect", f"class-{engine}-0"])
    result["stats"] = latency(engines, engine, ["stats", "--no-stream"], repeat=3)

    ids = engines.docker("ps", "-aq", engine=engine).stdout.decode().split()
    began = time.perf_counter()
    for batch in range(0, len(ids), 50):
        engines.docker("rm", "-f", *ids[batch:batch + 50], engine=engine)
    result["rm_all"] = time.perf_counter() - began
    time.sleep(2)
    result["left_containers"] = len(engines.docker("ps", "-aq", engine=engine).stdout.split())
    result["left_mounts"] = mounts_under(os.path.join(engines.base, engine)) - idle_mounts
    result["left_processes"] = len(process_tree(engines.pids[engine])) - len(engine_processes(engines, engine))
    return result


ROWS = [
    ("engine RSS, idle", "idle_rss", "MB"),
    ("engine CPU, idle (10 s)", "idle_cpu", "%"),
    ("start {running} at once (wall)", "start_all", "s"),
    ("host memory per running container", "memory_per_container", "MB"),
    ("engine RSS, {running} running", "loaded_rss", "MB"),
    ("engine CPU, {running} running (10 s)", "loaded_cpu", "%"),
    ("`ps` ({running} running, {stopped} stopped)", "ps", "ms"),
    ("`ps -a`", "ps_a", "ms"),
    ("`inspect` one", "inspect", "ms"),
    ("`stats --no-stream` (all running)", "stats", "ms"),
    ("`rm -f` all, 50 per call", "rm_all", "s"),
    ("stopped containers with whole logs", "logs_whole", ""),
    ("left after rm -f: containers / mounts / processes", "left", ""),
]


def formatted(value: float, unit: str) -> str:
    if unit == "MB":
        return f"{value / 1e6:.1f} MB"
    if unit == "ms":
        return f"{value * 1000:.0f} ms"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--running", type=int, default=100)
    parser.add_argument("--stopped", type=int, default=500)
    args = parser.parse_args()
    with Engines() as engines:
        results = {engine: measure(engines, engine, args.running, args.stopped) for engine in ("docker", "nbdock")}
    print(f"| {args.running} running + {args.stopped} stopped | Docker 20.10 | nbdock | ratio |")
    print("|---|---:|---:|---:|")
    for label, key, unit in ROWS:
        label = label.format(running=args.running, stopped=args.stopped)
        if key == "left":
            cells = [" / ".join(str(int(r[k])) for k in ("left_containers", "left_mounts", "left_processes"))
                     for r in (results["docker"], results["nbdock"])]
            print(f"| {label} | {cells[0]} | {cells[1]} | |")
            continue
        docker, nbdock = results["docker"][key], results["nbdock"][key]
        ratio = f"{nbdock / docker:.2f}" if docker and unit not in ("", "%") else ""
        print(f"| {label} | {formatted(docker, unit)} | {formatted(nbdock, unit)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
