"""``docker stats`` and ``docker top``: a running container's resource use, from its cgroup.

Docker's stats JSON carries raw counters, not percentages: the client
computes CPU% from two samples as

    (Δ container CPU time / Δ whole-system CPU time) × number of CPUs × 100

where the system time comes from the first line of /proc/stat.  That is why
a one-shot sample needs a previous one ("precpu_stats") to compare with.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import TYPE_CHECKING, AsyncIterator

from ..errors import Conflict, HostError
from .clock import ZERO_TIME, rfc3339

if TYPE_CHECKING:
    from .containers import Container, ContainerService

STREAM_INTERVAL = 1.0  # seconds between samples of a stream (Docker's collector interval)
ONE_SAMPLE_INTERVAL = 0.5  # seconds between the two samples of stream=0


def system_cpu_ns() -> int:
    """All CPU time the machine has spent (every mode, every CPU), in nanoseconds, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    ticks = sum(int(v) for v in fields)
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def network_counters(pid: int) -> dict:
    """Per-interface byte and packet counters from the container's own network namespace."""
    result = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return result
    for line in lines:
        name, _, numbers = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        values = [int(v) for v in numbers.split()]
        result[name] = {"rx_bytes": values[0], "rx_packets": values[1], "rx_errors": values[2], "rx_dropped": values[3],
                        "tx_bytes": values[8], "tx_packets": values[9], "tx_errors": values[10], "tx_dropped": values[11]}
    return result


def _cpu_block(stats, system: int) -> dict:
    return {
        "cpu_usage": {"total_usage": stats.cpu_usage_ns, "usage_in_kernelmode": stats.cpu_system_ns,
                      "usage_in_usermode": stats.cpu_user_ns},
        "system_cpu_usage": system,
        "online_cpus": os.cpu_count() or 1,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def sample(container: "Container", previous: dict | None) -> dict:
    """One stats object in Docker's JSON shape (blocking: reads cgroup files)."""
    run = container.run
    record = container.record
    empty = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {}}
    result = {
        "read": rfc3339(), "preread": previous["read"] if previous else ZERO_TIME,
        "name": record.Name, "id": record.Id,
        "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": None}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": empty, "precpu_stats": previous["cpu_stats"] if previous else empty, "memory_stats": {},
    }
    if run is None:
        result["read"] = ZERO_TIME  # as Docker: nothing was read, the container is not running
        return result
    stats = run.runtime.cgroup.stats()
    result["cpu_stats"] = _cpu_block(stats, system_cpu_ns())
    memory = {"usage": stats.memory_usage, "max_usage": stats.memory_max_usage, "limit": stats.memory_limit,
              "stats": dict(stats.memory_stat or {})}
    memory["stats"].setdefault("inactive_file", stats.memory_inactive_file)
    memory["stats"].setdefault("total_inactive_file", stats.memory_inactive_file)
    result["memory_stats"] = memory
    result["pids_stats"] = {"current": stats.pids_current, **({"limit": stats.pids_limit} if stats.pids_limit else {})}
    result["networks"] = network_counters(run.started.pid)
    result["nbdock"] = {"cgroup_version": run.runtime.cgroup.version, "oom_kills": stats.oom_kills,
                        "cpu_quota_us": stats.cpu_quota_us, "cpu_period_us": stats.cpu_period_us}
    return result


#: The shortest interval nbdock's own stats stream takes (20 samples a second).
MIN_STREAM_INTERVAL = 0.05


class ContainerStats:
    """``docker stats`` and ``docker top`` of the engine's containers (given as ``containers``)."""

    def __init__(self, containers: "ContainerService"):
        self.containers = containers

    async def samples(self, container: "Container", *, streaming: bool, one_shot: bool,
                      interval: float = STREAM_INTERVAL) -> AsyncIterator[dict]:
        """stream=1: a sample every ``interval`` seconds (Docker's API: every second) until the container
        stops; stream=0: one sample, compared with one taken shortly before (so CPU% can be computed);
        one-shot=1: a single sample, no comparison."""
        previous = None
        if not streaming and not one_shot and container.running:
            previous = await asyncio.to_thread(sample, container, None)
            await asyncio.sleep(ONE_SAMPLE_INTERVAL)
        while True:
            current = await asyncio.to_thread(sample, container, previous)
            yield current
            if not streaming or not container.running:
                return
            previous = current
            await asyncio.sleep(interval)

    async def top(self, ref: str, ps_args: str = "-ef") -> dict:
        """``docker top``: ``ps`` on the host, keeping only the rows of processes in the container's cgroup."""
        container = self.containers.get(ref)
        if container.run is None:
            raise Conflict(f"Container {container.id} is not running")
        pids = set(await asyncio.to_thread(container.run.runtime.cgroup.pids))
        result = await asyncio.to_thread(
            subprocess.run, ["ps", *ps_args.split()], capture_output=True, text=True)
        if result.returncode != 0:
            raise HostError(f"Error running ps: {result.stderr.strip() or result.returncode}")
        lines = result.stdout.splitlines()
        titles = lines[0].split()
        try:
            pid_column = titles.index("PID")
        except ValueError:
            raise HostError(f"Couldn't find PID field in ps output: {lines[0]}") from None
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_column and fields[pid_column].isdigit() and int(fields[pid_column]) in pids:
                processes.append(fields)
        return {"Titles": titles, "Processes": processes}
