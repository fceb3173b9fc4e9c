"""%dock and %%dockerfile in a real IPython shell, against the nbdock_host daemon."""

import time
import uuid

import pandas
import docker
import pytest
from IPython.core.error import UsageError

pytestmark = pytest.mark.root


def test_run_streams_output_and_a_containers_exit_code_is_not_an_error(shell, capsys):
    result = shell.run_line_magic("dock", "run --rm busybox sh -c 'echo out; echo err >&2; exit 5'")
    captured = capsys.readouterr()
    assert result is None
    assert captured.out == "out\n[exit code 5]\n" and captured.err == "err\n"


def test_listings_are_dataframes(shell, names):
    name = names("container")
    shell.run_line_magic("dock", f"create --name {name} busybox true")
    containers = shell.run_line_magic("dock", "ps -a")
    assert isinstance(containers, pandas.DataFrame)
    assert list(containers.columns) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert name in list(containers["NAMES"])
    images = shell.run_line_magic("dock", "images")
    assert ("busybox", "latest") in set(zip(images["REPOSITORY"], images["TAG"]))
    assert list(shell.run_line_magic("dock", "history busybox").columns) == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]


def test_an_engine_error_is_a_short_usage_error(shell):
    with pytest.raises(UsageError, match="No such container"):
        shell.run_line_magic("dock", "logs no-such-container-here")
    with pytest.raises(UsageError, match="unknown flag: --bogus"):
        shell.run_line_magic("dock", "ps --bogus")
    with pytest.raises(UsageError, match="the input device is not a TTY"):
        shell.run_line_magic("dock", "run -it --rm busybox sh")


def test_a_failed_cell_stops_run_all(shell):
    # What nbclient looks at: the cell's execution reports an error.
    result = shell.run_cell("%dock logs no-such-container-here")
    assert isinstance(result.error_in_exec, UsageError)


def test_api_on_shows_each_request_and_status(shell, capsys):
    shell.run_line_magic("dock", "api on")
    try:
        shell.run_line_magic("dock", "run --rm busybox true")
    finally:
        shell.run_line_magic("dock", "api off")
    lines = capsys.readouterr().out.splitlines()
    create = next(line for line in lines if "/containers/create" in line)
    assert create.startswith("→ POST /v") and create.endswith("-> 201 Created")
    assert any(line.endswith("/start -> 204 No Content") for line in lines)
    shell.run_line_magic("dock", "run --rm busybox true")
    assert "→" not in capsys.readouterr().out


def test_config_host_is_used(shell):
    shell.run_line_magic("config", 'NbdockMagics.host = "unix:///nonexistent/nbdock.sock"')
    with pytest.raises(UsageError, match="unix:///nonexistent/nbdock.sock"):
        shell.run_line_magic("dock", "ps")


def test_dockerfile_failure_names_the_step_and_code(shell, api, tmp_path, capsys):
    marker = f"before-{uuid.uuid4().hex}"
    try:
        with pytest.raises(UsageError) as error:
            shell.run_cell_magic("dockerfile", f"nbtest-failing:1 --context {tmp_path}",
                                 f"FROM busybox\nRUN echo {marker}\nRUN exit 7\n")
        assert "Step 3/3 : RUN exit 7 failed" in str(error.value) and "(exit code 7)" in str(error.value)
        assert f"{marker}\n" in capsys.readouterr().out  # RUN output streamed into the cell
    finally:
        _remove_build_leftovers(api, marker)


def _remove_build_leftovers(api, marker):
    """Docker keeps a failed step's container, and the image of the steps before it: remove ours."""
    for image in api.images(all=True):
        if any(marker in (layer.get("CreatedBy") or "") for layer in api.history(image["Id"])):
            for container in api.containers(all=True, filters={"ancestor": image["Id"]}):
                api.remove_container(container["Id"], force=True)
            api.remove_image(image["Id"], force=True)


def test_dockerfile_syntax_errors(shell):
    with pytest.raises(UsageError, match="requires 1 argument"):
        shell.run_cell_magic("dockerfile", "", "FROM busybox\n")
    with pytest.raises(UsageError, match="the cell is empty"):
        shell.run_cell_magic("dockerfile", "x:1", "\n")


def test_stats_samples_into_a_dataframe(shell, names):
    name = names("container")
    shell.run_line_magic("dock", f"run -d --name {name} busybox sleep 60")
    frame = shell.run_line_magic("dock", f"stats {name} --seconds 2 --interval 0.5")
    assert {"time", "cpu_percent", "memory_bytes", "memory_limit_bytes", "pids"} <= set(frame.columns)
    assert len(frame) >= 1 and frame["pids"].iloc[0] >= 1 and frame["memory_limit_bytes"].iloc[0] > 0
    table = shell.run_line_magic("dock", f"stats --no-stream {name}")
    assert list(table["NAME"]) == [name]


def test_stats_samples_at_ten_hertz_with_the_cpu_share_of_each_interval(shell, names):
    """One streamed connection keeps up with 10 readings a second; each CPU share is that interval's."""
    name = names("container")
    shell.run_line_magic("dock", f"run -d --cpus 0.5 --name {name} busybox sh -c 'while :; do :; done'")
    frame = shell.run_line_magic("dock", f"stats {name} --seconds 2 --interval 0.1")
    assert len(frame) >= 15, frame
    assert frame["time"].is_monotonic_increasing
    busy = frame["cpu_percent"].iloc[1:]
    assert (busy > 0).mean() > 0.8, frame  # each reading saw the loop run in its own interval...
    assert busy.mean() < 65, frame  # ...and never much above its --cpus 0.5 quota (50% of one CPU)


def test_the_stats_stream_refuses_a_rate_it_would_not_keep(shell, names):
    name = names("container")
    shell.run_line_magic("dock", f"run -d --name {name} busybox sleep 60")
    from nbdock.magics import NbdockMagics

    connection = shell.magics_manager.registry[NbdockMagics.__name__].connection
    with pytest.raises(docker.errors.APIError, match="interval must be at least 0.05 s"):
        next(connection.container_stats_stream(name, 0.001))


def test_attach_widget_talks_to_stdin_and_stdout(shell, names):
    name = names("container")
    shell.run_line_magic("dock", f"run -d -i --name {name} busybox cat")
    view = shell.run_line_magic("dock", f"attach {name}")
    view.line.value = "hello from the widget"  # what pressing Enter in the box does
    assert view.line.value == ""
    deadline = time.time() + 10
    while time.time() < deadline and not any("hello from the widget" in o.get("text", "") for o in view.output.outputs):
        time.sleep(0.1)
    assert any("hello from the widget" in output.get("text", "") for output in view.output.outputs)
    view._close_stdin()
    view.reader.join(10)
    assert "output ended" in view.status.value


def test_help_needs_no_daemon(shell, capsys):
    shell.run_line_magic("config", 'NbdockMagics.host = "unix:///nonexistent/nbdock.sock"')
    shell.run_line_magic("dock", "run --help")
    assert capsys.readouterr().out.startswith("Usage:  %dock run [OPTIONS] IMAGE [COMMAND] [ARG...]")
