"""The teaching views, rendered from recorded sample data (no daemon needed)."""

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import docker  # noqa: E402
import pandas  # noqa: E402
import pytest  # noqa: E402

from nbdock.client.commands.containers import PS_FORMAT, PS_HEADERS, ps_row  # noqa: E402
from nbdock.client.connection import LayerFile  # noqa: E402
from nbdock.client.formatting import Listing  # noqa: E402
from nbdock.views import data  # noqa: E402
from nbdock.views.layers import LayersView, change_label, layer_title  # noqa: E402
from nbdock.views.notebook_console import listing_frame  # noqa: E402
from nbdock.views.stats_plot import LivePlot, cpu_quota_percent, default_metrics  # noqa: E402

SAMPLES = json.loads((Path(__file__).parent / "data" / "dockerd_samples.json").read_text())

# The shapes the daemon's /nbdock/v1 endpoints answer with (see the client brief).
LAYERS = [
    {"diff_id": "sha256:" + "1" * 64, "size": 2_000_000, "created_by": "", "created": "2026-01-01T00:00:00Z",
     "empty_layer": False, "shared_with": ["busybox:latest", "app:1"],
     "changes": [{"path": "/bin", "kind": "A", "opaque": False, "size": 0, "mode": 0o40755, "type": "dir", "link_target": ""},
                 {"path": "/bin/sh", "kind": "A", "opaque": False, "size": 0, "mode": 0o120777, "type": "symlink",
                  "link_target": "busybox"}]},
    {"diff_id": "sha256:" + "2" * 64, "size": 1024, "created_by": "/bin/sh -c echo hi > /etc/motd && rm /tmp/x",
     "created": "2026-01-02T00:00:00Z", "empty_layer": False, "shared_with": [],
     "changes": [{"path": "/etc/motd", "kind": "A", "opaque": False, "size": 3, "mode": 0o100644, "type": "file", "link_target": ""},
                 {"path": "/tmp/x", "kind": "D", "opaque": False, "size": 0, "mode": 0, "type": "file", "link_target": ""},
                 {"path": "/var/cache", "kind": "C", "opaque": True, "size": 0, "mode": 0o40755, "type": "dir", "link_target": ""}]},
    {"diff_id": "", "size": 0, "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "created": "2026-01-02T00:00:00Z",
     "empty_layer": True, "shared_with": [], "changes": []},
]


CONTAINER_ID = "c0ffee" * 10 + "abcd"


class RecordedConnection:
    """Answers the nbdock endpoints with recorded data, as Connection does over HTTP."""

    def image_layers(self, image):
        return LAYERS

    def container_namespaces(self, container):
        return [{"namespace": "net", "container_inode": 4026532300, "host_inode": 4026531840, "isolated": True},
                {"namespace": "user", "container_inode": 4026531837, "host_inode": 4026531837, "isolated": False}]

    def container_cgroup(self, container):
        return {"version": 1, "path": f"/sys/fs/cgroup/memory/nbdock/{CONTAINER_ID}",
                "files": {f"/sys/fs/cgroup/memory/nbdock/{CONTAINER_ID}/memory.limit_in_bytes": "67108864\n",
                          f"/sys/fs/cgroup/pids/nbdock/{CONTAINER_ID}/pids.max": "20\n"}}

    def container_trace(self, container):
        return [{"time": 100.0, "pid": 7, "kind": "namespace", "op": "unshare", "args": {"flags": "CLONE_NEWNS|CLONE_NEWPID"}},
                {"time": 100.0125, "pid": 8, "kind": "mount", "op": "mount", "args": {"source": "proc", "target": "/proc"}}]


def test_layer_nodes_say_instruction_size_and_digest():
    assert layer_title(1, LAYERS[1]) == "1  /bin/sh -c echo hi > /etc/motd && rm /tmp/x  (1.02kB, 222222222222)"
    assert layer_title(2, LAYERS[2]) == '2  CMD ["sh"]  (empty, no layer)'


