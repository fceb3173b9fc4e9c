"""The layer-tree widget, as a student sees it: JupyterLab in a real (headless) Chromium.

nbclient (test_notebooks.py) proves that the notebooks run; it cannot
prove that a widget *renders* -- that takes JupyterLab's front end, the
ipywidgets JavaScript and a browser.  So: start JupyterLab on 127.0.0.1
with a token, open a copy of the layers tutorial in Debian's Chromium
(driven by Playwright; Playwright's own browser builds cannot be
downloaded here), run all cells, and look at the page.

A copy, in a temporary directory: JupyterLab saves the notebooks it runs,
and the committed one must stay without outputs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.root, pytest.mark.slow]

REPOSITORY = Path(__file__).resolve().parents[2]
LAYERS_NOTEBOOK = REPOSITORY / "notebooks" / "02-images-and-layers.ipynb"
SCREENSHOT = REPOSITORY / "test-output" / "browser" / "layer-tree-widget.png"
FAILURE_SCREENSHOT = REPOSITORY / "test-output" / "browser" / "run-all-did-not-finish.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Seconds for "run all" of the layers notebook (it builds two images).
RUN_ALL_TIMEOUT = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def jupyterlab(nbdock_host, tmp_path, daemon_objects):
    """(base URL, token) of a JupyterLab serving a copy of the layers notebook; stopped by its pid afterwards.

    Everything it writes goes under ``tmp_path``: runtime files, workspaces, settings.  Run All leaves the
    lesson's container and images in place (its clean-up cell waits for the reader): they are removed here.
    """
    before = daemon_objects.now()
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(LAYERS_NOTEBOOK, root)
    port, token = _free_port(), secrets.token_hex(16)
    # Settings of its own: JupyterLab writes settings there, and would otherwise ask (in a toast over the
    # page) whether to fetch Jupyter's news from the internet.
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    environment = {**os.environ, "NBDOCK_HOST": nbdock_host, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
                   # secrets, notebook signatures, connection files: not in the user's home
                   "JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
                   "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    log = open(tmp_path / "jupyterlab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         # window.jupyterapp: lets the test run JupyterLab's own "Run All Cells" command.
         "--LabApp.expose_app_in_browser=True"],
        env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base_url, token, process, tmp_path / "jupyterlab.log")
        yield base_url, token
    finally:
        _shut_down_kernels(base_url, token)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        daemon_objects.remove_new(before)


def _wait_for_server(base_url: str, token: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)


def _shut_down_kernels(base_url: str, token: str) -> None:
    """Ask the server to end its kernels, so that none outlives the test."""
    try:
        with urllib.request.urlopen(f"{base_url}/api/kernels?token={token}", timeout=5) as response:
            kernels = json.load(response)
    except OSError:
        return
    for kernel in kernels:
        request = urllib.request.Request(f"{base_url}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        with urllib.request.urlopen(request, timeout=30):
            pass


def test_layer_tree_widget_renders_in_jupyterlab(jupyterlab, capsys):
    from playwright.sync_api import sync_playwright

    base_url, token = jupyterlab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base_url}/lab/tree/{LAYERS_NOTEBOOK.name}?token={token}")
            # Run nothing before the notebook's kernel is connected: JupyterLab would ask which kernel to start.
            page.wait_for_function("""() => {
                const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
                return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
            }""", timeout=60_000)
            # Not awaited (no `return`): the command's promise is not a reliable "all done" signal.
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            try:
                _wait_until_all_cells_ran(page)
            except Exception:
                _save_screenshot(page, FAILURE_SCREENSHOT, capsys)
                raise

            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
            assert errors.count() == 0, errors.first.text_content()
            assert "Error displaying widget" not in page.locator(".jp-Notebook").text_content()

            # The cell tagged layers-widget: `view = %dock layers lesson02-app:1; view`.
            tree = page.locator(".jp-Cell", has_text="view = %dock layers").locator(".jupyter-widgets.widget-vbox").first
            tree.wait_for(timeout=30_000)
            tree.scroll_into_view_if_needed()  # JupyterLab skips rendering the cells out of view
            assert "lesson02-app:1: 5 layers, base first" in tree.text_content()
            # Open the layer of `RUN rm /etc/motd`: its list of changes shows the whiteout.
            layer = tree.locator(".jupyter-widget-Collapse", has=page.locator(".jupyter-widget-Collapse-header",
                                                                               has_text="rm /etc/motd")).first
            layer.locator(".jupyter-widget-Collapse-header").click()
            changes = layer.locator("select").first
            changes.wait_for(state="visible", timeout=10_000)
            options = changes.evaluate("select => [...select.options].map(option => option.text)")
            assert "- /etc/motd  (whiteout)" in [text.replace("\xa0", " ") for text in options]  # ipywidgets: nbsp
            # A file is read from the daemon on click: after Run All the image is still there to read it from.
            layer = tree.locator(".jupyter-widget-Collapse", has=page.locator(".jupyter-widget-Collapse-header",
                                                                               has_text="Welcome to lesson 2")).first
            layer.locator(".jupyter-widget-Collapse-header").click()
            changes = layer.locator("select").first
            changes.wait_for(state="visible", timeout=10_000)
            labels = changes.evaluate("select => [...select.options].map(option => option.text)")
            changes.select_option(index=[text.replace("\xa0", " ") for text in labels].index("+ /etc/motd"))
            layer.locator("pre", has_text="Welcome to lesson 2").wait_for(timeout=10_000)  # the file's content
            assert "No such image" not in layer.text_content()

            tree.scroll_into_view_if_needed()
            _save_screenshot(page, SCREENSHOT, capsys)
        finally:
            browser.close()


def _save_screenshot(page, path: Path, capsys) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    with capsys.disabled():  # shown whether or not pytest captures output
        print(f"\nscreenshot: {path}")


def _wait_until_all_cells_ran(page) -> None:
    """Until every code cell has an execution count ("[7]:"), or a cell failed ("run all" stops there)."""
    page.wait_for_function(
        """() => {
            if (document.querySelector("[data-mime-type='application/vnd.jupyter.error']")) return true;
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            return prompts.length > 0 && prompts.every(text => /\\[\\d+\\]/.test(text));
        }""",
        timeout=RUN_ALL_TIMEOUT * 1000,
        polling=500,
    )
