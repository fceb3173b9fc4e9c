"""The tutorials, run top to bottom as a student would: each in a fresh python3 kernel, with nbclient.

Each notebook talks to the test session's daemon (``NBDOCK_HOST`` in the
kernel's environment), must run without an error, must leave the daemon
as it found it (containers, images, volumes, networks) and the notebooks
folder as it found it, and must show what a reader is told to look for:
the checks below read the outputs of cells tagged in the notebook.

A lesson's last cell (tagged ``clean-up``) does nothing under Run All: the
exercises and the widgets still need what the lesson made.  The reader
sets ``CLEAN_UP = True`` in it when done; so does this test, before the run.

The executed notebooks are saved under test-output/notebooks/ to be looked at.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import docker
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPOSITORY = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPOSITORY / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))
EXECUTED_DIR = REPOSITORY / "test-output" / "notebooks"
#: Seconds one cell may take: the slowest ones sample a container's stats for a few seconds.
CELL_TIMEOUT = 180
#: The first line of every lesson's clean-up cell, and what a reader done with the lesson makes of it.
CLEAN_UP_OFF, CLEAN_UP_ON = "CLEAN_UP = False", "CLEAN_UP = True"


def test_there_are_ten_lessons_each_with_an_exercise():
    assert len(NOTEBOOKS) >= 10, [path.name for path in NOTEBOOKS]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        assert markdown.lstrip().startswith("# "), f"{path.name} does not open with a title"
        assert "Exercise" in markdown, f"{path.name} has no exercise"
        with_outputs = [index for index, cell in enumerate(notebook.cells) if cell.get("outputs")]
        assert not with_outputs, f"{path.name} is committed with outputs in cells {with_outputs}"


def test_run_all_leaves_each_lesson_in_place_until_the_reader_cleans_up():
    """Removing things is the last cell's job only, and that cell does nothing until the reader says so."""
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        clean_up = _clean_up_cell(notebook)
        assert clean_up is notebook.cells[-1], f"{path.name}: the clean-up cell is not the last one"
        first, _, body = clean_up.source.partition("\n")
        assert first.startswith(CLEAN_UP_OFF) and body.startswith("if CLEAN_UP:\n"), f"{path.name}: {first!r}"
        assert all(line.startswith("    ") for line in body.splitlines()[1:] if line), f"{path.name}: unguarded lines"
        assert "CLEAN_UP = True" in notebook.cells[-2].source, f"{path.name}: the text does not say how to clean up"


def _clean_up_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [cell for cell in notebook.cells if "clean-up" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, f"{len(cells)} cells are tagged clean-up"
    return cells[0]


@pytest.fixture(scope="session")
def executed(nbdock_host, daemon_objects):
    """name -> the notebook after a run (run once, on first use; the failure of a run is raised then)."""
    # The embedded default image is made on its first pull; make it now, so it does not count as left behind.
    with docker.APIClient(base_url=nbdock_host, version="auto") as api:
        api.pull("busybox", tag="latest")
    runs: dict[str, nbformat.NotebookNode | BaseException] = {}

    def run(name: str) -> nbformat.NotebookNode:
        if name not in runs:
            try:
                runs[name] = _execute(NOTEBOOKS_DIR / name, nbdock_host, daemon_objects)
            except (Exception, pytest.fail.Exception) as error:  # kept, so each test that reads it fails the same way
                runs[name] = error
        if isinstance(runs[name], BaseException):
            raise runs[name]
        return runs[name]

    return run


def _execute(path: Path, host: str, daemon_objects) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    clean_up = _clean_up_cell(notebook)  # what a reader done with the lesson does: switch the clean-up on
    clean_up.source = clean_up.source.replace(CLEAN_UP_OFF, CLEAN_UP_ON, 1)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, startup_timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    before, files_before = daemon_objects.now(), _files(NOTEBOOKS_DIR)
    try:
        client.execute(env={**os.environ, "NBDOCK_HOST": host})
    except CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell failed\n{error}", pytrace=False)
    finally:
        EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, EXECUTED_DIR / path.name)
        left_behind = daemon_objects.remove_new(before)  # so that one failing notebook does not fail the next
    assert not any(left_behind.values()), f"{path.name} left behind: {left_behind}"
    assert _files(NOTEBOOKS_DIR) == files_before, f"{path.name} left files in {NOTEBOOKS_DIR}"
    return notebook