def test_changes_show_whiteouts_as_deletions_and_mark_opaque_dirs():
    labels = [change_label(change) for change in LAYERS[1]["changes"]]
    assert labels == ["+ /etc/motd", "- /tmp/x  (whiteout)", "~ /var/cache  (opaque: lower contents hidden)"]
    assert change_label(LAYERS[0]["changes"][1]) == "+ /bin/sh -> busybox"


def test_clicking_a_change_fetches_the_file_from_its_layer():
    fetched = []

    def fetch(diff_id, path):
        fetched.append((diff_id, path))
        return LayerFile(path=path, content=b"hi\n", mode=0o100644, size=3, uid=0, gid=0, mtime=0.0)

    view = LayersView("app:1", LAYERS, fetch)
    assert len(view.accordion.children) == 3
    node, chooser, detail = view.nodes[1]
    chooser.value = 0  # /etc/motd
    assert fetched == [(LAYERS[1]["diff_id"], "/etc/motd")]
    assert "-rw-r--r--" in detail.value and "<pre" in detail.value and "hi\n" in detail.value
    chooser.value = 1  # a deletion: nothing to fetch, explained instead
    assert len(fetched) == 1 and "whiteout" in detail.value
    shared = view.nodes[0][0].children[0].value
    assert "busybox:latest" in shared and "app:1" in shared


def test_a_failed_fetch_is_shown_in_the_widget():
    def broken(diff_id, path):
        raise OSError("gone")

    view = LayersView("app:1", LAYERS, broken)
    _, chooser, detail = view.nodes[1]
    chooser.value = 0
    assert "could not read the file: gone" in detail.value


def test_a_removed_image_is_named_as_such_not_as_a_raw_404():
    def removed(diff_id, path):
        raise docker.errors.ImageNotFound("404 Client Error: Not Found (\"No such image: app:1\")")

    def replaced(diff_id, path):
        raise docker.errors.NotFound("404 Client Error: Not Found (\"image app:1 has no layer sha256:2222\")")

    _, chooser, detail = LayersView("app:1", LAYERS, removed).nodes[1]
    chooser.value = 0
    assert "image removed: app:1 is no longer in the daemon" in html.unescape(detail.value)
    assert "404" not in detail.value
    _, chooser, detail = LayersView("app:1", LAYERS, replaced).nodes[1]
    chooser.value = 0
    assert "layer gone: app:1 now names another image" in html.unescape(detail.value)


def test_kernel_view_frames():
    connection = RecordedConnection()
    namespaces = data.namespaces_frame(connection, "web")
    assert list(namespaces["isolation"]) == ["isolated", "shared with host"]
    cgroup = data.cgroup_frame(connection, "web")
    assert cgroup.attrs["version"] == 1 and cgroup.attrs["path"] == f"/sys/fs/cgroup/memory/nbdock/{CONTAINER_ID}"
    assert dict(zip(cgroup["file"], cgroup["value"])) == {"memory.limit_in_bytes": "67108864", "pids.max": "20"}
    assert cgroup.attrs["paths"]["pids.max"] == f"/sys/fs/cgroup/pids/nbdock/{CONTAINER_ID}/pids.max"
    trace = data.trace_frame(connection, "web")
    assert list(trace["t_ms"]) == [0.0, 12.5]
    assert trace["call"][1] == 'mount(source="proc", target="/proc")'
    layers = data.layers_frame(connection, "app:1")
    assert list(layers.loc[1, ["added", "changed", "deleted"]]) == [1, 1, 1]


def test_the_cgroup_table_shows_each_file_name_in_full_under_its_directory_written_once():
    """What the notebook shows (pandas' HTML cuts a cell at 50 characters; these paths are 90 long)."""
    cgroup = data.cgroup_frame(RecordedConnection(), "web")
    shown = cgroup._repr_html_()
    assert "<td>memory.limit_in_bytes</td>" in shown and "<td>pids.max</td>" in shown
    assert "..." not in shown
    assert cgroup.attrs["directory"] == f"/sys/fs/cgroup/{{memory,pids}}/nbdock/{CONTAINER_ID}"


