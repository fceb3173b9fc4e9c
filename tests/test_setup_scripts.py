"""The set-up scripts a newcomer runs first (README "Set up"): what they install, and where.

The installs themselves are not run here (they take minutes and change the
machine); what a reader relies on is: the tour's install leaves the test-only
packages out, the scripts run as root without needing sudo, apt's errors are
not hidden, nbdock goes into the project's .venv and never the system Python,
and the tests run from that .venv.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
TEST_ONLY = {"docker.io", "docker-registry", "etcd-server", "docker-compose", "chromium", "slirp4netns",
             "fuse-overlayfs"}


def install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPTS / "install.sh"), *args], capture_output=True, text=True, timeout=30)


def test_the_tours_packages_leave_the_test_only_ones_out():
    tour = set(install("--print-packages").stdout.split())
    tests = set(install("--tests", "--print-packages").stdout.split())
    assert {"busybox-static", "iproute2", "iptables", "python3-venv"} <= tour
    assert not tour & TEST_ONLY
    assert TEST_ONLY <= tests and tour <= tests


def test_help_and_an_unknown_option():
    shown = install("--help")
    assert shown.returncode == 0 and "--tests" in shown.stdout and ".venv" in shown.stdout
    wrong = install("--bogus")
    assert wrong.returncode == 2 and "unknown option --bogus" in wrong.stderr


def test_apt_errors_are_not_hidden_and_pip_installs_into_the_venv_only():
    script = (SCRIPTS / "install.sh").read_text()
    for line in script.splitlines():
        if "apt-get install" in line and not line.lstrip().startswith(("#", "echo")):
            assert "/dev/null" not in line, line
        if re.search(r"\bpip\b.*\binstall\b", line) and not line.lstrip().startswith(("#", "echo")):
            assert line.lstrip().startswith(".venv/bin/python -m pip"), line
    assert "python3 -m venv .venv" in script


def test_the_scripts_need_no_sudo_and_the_tests_run_from_the_venv():
    for name in ("install.sh", "tour.sh", "test.sh"):
        commands = [line for line in (SCRIPTS / name).read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith(("#", "echo"))]
        assert not any(re.match(r"\s*sudo\b", line) for line in commands), name
    tour = (SCRIPTS / "tour.sh").read_text()
    assert "exec .venv/bin/python -m nbdock.tour" in tour
    test = (SCRIPTS / "test.sh").read_text()
    assert "bash scripts/install.sh --tests" in test
    assert 'export PATH="$repo/.venv/bin:$PATH"' in test  # `python3 -m nbdock` for the conformance runner
    assert test.index("export PATH=") < test.index("python3 -m pytest")
    assert 'echo "pytest: $(python3 -m pytest --collect-only' in test  # the collected-test count is printed
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("exec bash scripts/test.sh")


def test_the_readme_gives_the_two_commands_as_root_without_requiring_sudo():
    readme = (REPO / "README.md").read_text()
    setup = readme[readme.index("## Set up"):readme.index("## Reading the code")]
    block = setup[setup.index("```sh") + 5:setup.index("```", setup.index("```sh") + 5)]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["scripts/tour.sh", "scripts/test.sh"]
    assert "kill $(cat /run/nbdock/nbdock.pid)" in setup and "/var/lib/nbdock/daemon.log" in setup
    assert ".venv/bin/jupyter lab" in setup
