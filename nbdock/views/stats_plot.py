"""``%dock stats NAME --plot [memory|cpu]``: memory against its limit, CPU against its quota, drawn live.

The samples come from :func:`nbdock.client.stats.sample`; the limits from
the container's ``HostConfig``: ``--memory`` is the cgroup's memory limit,
``--cpus`` a CFS quota (``NanoCpus``, or ``CpuQuota``/``CpuPeriod``): the
CPU time the container may use per period, 1.5 CPUs = 150%.

One panel per metric, and by default only the panels of the limits the
container has: a container under ``--memory`` alone shows its memory (its
CPU is not what the lesson watches), one under ``--cpus`` alone its CPU;
both when it has both limits or neither.

The end of a memory-limited run is often the kernel's OOM killer.  The chart
does not guess it from the last reading: the engine reads the cgroup's OOM
counter (``memory.events``' ``oom_kill`` on v2, ``memory.oom_control`` on v1)
when the container's init dies, and publishes a container ``oom`` event with
its time.  :func:`oom_kill_times` reads those events back, and
:meth:`LivePlot.mark_oom_kills` draws a vertical line where they happened.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

import docker
import matplotlib.pyplot as plt
import pandas
from IPython.display import display

#: The panels a chart can have, top to bottom, and how a title names them.
METRICS = ("memory", "cpu")
PANEL_NAMES = {"memory": "memory", "cpu": "CPU"}


def cpu_quota_percent(host_config: dict) -> float | None:
    """The CPU limit in percent of one CPU, or None when the container has none."""
    if host_config.get("NanoCpus"):
        return host_config["NanoCpus"] / 1e9 * 100
    if host_config.get("CpuQuota", 0) > 0 and host_config.get("CpuPeriod"):
        return host_config["CpuQuota"] / host_config["CpuPeriod"] * 100
    return None


def default_metrics(cpu_quota: float | None, memory_limit_set: bool) -> tuple[str, ...]:
    """The panels of the limits the container has; all of them when it has none (or both)."""
    limited = tuple(metric for metric, is_limited in (("memory", memory_limit_set), ("cpu", cpu_quota is not None))
                    if is_limited)
    return limited or METRICS


def oom_kill_times(api: docker.APIClient, container: str, since: float, until: float | None = None) -> list[float]:
    """When the OOM killer ended ``container`` between ``since`` and ``until`` (Unix seconds; until: now).

    The times of the engine's ``oom`` events for it (``docker events --filter event=oom``), in Unix seconds.
    """
    until = time.time() if until is None else until
    events = api.events(since=since, until=until, filters={"container": container, "event": "oom"}, decode=True)
    return [event["timeNano"] / 1e9 if event.get("timeNano") else float(event["time"]) for event in events]


class LivePlot:
    """A figure of one panel per metric, updated in place in the cell after each sample."""

    def __init__(self, title: str, cpu_quota: float | None, memory_limit_set: bool,
                 metrics: Sequence[str] | None = None):
        self.cpu_quota = cpu_quota
        self.memory_limit_set = memory_limit_set
        self.metrics = tuple(metrics) if metrics else default_metrics(cpu_quota, memory_limit_set)
        unknown = [metric for metric in self.metrics if metric not in METRICS]
        if unknown or not self.metrics:
            raise ValueError(f"metrics are some of {', '.join(METRICS)}, not {', '.join(unknown) or 'none'}")
        self.figure, axes = plt.subplots(len(self.metrics), 1, figsize=(8, 1.0 + 2.2 * len(self.metrics)),
                                         sharex=True, squeeze=False)
        panels = dict(zip(self.metrics, axes[:, 0]))
        self.memory_axes = panels.get("memory")  # None when the chart has no such panel
        self.cpu_axes = panels.get("cpu")
        self.figure.suptitle(title)
        plt.close(self.figure)  # drawn through the display handle only, not again at the end of the cell
        self.handle = None
        #: Unix time of the chart's 0 s: the samples' ``time`` counts from there.
        self.started_at: float | None = None
        #: Where the OOM kills happened, in the chart's seconds (see mark_oom_kills).
        self.oom_kills: list[float] = []
        self.frame: pandas.DataFrame | None = None

    def update(self, frame: pandas.DataFrame) -> None:
        if self.started_at is None and len(frame):
            self.started_at = time.time() - float(frame["time"].iloc[-1])  # the newest sample was taken just now
        self.frame = frame
        self.draw(frame)
        if self.handle is None:
            self.handle = display(self.figure, display_id=True)
        else:
            self.handle.update(self.figure)

    def mark_oom_kills(self, unix_times: Iterable[float]) -> None:
        """Draw a line at each OOM kill (Unix seconds, as :func:`oom_kill_times` gives them), and redraw."""
        if self.started_at is None or self.frame is None:
            return  # nothing was drawn: no time axis to put the kills on
        self.oom_kills = [round(moment - self.started_at, 3) for moment in unix_times]
        self.update(self.frame)

    def draw(self, frame: pandas.DataFrame) -> None:
        if self.memory_axes is not None:
            self._draw_memory(self.memory_axes, frame)
        if self.cpu_axes is not None:
            self._draw_cpu(self.cpu_axes, frame)
        bottom = self.cpu_axes if self.cpu_axes is not None else self.memory_axes
        bottom.set_xlabel("seconds")
        latest = max([float(frame["time"].max()) if len(frame) else 0.0, *self.oom_kills])
        bottom.set_xlim(0, max(latest * 1.05, 1.0))  # the kill comes after the last reading: keep it in view

    def _draw_memory(self, memory, frame: pandas.DataFrame) -> None:
        memory.clear()
        mib = 1024 * 1024
        memory.plot(frame["time"], frame["memory_bytes"] / mib, label="memory used", color="tab:blue")
        if self.memory_limit_set and len(frame):
            memory.axhline(frame["memory_limit_bytes"].iloc[-1] / mib, color="tab:red", linestyle="--", label="limit (--memory)")
        memory.set_ylabel("MiB")
        memory.set_ylim(0, _headroom(memory))
        for moment in self.oom_kills:
            memory.axvline(moment, color="black", linestyle=":", label="OOM kill")
            # Left of the line, near the top: in axes units vertically, in seconds horizontally.
            memory.text(moment, 0.97, "OOM kill ", transform=memory.get_xaxis_transform(), ha="right", va="top")
        memory.legend(loc="lower right")

    def _draw_cpu(self, cpu, frame: pandas.DataFrame) -> None:
        cpu.clear()
        cpu.plot(frame["time"], frame["cpu_percent"], label="CPU", color="tab:green")
        if self.cpu_quota is not None:
            cpu.axhline(self.cpu_quota, color="tab:red", linestyle="--", label="quota (--cpus)")
        cpu.set_ylabel("% of one CPU")
        cpu.set_ylim(0, _headroom(cpu))
        cpu.legend(loc="lower right")


def watch(connection, container: str, seconds: float, interval: float,
          metrics: Sequence[str] | None = None) -> pandas.DataFrame:
    """Sample ``container`` for ``seconds`` (a reading every ``interval``), drawn live; then mark its OOM kills.

    What ``%dock stats NAME --plot`` draws, with the OOM kill at the end.  ``connection`` is an
    :class:`nbdock.client.connection.Connection`; the samples are returned as a DataFrame, whose
    ``attrs["oom_kills"]`` lists where the kills are on the chart (seconds; empty without one).
    """
    from nbdock.client import stats

    host_config = connection.api.inspect_container(container)["HostConfig"]
    cpu_quota, memory_limit_set = cpu_quota_percent(host_config), bool(host_config.get("Memory"))
    metrics = tuple(metrics) if metrics else default_metrics(cpu_quota, memory_limit_set)
    title = f"{container}: " + " and ".join(PANEL_NAMES[metric] for metric in metrics)
    plot = LivePlot(title, cpu_quota, memory_limit_set, metrics)
    began = time.time()
    samples = stats.sample(connection.container_stats_stream(container, interval), seconds, plot.update)
    plot.mark_oom_kills(oom_kill_times(connection.api, container, since=began))
    samples.attrs["oom_kills"] = list(plot.oom_kills)
    return samples


def _headroom(axes) -> float:
    """A top for the y axis that leaves room above the highest line (the limit lines included)."""
    highest = max((max(line.get_ydata(), default=0) for line in axes.get_lines()), default=0)
    return max(float(highest) * 1.2, 1.0)