def _files(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if ".ipynb_checkpoints" not in path.parts}


def tagged_output(notebook: nbformat.NotebookNode, tag: str) -> str:
    """All the text a tagged cell showed: its printed output and the plain-text form of its results."""
    cells = [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]
    assert cells, f"no cell is tagged {tag!r}"
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            elif "data" in output:
                texts.append(output.data.get("text/plain", ""))
    return "".join(texts)


def tagged_mime_types(notebook: nbformat.NotebookNode, tag: str) -> set[str]:
    return {mime for cell in notebook.cells if tag in cell.metadata.get("tags", [])
            for output in cell.get("outputs", []) for mime in output.get("data", {})}


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_and_cleans_up(path, executed):
    executed(path.name)


# -- what a reader is told to look for --------------------------------------------


@pytest.mark.root
@pytest.mark.slow
def test_architecture_shows_the_http_requests_behind_a_command(executed):
    notebook = executed("01-architecture.ipynb")
    requests_seen = tagged_output(notebook, "api-on")
    assert re.search(r"→ POST /v1\.\d+/containers/create\?name=\S+ -> 201 Created", requests_seen)
    assert re.search(r"→ POST /v1\.\d+/containers/\w+/start -> 204 No Content", requests_seen)
    # The order the lesson explains: the output and the exit are asked for before the start.
    order = [re.search(rf"→ POST /v1\.\d+/containers/\S*{step}", requests_seen).start()
             for step in (r"create\?", r"/attach\?", r"/wait\?condition=next-exit", r"/start")]
    assert order == sorted(order), requests_seen
    raw = tagged_output(notebook, "raw-http")
    assert raw.startswith("HTTP/1.1 200 OK"), raw[:200]
    assert tagged_output(notebook, "docker-py").strip() == tagged_output(notebook, "raw-http-names").strip()


@pytest.mark.root
@pytest.mark.slow
def test_layers_lesson_shows_the_widget_a_whiteout_and_the_cache(executed):
    notebook = executed("02-images-and-layers.ipynb")
    assert "application/vnd.jupyter.widget-view+json" in tagged_mime_types(notebook, "layers-widget")
    assert re.search(r"\bD\b.*/etc/motd|/etc/motd.*whiteout", tagged_output(notebook, "whiteout"))
    assert "Using cache" in tagged_output(notebook, "cache")


@pytest.mark.root
@pytest.mark.slow
def test_dockerfile_lesson_shows_who_is_pid_1(executed):
    notebook = executed("03-dockerfile-instructions.ipynb")
    assert re.search(r"^\s*1\s+app\s", tagged_output(notebook, "exec-form"), re.M)
    assert re.search(r"^\s*1\s+sh\s+/bin/sh -c app", tagged_output(notebook, "shell-form"), re.M)
    stops = tagged_output(notebook, "stop")
    assert re.search(r"lesson03-exec: stopped after [0-2]\.\d s, exit code 0", stops), stops
    assert "lesson03-shell: stopped after 3." in stops and "exit code 137" in stops, stops


@pytest.mark.root
@pytest.mark.slow
def test_contexts_lesson_builds_from_stdin_a_url_and_git(executed):
    notebook = executed("04-build-contexts.ipynb")
    assert "secret.txt" not in tagged_output(notebook, "dockerignore")
    for tag in ("stdin", "url", "git"):
        assert "Successfully built" in tagged_output(notebook, tag), tag


@pytest.mark.root
@pytest.mark.slow
def test_namespaces_lesson_shows_isolation(executed):
    notebook = executed("05-namespaces.ipynb")
    table = tagged_output(notebook, "ns-table")
    for namespace in ("pid", "net", "mnt", "uts", "ipc"):
        assert re.search(rf"\b{namespace}\b.*\bisolated\b", table), namespace
    assert re.search(r"^\s*PID\s.*\n\s*1\s", tagged_output(notebook, "pid-1"), re.M)


