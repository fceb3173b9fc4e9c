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
from typing import Callable, Iterator

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


#: How often ``on_sample`` is called at most: a notebook redraw costs far more than a reading,
#: and the eye does not follow a chart redrawn ten times a second.
REDRAW_INTERVAL = 0.5


def polled_readings(api: docker.APIClient, container: str, interval: float) -> Iterator[dict]:
    """Readings of any daemon's ``GET /containers/{id}/stats``, one request every ``interval`` seconds.

    Each is a ``one-shot`` reading (API 1.41): the daemon reads the counters
    once and answers at once, and the CPU share is computed against the
    reading before -- a plain ``stream=false`` reading makes the daemon read
    twice with a pause between (to fill ``precpu_stats``).  Ends when the
    container is removed.
    """
    previous = api.stats(container, stream=False, one_shot=True)  # the first CPU share's starting point
    while True:
        asked = time.monotonic()
        try:
            raw = api.stats(container, stream=False, one_shot=True)
        except (docker.errors.NotFound, requests.exceptions.JSONDecodeError):
            return  # the container was removed while we sampled
        raw["precpu_stats"], previous = previous.get("cpu_stats") or {}, raw
        yield raw
        time.sleep(max(0.0, asked + interval - time.monotonic()))


def sample(readings: Iterator[dict], seconds: float, on_sample: Callable[["object"], None] | None = None):
    """The ``readings`` (raw stats objects, each with the ``precpu_stats`` before it) taken for
    ``seconds``, as a pandas DataFrame of SAMPLE_COLUMNS.

    ``time`` is when each reading was taken, in seconds since sampling
    began.  ``on_sample`` gets the frame so far (for a live plot), at most
    every REDRAW_INTERVAL seconds and after the last reading.  Sampling
    ends early when the container stops (a reading with nothing read).
    """
    import pandas

    if seconds <= 0:
        raise ValueError("--seconds must be positive")
    rows: list[dict] = []
    started = time.monotonic()
    last_drawn, drawn = float("-inf"), 0
    try:
        for raw in readings:
            now = time.monotonic()
            if not raw.get("read") or raw["read"].startswith("0001-") or now - started > seconds + 0.05:
                break  # the container is not running (the daemon sends an empty reading), or time is up
            numbers = summarize(raw)
            rows.append({"time": round(now - started, 3), **{key: numbers[key] for key in SAMPLE_COLUMNS[1:]}})
            if on_sample is not None and now - last_drawn >= REDRAW_INTERVAL:
                on_sample(pandas.DataFrame(rows, columns=SAMPLE_COLUMNS))
                last_drawn, drawn = now, len(rows)
    finally:
        close = getattr(readings, "close", None)
        if close is not None:
            close()  # a generator: ends its request or stream now, not when collected
    frame = pandas.DataFrame(rows, columns=SAMPLE_COLUMNS)
    if on_sample is not None and rows and drawn != len(rows):
        on_sample(frame)
    return frame
