"""``%dock net map``: the hosts of the cluster, their VXLAN devices, and the containers of each overlay network.

Every daemon knows the whole cluster from the store (nbdock/network/overlay.py):
which daemons are alive (``nodes/``), which overlay networks exist, and
which container is on which host (``endpoints/``, each with its host's VTEP
address).  The table is that knowledge, one row per container; the drawing
puts each host in a column, each overlay network in a row, and draws a
VXLAN tunnel (its VNI on the line) between every two hosts that have
containers on the same network -- exactly the pairs of VTEPs between which
the kernel will send UDP datagrams to port 4789.
"""

from __future__ import annotations

import itertools

import pandas

from nbdock.client import kernel_views
from nbdock.client.connection import Connection

COLUMNS = list(kernel_views.NETWORK_MAP_HEADERS)


def network_map_frame(connection: Connection) -> pandas.DataFrame:
    """One row per container on an overlay network, on any host; ``attrs`` hold the nodes and this host."""
    about, rows = kernel_views.network_map(connection)
    frame = pandas.DataFrame(rows, columns=COLUMNS)
    frame.attrs.update(about)
    return frame


def draw(frame: pandas.DataFrame):
    """A matplotlib figure of the map: hosts in columns, overlay networks in rows, tunnels between VTEPs."""
    import matplotlib.pyplot as plt

    hosts = sorted(set(frame.attrs.get("nodes") or []) | set(frame["host"]))
    networks = sorted(set(frame.attrs.get("networks") or []) | set(frame["network"]))
    figure, axes = plt.subplots(figsize=(3 + 3 * max(len(hosts), 1), 1.5 + 1.6 * max(len(networks), 1)))
    axes.set_axis_off()
    if not hosts:
        axes.text(0.5, 0.5, "no cluster store: the daemon runs without --cluster-store", ha="center")
        return figure
    column = {host: index for index, host in enumerate(hosts)}
    colours = plt.get_cmap("tab10")
    top = len(networks)
    for host, x in column.items():
        label = f"host {host}" + ("\n(this daemon)" if host == frame.attrs.get("node") else "")
        axes.add_patch(plt.Rectangle((x - 0.45, -0.6), 0.9, top + 0.9, fill=False, linestyle="--", color="grey"))
        axes.text(x, top + 0.15, label, ha="center", va="bottom", fontsize=10, weight="bold")
    for y, network in enumerate(networks):
        row = frame[frame["network"] == network]
        colour = colours(y % 10)
        if row.empty:
            axes.text(-0.4, y, f"{network}: no container", fontsize=8, color=colour, va="center")
            continue
        vni = int(row["vni"].iloc[0])
        on = sorted(set(row["host"]), key=column.get)
        for left, right in itertools.combinations(on, 2):  # a VXLAN tunnel between every two VTEPs
            axes.plot([column[left], column[right]], [y - 0.25, y - 0.25], color=colour, linewidth=2, alpha=0.6)
            axes.text((column[left] + column[right]) / 2, y - 0.2, f"VXLAN {vni} (UDP 4789)", ha="center",
                      fontsize=7, color=colour)
        for host in on:
            here = row[row["host"] == host]
            names = "\n".join(f"{c} {ip}" for c, ip in zip(here["container"], here["ip"]))
            axes.text(column[host], y + 0.05, f"{network} (br0 + vxlan)\n{names}", ha="center", va="bottom",
                      fontsize=8, bbox={"facecolor": "white", "edgecolor": colour, "boxstyle": "round"})
    axes.set_xlim(-0.6, len(hosts) - 0.4)
    axes.set_ylim(-0.8, top + 0.8)
    axes.set_title(f"overlay networks through {frame.attrs.get('store')}", fontsize=10)
    plt.close(figure)  # shown by the caller (display), not again by the inline backend
    return figure