@pytest.mark.root
@pytest.mark.slow
def test_cgroups_lesson_ends_in_an_oom_kill_and_a_throttled_cpu(executed):
    notebook = executed("06-cgroups.ipynb")
    oom = tagged_output(notebook, "oom-result")
    assert "exit code 137" in oom and "OOMKilled: True" in oom, oom
    # The chart shows the memory climbing close to the limit, and the limit's line where it belongs.
    highest = float(re.search(r"highest memory reading: ([\d.]+) MiB", oom).group(1))
    assert 36 <= highest <= 48 and "limit line: 48 MiB" in oom, oom
    assert "image/png" in tagged_mime_types(notebook, "oom-plot")
    # The chart's line at the OOM kill: from the engine's oom event, just after the last reading.
    marks = re.search(r"last reading at ([\d.]+) s, OOM kill at \[([\d.]+)\] s", oom)
    assert marks and 0 <= float(marks.group(2)) - float(marks.group(1)) <= 2, oom
    cpu = json.loads(tagged_output(notebook, "cpu-result").strip().splitlines()[-1])
    assert 10 < cpu["mean_percent"] <= 60, cpu  # --cpus 0.5 caps a busy loop at 50% of one CPU


@pytest.mark.root
@pytest.mark.slow
def test_ports_lesson_fetches_from_the_published_ports(executed):
    notebook = executed("07-ports.ipynb")
    assert "hello from a container" in tagged_output(notebook, "fetch-p")
    assert "hello from a container" in tagged_output(notebook, "fetch-P")


@pytest.mark.root
@pytest.mark.slow
def test_volumes_lesson_keeps_data_beyond_a_container(executed):
    notebook = executed("08-volumes.ipynb")
    assert "written by the first container" in tagged_output(notebook, "named-volume")
    assert "from the data container" in tagged_output(notebook, "volumes-from")
    assert "the image's default" in tagged_output(notebook, "copy-up")


@pytest.mark.root
@pytest.mark.slow
def test_everyday_commands_lesson_shows_diff_and_commit(executed):
    notebook = executed("09-everyday-commands.ipynb")
    diff = tagged_output(notebook, "diff")
    assert re.search(r"^A /root/notes\.txt$", diff, re.M) and re.search(r"^C /etc$", diff, re.M)
    assert "a note" in tagged_output(notebook, "commit")


@pytest.mark.root
@pytest.mark.slow
def test_registries_lesson_pushes_pulls_and_stops_its_registry(executed):
    notebook = executed("10-registries.ipynb")
    pushed = re.search(r"digest: (sha256:[0-9a-f]{64})", tagged_output(notebook, "push"))
    assert pushed, tagged_output(notebook, "push")
    assert f"Digest: {pushed.group(1)}" in tagged_output(notebook, "pull")
    assert "registry stopped" in tagged_output(notebook, "stop-registry")


@pytest.mark.root
@pytest.mark.slow
def test_namespaces_lesson_shows_root_inside_is_an_ordinary_user_outside(executed):
    notebook = executed("05-namespaces.ipynb")
    inside = tagged_output(notebook, "userns-inside")
    assert "uid=0(root)" in inside
    first_id = re.search(r"uid_map\s+0\s+(\d+)\s+65536", inside).group(1)
    assert first_id != "0"
    assert re.search(rf"^Uid:\s+{first_id}\s", tagged_output(notebook, "userns-outside"), re.M)
    assert re.search(rf"^\s*{first_id}\s+\d+\s+sleep", tagged_output(notebook, "userns-outside"), re.M)  # ps
    table = tagged_output(notebook, "userns-ns")  # pandas wraps the wide table: the maps come as a second block
    assert re.search(r"\buser\b.*\bisolated\b", table) and f"0 -> {first_id} (65536 ids)" in table
    binds = tagged_output(notebook, "userns-binds")
    assert "refused" in binds and "no-mknod" in binds and f"belongs to uid {first_id}" in binds
    trace = tagged_output(notebook, "userns-trace")
    assert trace.index("CLONE_NEWUSER") < trace.index("uid_map") < trace.index("gid_map") < trace.index("setresuid")