def test_listing_frame_uses_docker_headers():
    listing = Listing(PS_HEADERS, PS_FORMAT, [ps_row(SAMPLES["container_summary"])])
    frame = listing_frame(listing)
    assert list(frame.columns) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert frame.loc[0, "NAMES"] == "fe_record"
    assert list(listing_frame(listing, "table {{.Names}}\t{{.State}}").columns) == ["NAMES", "STATE"]


def test_quota_and_live_plot():
    assert cpu_quota_percent({"NanoCpus": 1_500_000_000}) == 150
    assert cpu_quota_percent({"CpuQuota": 50_000, "CpuPeriod": 100_000}) == 50
    assert cpu_quota_percent({}) is None
    plot = LivePlot("web", cpu_quota=150.0, memory_limit_set=True)
    frame = pandas.DataFrame({"time": [0.0, 1.0], "cpu_percent": [10.0, 120.0], "memory_bytes": [1 << 20, 3 << 20],
                              "memory_limit_bytes": [64 << 20, 64 << 20], "pids": [1, 2]})
    plot.draw(frame)
    memory_lines = plot.memory_axes.get_lines()
    assert [line.get_label() for line in memory_lines] == ["memory used", "limit (--memory)"]
    assert memory_lines[1].get_ydata()[0] == pytest.approx(64)
    assert [line.get_label() for line in plot.cpu_axes.get_lines()] == ["CPU", "quota (--cpus)"]


def _memory_frame(seconds):
    return pandas.DataFrame({"time": seconds, "cpu_percent": [1.0] * len(seconds),
                             "memory_bytes": [(10 + 10 * i) << 20 for i in range(len(seconds))],
                             "memory_limit_bytes": [48 << 20] * len(seconds), "pids": [1] * len(seconds)})


def test_each_run_shows_the_panel_of_its_limit_only():
    assert default_metrics(cpu_quota=None, memory_limit_set=True) == ("memory",)
    assert default_metrics(cpu_quota=50.0, memory_limit_set=False) == ("cpu",)
    assert default_metrics(cpu_quota=None, memory_limit_set=False) == ("memory", "cpu")
    oom_run = LivePlot("hog", cpu_quota=None, memory_limit_set=True)
    assert oom_run.cpu_axes is None and len(oom_run.figure.axes) == 1
    cpu_run = LivePlot("spin", cpu_quota=50.0, memory_limit_set=False)
    assert cpu_run.memory_axes is None and len(cpu_run.figure.axes) == 1
    cpu_run.draw(_memory_frame([0.0, 1.0]))
    assert [line.get_label() for line in cpu_run.cpu_axes.get_lines()] == ["CPU", "quota (--cpus)"]
    chosen = LivePlot("web", cpu_quota=50.0, memory_limit_set=True, metrics=["memory"])
    assert chosen.cpu_axes is None
    with pytest.raises(ValueError, match="not disk"):
        LivePlot("web", cpu_quota=None, memory_limit_set=True, metrics=["disk"])


def test_the_memory_chart_marks_the_oom_kill_where_the_engine_saw_it():
    plot = LivePlot("hog", cpu_quota=None, memory_limit_set=True)
    plot.update(_memory_frame([0.0, 0.5, 1.0, 1.5]))
    assert not [line for line in plot.memory_axes.get_lines() if line.get_label() == "OOM kill"]
    plot.mark_oom_kills([plot.started_at + 1.75])  # the kill comes after the last reading
    marker = [line for line in plot.memory_axes.get_lines() if line.get_label() == "OOM kill"]
    assert len(marker) == 1 and list(marker[0].get_xdata()) == [1.75, 1.75]
    assert [text.get_text().strip() for text in plot.memory_axes.texts] == ["OOM kill"]
    assert plot.memory_axes.get_xlim()[1] > 1.75  # in view
    assert "OOM kill" in [text.get_text() for text in plot.memory_axes.get_legend().get_texts()]
