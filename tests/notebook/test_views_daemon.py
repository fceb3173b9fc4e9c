"""nbdock's kernel views end to end: they need nbdock's daemon and its /nbdock/v1 endpoints."""

import html
import io

import pandas
import pytest
from IPython.utils.capture import capture_output

from nbdock.views.layers import LayersView
from nbdock.views.stats_plot import LivePlot

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("nbdock_endpoints")]


@pytest.fixture
def running(shell, names):
    name = names("container")
    shell.run_line_magic("dock", f"run -d --name {name} --memory 64m --pids-limit 50 busybox sleep 60")
    return name


def test_namespaces_of_a_container_are_its_own(shell, running):
    frame = shell.run_line_magic("dock", f"ns {running}")
    assert isinstance(frame, pandas.DataFrame)
    isolation = dict(zip(frame["type"], frame["isolation"]))
    for kind in ("mnt", "uts", "ipc", "net", "pid"):
        assert isolation[kind] == "isolated", kind
    row = frame[frame["type"] == "net"].iloc[0]
    assert row["container_inode"] != row["host_inode"]


def test_cgroup_shows_the_limits(shell, running):
    frame = shell.run_line_magic("dock", f"cgroup {running}")
    values = dict(zip(frame["file"], frame["value"]))
    assert str(64 * 1024 * 1024) in values.values()
    assert "50" in values.values()
    assert frame.attrs["version"] in (1, 2)


def test_the_cgroup_view_shows_its_directory_and_each_file_name_in_full(shell, running, api):
    html_formatter = shell.display_formatter.formatters["text/html"]
    enabled, html_formatter.enabled = html_formatter.enabled, True  # as in a notebook (the test shell is plain text)
    try:
        with capture_output() as captured:
            frame = shell.run_line_magic("dock", f"cgroup {running}")
    finally:
        html_formatter.enabled = enabled
    heading = html.unescape(captured.outputs[0].data["text/html"])
    container_id = api.inspect_container(running)["Id"]
    assert container_id in heading  # the directory, once (/sys/fs/cgroup/.../ID or {cpu,memory,...}/.../ID)
    table = frame._repr_html_()
    limit_file = "memory.limit_in_bytes" if frame.attrs["version"] == 1 else "memory.max"
    assert f"<td>{limit_file}</td>" in table and "<td>pids.max</td>" in table
    assert "..." not in table
    assert frame.attrs["paths"][limit_file].endswith(f"{container_id}/{limit_file}")


def test_trace_lists_kernel_operations_in_order(shell, running):
    frame = shell.run_line_magic("dock", f"trace {running}")
    assert len(frame) > 0 and list(frame["t_ms"]) == sorted(frame["t_ms"])
    assert {"namespace", "mount"} <= set(frame["kind"])


def test_layers_of_a_built_image(shell, names, tmp_path):
    tag = names("image")
    (tmp_path / "hello.txt").write_text("hello layers\n")
    shell.run_cell_magic("dockerfile", f"{tag} --context {tmp_path}",
                         "FROM busybox\nCOPY hello.txt /hello.txt\nRUN rm /etc/group\n")
    view = shell.run_line_magic("dock", f"layers {tag}")
    assert isinstance(view, LayersView)
    copied = view.layers[-2]
    assert any(c["path"] == "/hello.txt" and c["kind"] == "A" for c in copied["changes"])
    removed = view.layers[-1]
    assert any(c["path"] == "/etc/group" and c["kind"] == "D" for c in removed["changes"])
    assert "busybox:latest" in view.layers[0]["shared_with"]  # the base layer is busybox's own
    node, chooser, detail = view.nodes[len(view.layers) - 2]
    position = next(i for i, c in enumerate(copied["changes"]) if c["path"] == "/hello.txt")
    chooser.value = position
    assert "hello layers" in detail.value


def test_the_layer_tree_says_image_removed_once_its_image_is_gone(shell, api, names):
    """A lesson's clean-up may remove the image while its tree is still on screen: a click then explains."""
    tag = names("image")
    for _ in api.build(fileobj=io.BytesIO(b"FROM busybox\nRUN echo kept > /kept.txt\n"), tag=tag, rm=True, decode=True):
        pass
    view = shell.run_line_magic("dock", f"layers {tag}")
    added = view.layers[-1]["changes"]
    _, chooser, detail = view.nodes[len(view.layers) - 1]
    api.remove_image(tag)
    chooser.value = next(i for i, change in enumerate(added) if change["path"] == "/kept.txt")
    assert f"image removed: {tag} is no longer in the daemon" in html.unescape(detail.value)
    assert "404" not in detail.value and "No such image" not in detail.value


def test_cli_prints_the_same_views(nbdock_cli, running):
    done = nbdock_cli("ns", running)
    assert done.returncode == 0 and "isolated" in done.stdout


class RecordedPlot(LivePlot):
    """A LivePlot that keeps its instances, for the test to look at the chart drawn."""

    made: list[LivePlot] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.made.append(self)


def test_stats_plot_of_a_container_until_its_oom_kill_marks_it_on_the_memory_chart(shell, api, names, monkeypatch):
    """A memory hog under --memory 24m: %dock stats --plot draws memory only, and a line where the engine saw the OOM kill."""
    from nbdock.views import stats_plot

    monkeypatch.setattr(stats_plot, "LivePlot", RecordedPlot)
    RecordedPlot.made.clear()
    name = names("container")
    hog = "'BEGIN { for (i = 1; ; i++) { chunk[i] = sprintf(\"%1048576d\", i); system(\"sleep 0.05\") } }'"
    shell.run_line_magic("dock", f"run -d --name {name} --memory 24m busybox awk {hog}")
    samples = shell.run_line_magic("dock", f"stats {name} --plot --seconds 30 --interval 0.2")
    state = api.inspect_container(name)["State"]
    assert state["OOMKilled"] and state["ExitCode"] == 137, state
    plot, = RecordedPlot.made
    assert plot.metrics == ("memory",) and plot.cpu_axes is None
    marker = [line for line in plot.memory_axes.get_lines() if line.get_label() == "OOM kill"]
    assert len(marker) == 1 and samples.attrs["oom_kills"] == [marker[0].get_xdata()[0]]
    assert samples["time"].iloc[-1] <= marker[0].get_xdata()[0] <= samples["time"].iloc[-1] + 2


def test_stats_plot_names_its_one_panel_and_refuses_another_word(shell, running, monkeypatch):
    from IPython.core.error import UsageError

    from nbdock.views import stats_plot

    monkeypatch.setattr(stats_plot, "LivePlot", RecordedPlot)
    RecordedPlot.made.clear()
    samples = shell.run_line_magic("dock", f"stats {running} --plot cpu --seconds 1 --interval 0.5")
    plot, = RecordedPlot.made
    assert plot.metrics == ("cpu",) and plot.memory_axes is None  # under --memory, memory would be the default
    assert len(samples) >= 1 and samples.attrs["oom_kills"] == []
    with pytest.raises(UsageError, match="draws memory or cpu, not 'disk'"):
        shell.run_line_magic("dock", f"stats {running} --plot disk")
    with pytest.raises(UsageError, match="samples one container"):
        shell.run_line_magic("dock", f"stats {running} other")
