"""Container resource usage from ``GET /containers/{id}/stats``, computed as the docker CLI does.

The daemon reports *counters*, not percentages: the CPU time the
container's cgroup has used since it started (``cpu_stats.cpu_usage.
total_usage``, in ns) and the CPU time the whole host has spent
(``system_cpu_usage``).  It also sends the previous reading
(``precpu_stats``), so one answer is enough to compute a rate::

    CPU % = (container's CPU time delta / host's CPU time delta) x online CPUs x 100

The host delta counts every CPU, so the share is multiplied by the number
of CPUs: a container keeping 1.5 CPUs busy shows 150%.

Memory "usage" is the cgroup's charge minus the inactive page cache
(``inactive_file``): files the container read once, which the kernel can
drop at any moment and should not count against it.
"""

from __future__ import annotations

import time
from typing import Callable

import docker
import requests

from .formatting import binary_size, human_size


def cpu_percent(raw: dict) -> float:
    current, previous = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = (current.get("cpu_usage") or {}).get("total_usage", 0) - (previous.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = current.get("system_cpu_usage", 0) - previous.get("system_cpu_usage", 0)
    online = current.get("online_cpus") or len((current.get("cpu_usage") or {}).get("percpu_usage") or [])
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return cpu_delta / system_delta * online * 100.0


def memory_usage(raw: dict) -> int:
    """Usage without the reclaimable page cache (``total_inactive_file`` on cgroup v1, ``inactive_file`` on v2)."""
    memory = raw.get("memory_stats") or {}
    usage = memory.get("usage", 0)
    counters = memory.get("stats") or {}
    inactive = counters.get("total_inactive_file", counters.get("inactive_file"))
    if inactive is not None and inactive < usage:
        return usage - inactive
    return usage


def summarize(raw: dict) -> dict:
    """The numbers of one stats answer."""
    networks = (raw.get("networks") or {}).values()
    block_io = (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    memory = memory_usage(raw)
    limit = (raw.get("memory_stats") or {}).get("limit", 0)
    return {
        "id": raw.get("id", ""),
        "name": (raw.get("name") or "/")[1:],
        "cpu_percent": cpu_percent(raw),
        "memory_bytes": memory,
        "memory_limit_bytes": limit,
        "memory_percent": memory / limit * 100.0 if limit else 0.0,
        "net_rx_bytes": sum(n.get("rx_bytes", 0) for n in networks),
        "net_tx_bytes": sum(n.get("tx_bytes", 0) for n in networks),
        "block_read_bytes": sum(e.get("value", 0) for e in block_io if str(e.get("op", "")).lower() == "read"),
        "block_write_bytes": sum(e.get("value", 0) for e in block_io if str(e.get("op", "")).lower() == "write"),
        "pids": (raw.get("pids_stats") or {}).get("current", 0),
    }


def display_row(sample: dict) -> dict:
    """A ``docker stats`` row: the CLI's strings, by ``--format`` field name."""
    return {
        "Container": sample["id"][:12],
        "ID": sample["id"],
        "Name": sample["name"],
        "CPUPerc": f"{sample['cpu_percent']:.2f}%",
        "MemUsage": f"{binary_size(sample['memory_bytes'])} / {binary_size(sample['memory_limit_bytes'])}",
        "MemPerc": f"{sample['memory_percent']:.2f}%",
        "NetIO": f"{human_size(sample['net_rx_bytes'])} / {human_size(sample['net_tx_bytes'])}",
        "BlockIO": f"{human_size(sample['block_read_bytes'])} / {human_size(sample['block_write_bytes'])}",
        "PIDs": str(sample["pids"]),
    }


SAMPLE_COLUMNS = ["time", "cpu_percent", "memory_bytes", "memory_limit_bytes", "pids",
                  "net_rx_bytes", "net_tx_bytes", "block_read_bytes", "block_write_bytes"]


def sample(api: docker.APIClient, container: str, seconds: float, interval: float,
           on_sample: Callable[["object"], None] | None = None):
    """Read the container's stats every ``interval`` seconds for ``seconds``; a pandas DataFrame.

    ``time`` is when each reading was asked for, in seconds since the
    first.  A daemon takes a moment to answer (it reads the counters twice
    to send ``precpu_stats`` along), so samples may be further apart than
    ``interval``.  ``on_sample`` gets the frame so far after each sample
    (for a live plot).  Sampling ends early when the container stops.
    """
    import pandas

    if interval <= 0 or seconds <= 0:
        raise ValueError("--seconds and --interval must be positive")
    rows: list[dict] = []
    started = time.monotonic()
    while True:
        asked = time.monotonic()
        try:
            raw = api.stats(container, stream=False)
        except (docker.errors.NotFound, requests.exceptions.JSONDecodeError):
            if not rows:
                raise
            break  # the container was removed while we sampled: keep what we have
        if not raw.get("read") or raw["read"].startswith("0001-"):
            break  # the container is not running: the daemon sends an empty reading
        numbers = summarize(raw)
        rows.append({"time": round(asked - started, 3), **{key: numbers[key] for key in SAMPLE_COLUMNS[1:]}})
        if on_sample is not None:
            on_sample(pandas.DataFrame(rows, columns=SAMPLE_COLUMNS))
        next_sample = asked + interval
        if next_sample - started > seconds + 1e-6:
            break
        time.sleep(max(0.0, next_sample - time.monotonic()))
    return pandas.DataFrame(rows, columns=SAMPLE_COLUMNS)
