"""``%dock stats NAME --plot``: memory against its limit, CPU against its quota, drawn live.

The samples come from :func:`nbdock.client.stats.sample`; the limits from
the container's ``HostConfig``: ``--memory`` is the cgroup's memory limit,
``--cpus`` a CFS quota (``NanoCpus``, or ``CpuQuota``/``CpuPeriod``): the
CPU time the container may use per period, 1.5 CPUs = 150%.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas
from IPython.display import display


def cpu_quota_percent(host_config: dict) -> float | None:
    """The CPU limit in percent of one CPU, or None when the container has none."""
    if host_config.get("NanoCpus"):
        return host_config["NanoCpus"] / 1e9 * 100
    if host_config.get("CpuQuota", 0) > 0 and host_config.get("CpuPeriod"):
        return host_config["CpuQuota"] / host_config["CpuPeriod"] * 100
    return None


class LivePlot:
    """A two-panel figure updated in place in the cell after each sample."""

    def __init__(self, title: str, cpu_quota: float | None, memory_limit_set: bool):
        self.cpu_quota = cpu_quota
        self.memory_limit_set = memory_limit_set
        self.figure, (self.memory_axes, self.cpu_axes) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        self.figure.suptitle(title)
        plt.close(self.figure)  # drawn through the display handle only, not again at the end of the cell
        self.handle = None

    def update(self, frame: pandas.DataFrame) -> None:
        self.draw(frame)
        if self.handle is None:
            self.handle = display(self.figure, display_id=True)
        else:
            self.handle.update(self.figure)

    def draw(self, frame: pandas.DataFrame) -> None:
        memory, cpu = self.memory_axes, self.cpu_axes
        memory.clear()
        cpu.clear()
        mib = 1024 * 1024
        memory.plot(frame["time"], frame["memory_bytes"] / mib, label="memory used", color="tab:blue")
        if self.memory_limit_set and len(frame):
            memory.axhline(frame["memory_limit_bytes"].iloc[-1] / mib, color="tab:red", linestyle="--", label="limit (--memory)")
        memory.set_ylabel("MiB")
        memory.set_ylim(0, _headroom(memory))
        memory.legend(loc="lower right")
        cpu.plot(frame["time"], frame["cpu_percent"], label="CPU", color="tab:green")
        if self.cpu_quota is not None:
            cpu.axhline(self.cpu_quota, color="tab:red", linestyle="--", label="quota (--cpus)")
        cpu.set_ylabel("% of one CPU")
        cpu.set_xlabel("seconds")
        cpu.set_ylim(0, _headroom(cpu))
        cpu.legend(loc="lower right")


def _headroom(axes) -> float:
    """A top for the y axis that leaves room above the highest line (the limit lines included)."""
    highest = max((max(line.get_ydata(), default=0) for line in axes.get_lines()), default=0)
    return max(float(highest) * 1.2, 1.0)
