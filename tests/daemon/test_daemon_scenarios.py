"""The differential scenarios of tests/scenarios/, run against Docker and against nbdock.

Each scenario is a bash script that drives an engine with the docker CLI
and prints what it observes (see the shared runner's docstring,
../shared/conformance/run.py).  It runs once against the reference Docker
engine and once against an nbdock daemon; after the runner's normalisation
(ids, ports, the $TAG prefix) the two outputs and exit codes must be equal.

The runner is shared with the project's other differential scenarios and
lives outside the repository; without it these tests fail under CI and are
skipped elsewhere.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((REPO / "tests" / "scenarios").glob("*.sh"))
RUNNER = REPO.parent / "shared" / "conformance" / "run.py"
SCENARIO_TIMEOUT = 180


@pytest.fixture(scope="session")
def runner():
    """The shared runner, imported as a module (its run_scenario, seed_busybox and normalize)."""
    if not RUNNER.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the differential runner is missing: {RUNNER}")
        pytest.skip(f"no differential runner at {RUNNER}")
    spec = importlib.util.spec_from_file_location("conformance_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def registry(runner, tmp_path_factory):
    """A plain-HTTP registry on 127.0.0.1 for the scenarios' $REG, started by the shared runner, ended by pid."""
    process, address = runner.start_registry(str(tmp_path_factory.mktemp("scenario-registry")))
    if process is None:
        pytest.fail("no docker-registry on this machine (Debian's docker-registry): the scenarios' $REG needs one")
    yield address
    runner.stop(process)


@pytest.fixture(scope="session")
def engines(runner, ref_docker_host, nbdock_host, registry, tmp_path_factory):
    """Both engines, each holding the same busybox:latest (imported from the host's static busybox)."""
    from nbdock.image import busybox

    base = tmp_path_factory.mktemp("scenarios")
    tar = base / "busybox.tar"
    tar.write_bytes(busybox.rootfs_tar(busybox.find_host_busybox()))
    for host in (ref_docker_host, nbdock_host):
        present = subprocess.run(["docker", "image", "inspect", "busybox:latest"], capture_output=True,
                                 env=dict(os.environ, DOCKER_HOST=host)).returncode == 0
        if not present:
            ok, error = runner.seed_busybox(host, str(tar))
            assert ok, f"seeding busybox into {host} failed: {error}"
    return {"ref": ref_docker_host, "sut": nbdock_host, "reg": registry, "base": str(base), "seed": str(tar)}


@pytest.mark.root
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[path.name for path in SCENARIOS])
def test_scenario_matches_docker(runner, engines, scenario):
    run = lambda host: runner.run_scenario(str(scenario), host, engines["ref"], engines["reg"], engines["base"],
                                           SCENARIO_TIMEOUT, engines["seed"])
    want_rc, want, _ = run(engines["ref"])
    got_rc, got, stderr = run(engines["sut"])
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "docker", "nbdock"))
    assert (got_rc, got) == (want_rc, want), (
        f"{scenario.name}: nbdock differs from Docker (exit {got_rc}, Docker {want_rc})\n{diff}\n"
        f"nbdock's stderr:\n{stderr[-3000:]}")
