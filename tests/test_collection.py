"""The suite guards itself: every ``tests/**/test_*.py`` file is collected.

pytest silently skips some folder names by default (``norecursedirs``: build,
dist, venv, dotted names...), and a file whose tests all live under a name
pytest does not look for contributes nothing.  Either way tests stop
running without a single failure; this test is that failure.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"


def test_every_test_file_is_collected():
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "tests"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    on_disk = {path.relative_to(REPO).as_posix() for path in TESTS.rglob("test_*.py")}
    missing = sorted(on_disk - collected)
    assert not missing, f"test files pytest does not collect from `pytest tests`: {missing}"
    assert "tests/builder/test_build_dockerfile.py" in collected
