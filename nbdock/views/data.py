"""The teaching views' data, as pandas DataFrames: what the kernel did for a container.

The rows are :mod:`nbdock.client.kernel_views`' -- the ones the CLI prints as
terminal tables -- asked of the daemon's own endpoints (``/nbdock/v1/...``);
here they become DataFrames, which the notebook shows (and draws from).
"""

from __future__ import annotations

import pandas

from nbdock.client import kernel_views
from nbdock.client.connection import Connection

def namespaces_frame(connection: Connection, container: str) -> pandas.DataFrame:
    """One row per namespace type (see :func:`kernel_views.namespace_rows`).

    Every process points at one namespace of each type; ``/proc/PID/ns/net``
    is a link whose inode number names it.  The container's process and the
    host's PID 1 having *different* inodes is what "isolated" means; the
    same inode means the container shares the host's namespace.

    The user namespace's row also shows its uid and gid maps: "0 -> 100000
    (65536 ids)" is a container whose root is uid 100000 on the host
    (``--userns-remap``); "0 -> 0 (4294967295 ids)" is the host's own
    numbering, nothing translated.
    """
    return pandas.DataFrame(kernel_views.namespace_rows(connection, container),
                            columns=list(kernel_views.NAMESPACE_HEADERS))


def cgroup_frame(connection: Connection, container: str) -> pandas.DataFrame:
    """The cgroup files that limit the container, by name, and their values.

    The files' directory is written once, in ``attrs["directory"]`` (on v1,
    where each controller has its own hierarchy, as the shell's braces:
    ``/sys/fs/cgroup/{cpu,memory}/nbdock/ID``), so that the ``file`` column
    holds the names -- ``memory.limit_in_bytes``, ``memory.max`` -- in full,
    not the first 50 characters of a long path (pandas cuts a cell there).
    ``attrs["paths"]`` maps each name to its whole path, to open the file;
    ``attrs`` also hold the cgroup version and main path.
    """
    where, rows = kernel_views.cgroup_rows(connection, container)
    directory, named = kernel_views.files_in_directory(rows, where["path"])
    frame = pandas.DataFrame(named, columns=list(kernel_views.CGROUP_HEADERS))
    frame.attrs.update(version=where["version"], path=where["path"], directory=directory,
                       paths={short["file"]: row["file"] for short, row in zip(named, rows)})
    return frame


def trace_frame(connection: Connection, container: str) -> pandas.DataFrame:
    """The kernel operations performed for the container, in order, each as a readable call."""
    return pandas.DataFrame(kernel_views.trace_rows(connection, container), columns=list(kernel_views.TRACE_HEADERS))


#: A layer's columns: the terminal's, and whether the step made no layer (the notebook can filter on it).
LAYER_COLUMNS = ["layer", "diff_id", "size", "created_by", "empty", "added", "changed", "deleted", "shared_with"]


def layers_frame(connection: Connection, image: str) -> pandas.DataFrame:
    """One row per layer, base first: its instruction, size, and how many files it adds, changes, deletes."""
    return pandas.DataFrame(kernel_views.layer_rows(connection, image), columns=LAYER_COLUMNS)
