"""The daemon carries only what it uses: no client libraries in its memory.

``nbdock daemon`` starts through the same ``nbdock`` command as the client
commands, whose listings need pandas and whose requests go through docker-py.
Imported by the daemon they would double its resident size (113 MB idle
against 60 MB), for nothing: the daemon serves the API, it does not call it.
"""

import subprocess
import sys

CLIENT_ONLY = ("pandas", "numpy", "matplotlib", "docker", "requests", "IPython", "ipywidgets")


def test_the_daemons_modules_import_no_client_library():
    probe = ("import sys, nbdock.cli, nbdock.daemon.server, nbdock.runtime.spawner; "
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({CLIENT_ONLY!r})))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the daemon imports client libraries: {result.stdout}"
