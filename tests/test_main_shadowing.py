"""``python -m nbdock`` from a directory holding a folder named ``nbdock`` (the parent of a clone, say).

``python -m`` puts the current directory first on sys.path, and that folder
shadows the installed package: without a check, the run ended in
``ImportError: cannot import name '__version__'``.  These run the real
command in a subprocess from such a directory and read what a user reads.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(cwd, *args):
    return subprocess.run([sys.executable, "-m", "nbdock", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("init", [False, True], ids=["namespace folder", "folder with __init__.py"])
def test_a_folder_named_nbdock_in_the_current_directory_is_named_in_the_error(tmp_path, init):
    (tmp_path / "nbdock").mkdir()
    if init:
        (tmp_path / "nbdock" / "__init__.py").write_text("")  # someone else's package of that name
    done = _run(tmp_path, "version")
    assert done.returncode == 1
    assert done.stderr == (f"nbdock: a folder named nbdock in {tmp_path} shadows the installed package; "
                           "run from another directory\n")
    assert "Traceback" not in done.stderr


def test_the_same_command_elsewhere_runs_the_cli(tmp_path):
    done = _run(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "shadows" not in done.stderr and "usage" in done.stdout.lower()
