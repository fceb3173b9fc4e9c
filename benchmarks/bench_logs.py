"""Container logs, nbdock against Docker, side by side, through the same docker CLI.

    sudo python3 benchmarks/bench_logs.py [--lines 1000000] [--repeat 5]

One container per engine prints ``--lines`` lines (busybox ``seq``), timed by
the shell *inside* the container: how much the engine's output capture slows
the program down.  Then, on each engine in turn:

* ``docker logs C``         -- every line, to /dev/null (median of a few runs);
  and the daemon's peak resident memory while it serves them: the kernel's
  high-water mark ``VmHWM`` of /proc/PID/status, reset before each run by
  writing 5 to /proc/PID/clear_refs;
* ``docker logs --tail 5 C`` -- the last lines only (median of ``--repeat``).

Both outputs are checked: every line, in order, and exactly the last five.

The table shows each figure for both engines and their ratio (nbdock /
Docker: below 1 means nbdock is faster or smaller).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import Engines, median  # noqa: E402


def daemon_pid(host: str) -> int:
    """The pid of the process listening on a unix:// socket (found through the socket's inode)."""
    path = host.removeprefix("unix://")
    with open("/proc/net/unix") as f:
        inodes = {fields[6] for fields in (line.split() for line in f) if len(fields) > 7 and fields[7] == path}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue  # gone, or not ours to read
    raise RuntimeError(f"no process listens on {path}")


def status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1)) / 1024


def peak_rss_of(pid: int, work) -> tuple[float, float]:
    """Run ``work()``: the process's resident memory before, and its peak meanwhile, in MB."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size
    before = status_mb(pid, "VmRSS")
    work()
    return before, status_mb(pid, "VmHWM")


def printing_seconds(logs_tail: str) -> float:
    """busybox ``time``'s "real 0m 1.23s" line, in seconds."""
    match = re.search(r"real\s+(?:(\d+)m\s*)?([\d.]+)s", logs_tail)
    if not match:
        raise RuntimeError(f"no timing in the container's output: {logs_tail!r}")
    return int(match.group(1) or 0) * 60 + float(match.group(2))


def measure(engines: Engines, lines: int, repeat: int) -> list[tuple[str, str, float, float]]:
    names = {engine: f"bench-logs-{engine}" for engine in engines.hosts}
    pids = {engine: daemon_pid(host) for engine, host in engines.hosts.items()}
    results: dict[str, dict[str, float]] = {engine: {} for engine in engines.hosts}
    try:
        for engine, name in names.items():
            engines.docker("rm", "-f", name, engine=engine, check=False)
            # time's report goes to a file, not to the log: that keeps the log to the numbers alone
            engines.docker("run", "-d", "--name", name, "busybox", "sh", "-c", f"(time seq 1 {lines}) 2>/timing",
                           engine=engine)
            engines.docker("wait", name, engine=engine)
            archive = engines.docker("cp", f"{name}:/timing", "-", engine=engine).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                report = tar.extractfile("timing").read().decode()
            results[engine]["print"] = printing_seconds(report)
        for engine, name in names.items():
            full_times, peaks = [], []
            for _ in range(max(1, repeat // 2)):
                def full() -> None:
                    start = time.perf_counter()
                    out = subprocess.run(["docker", "-H", engines.hosts[engine], "logs", name],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
                    full_times.append(time.perf_counter() - start)
                    count = out.count(b"\n")
                    if count != lines or not out.endswith(f"\n{lines}\n".encode()):
                        raise RuntimeError(f"{engine}: docker logs gave {count} lines, not {lines}")
                peaks.append(peak_rss_of(pids[engine], full))
            results[engine]["full"] = median(full_times)
            results[engine]["idle"] = min(before for before, _ in peaks)
            results[engine]["rss"] = max(peak for _, peak in peaks)
            tail_times = []
            for _ in range(repeat):
                start = time.perf_counter()
                out = engines.docker("logs", "--tail", "5", name, engine=engine).stdout
                tail_times.append(time.perf_counter() - start)
                if out != "".join(f"{n}\n" for n in range(lines - 4, lines + 1)).encode():
                    raise RuntimeError(f"{engine}: logs --tail 5 gave {out!r}")
            results[engine]["tail"] = median(tail_times)
    finally:
        for engine, name in names.items():
            engines.docker("rm", "-f", name, engine=engine, check=False)
    docker, nbdock = results["docker"], results["nbdock"]
    return [
        (f"`seq 1 {lines}` inside the container", "s", docker["print"], nbdock["print"]),
        (f"`docker logs` ({lines} lines)", "s", docker["full"], nbdock["full"]),
        ("daemon RSS before `docker logs`", "MB", docker["idle"], nbdock["idle"]),
        ("daemon peak RSS during `docker logs`", "MB", docker["rss"], nbdock["rss"]),
        ("`docker logs --tail 5`", "s", docker["tail"], nbdock["tail"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with Engines() as engines:
        rows = measure(engines, args.lines, args.repeat)
    print("| measure | Docker 20.10 | nbdock | ratio |")
    print("|---|---:|---:|---:|")
    for label, unit, docker, nbdock in rows:
        print(f"| {label} | {docker:.2f} {unit} | {nbdock:.2f} {unit} | {nbdock / docker:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
