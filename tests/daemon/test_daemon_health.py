"""Health checks through the docker CLI: real probes in real containers, short intervals.

What a user sees: ``inspect``'s State.Health, ``ps``'s STATUS and ``health``
filter, ``health_status`` events; and what they must never see: a probe
outside the container's namespaces or cgroup, probes piling up, descriptors
leaking from the daemon over many probes, health forgotten by a restarted
daemon.  (The comparison with dockerd is tests/scenarios/rt_healthcheck.sh.)
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nbdock.engine import clock

pytestmark = pytest.mark.root


def docker(host: str, *args: str, timeout: float = 60, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, DOCKER_HOST=host))
    if check:
        assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


def health(host: str, name: str) -> dict | None:
    return json.loads(docker(host, "inspect", "-f", "{{json .State.Health}}", name))


def wait_for(host: str, name: str, status: str, seconds: float = 15) -> dict:
    deadline = time.time() + seconds
    while True:
        state = health(host, name)
        if state and state["Status"] == status:
            return state
        assert time.time() < deadline, f"{name} never became {status}: {state}"
        time.sleep(0.1)


@pytest.fixture
def names(nbdock_host):
    made: list[str] = []
    yield lambda suffix: made.append(f"hc-{os.getpid()}-{suffix}") or made[-1]
    if made:
        docker(nbdock_host, "rm", "-f", *made, check=False)


def test_the_probe_runs_inside_the_container(nbdock_host, names):
    """Same namespaces and cgroup as PID 1, the container's user and working directory."""
    name = names("inside")
    probe = ("for n in net pid mnt uts ipc; do readlink /proc/self/ns/$n; done > /tmp/probe-ns.new;"
             " cat /proc/self/cgroup > /tmp/probe-cgroup.new; id -u > /tmp/probe-who.new; pwd >> /tmp/probe-who.new;"
             " for f in ns cgroup who; do mv /tmp/probe-$f.new /tmp/probe-$f; done")
    docker(nbdock_host, "run", "-d", "--name", name, "-u", "1000", "-w", "/tmp", "--health-cmd", probe,
           "--health-interval", "200ms", "busybox", "sleep", "300")
    wait_for(nbdock_host, name, "healthy")
    read = lambda path: docker(nbdock_host, "exec", name, "cat", path)
    pid1 = docker(nbdock_host, "exec", name, "sh", "-c", "for n in net pid mnt uts ipc; do readlink /proc/1/ns/$n; done")
    assert pid1.count("[") == 5
    assert read("/tmp/probe-ns") == pid1
    assert read("/tmp/probe-cgroup") == docker(nbdock_host, "exec", name, "cat", "/proc/1/cgroup")
    assert read("/tmp/probe-who").split() == ["1000", "/tmp"]


def test_healthy_unhealthy_ps_filter_and_events(nbdock_host, names):
    good, bad = names("good"), names("bad")
    since = str(time.time())
    docker(nbdock_host, "run", "-d", "--name", good, "--health-cmd", "echo fine", "--health-interval", "200ms",
           "busybox", "sleep", "300")
    docker(nbdock_host, "run", "-d", "--name", bad, "--health-cmd", "echo broken >&2; exit 2",
           "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "300")
    state = wait_for(nbdock_host, good, "healthy")
    assert state["FailingStreak"] == 0 and state["Log"][-1]["ExitCode"] == 0 and state["Log"][-1]["Output"] == "fine\n"
    state = wait_for(nbdock_host, bad, "unhealthy")
    assert state["FailingStreak"] >= 2 and state["Log"][-1] | {"Start": "", "End": ""} == \
        {"Start": "", "End": "", "ExitCode": 2, "Output": "broken\n"}

    rows = docker(nbdock_host, "ps", "--filter", f"name=hc-{os.getpid()}-", "--format", "{{.Names}}|{{.Status}}")
    statuses = dict(line.split("|") for line in rows.splitlines())
    assert statuses[good].startswith("Up ") and statuses[good].endswith(" (healthy)")
    assert statuses[bad].endswith(" (unhealthy)")
    for value, expected in (("healthy", [good]), ("unhealthy", [bad]), ("starting", []), ("none", [])):
        listed = docker(nbdock_host, "ps", "--filter", f"name=hc-{os.getpid()}-", "--filter", f"health={value}",
                        "--format", "{{.Names}}").split()
        assert listed == expected, value

    until = str(time.time() + 0.5)
    time.sleep(0.6)
    events = docker(nbdock_host, "events", "--since", since, "--until", until, "--filter", f"container={good}",
                    "--format", "{{.Action}}").splitlines()
    assert events.count("health_status: healthy") == 1  # one per transition, not one per probe
    assert "exec_create: /bin/sh -c echo fine" in events and "exec_start: /bin/sh -c echo fine" in events
    assert "exec_die" in events


def test_a_probe_over_its_timeout_is_killed(nbdock_host, names):
    name = names("slow")
    docker(nbdock_host, "run", "-d", "--name", name, "--health-cmd", "sleep 29", "--health-interval", "100ms",
           "--health-timeout", "200ms", "--health-retries", "1", "busybox", "sleep", "300")
    state = wait_for(nbdock_host, name, "unhealthy")
    assert state["Log"][0]["ExitCode"] == -1 and state["Log"][0]["Output"] == "Health check exceeded timeout (200ms)"
    time.sleep(2)  # ~6 probes: without the kill, ~6 `sleep 29` would be running now
    running = docker(nbdock_host, "top", name).count("sleep 29")
    assert running <= 1


def test_pause_stops_probing_and_unpause_resumes(nbdock_host, names):
    name = names("pause")
    docker(nbdock_host, "run", "-d", "--name", name, "--health-cmd", "exit 1", "--health-interval", "100ms",
           "--health-retries", "1", "busybox", "sleep", "300")
    wait_for(nbdock_host, name, "unhealthy")
    docker(nbdock_host, "pause", name)
    streak = health(nbdock_host, name)["FailingStreak"]
    time.sleep(1)
    assert health(nbdock_host, name)["FailingStreak"] == streak  # no probe ran in the frozen container
    assert "(Paused)" in docker(nbdock_host, "ps", "--filter", f"name={name}", "--format", "{{.Status}}")
    docker(nbdock_host, "unpause", name)
    deadline = time.time() + 10
    while health(nbdock_host, name)["FailingStreak"] == streak:
        assert time.time() < deadline, "probing did not resume after unpause"
        time.sleep(0.1)


def test_no_healthcheck_disables_the_images(nbdock_host, names, tmp_path):
    (tmp_path / "Dockerfile").write_text('FROM busybox\nHEALTHCHECK --interval=100ms CMD ["true"]\n')
    image = f"hc-image-{os.getpid()}"
    docker(nbdock_host, "build", "-q", "-t", image, str(tmp_path))
    try:
        checked, disabled = names("image"), names("disabled")
        docker(nbdock_host, "run", "-d", "--name", checked, image, "sleep", "300")
        docker(nbdock_host, "run", "-d", "--name", disabled, "--no-healthcheck", image, "sleep", "300")
        wait_for(nbdock_host, checked, "healthy")
        time.sleep(0.3)
        assert health(nbdock_host, disabled) is None
        assert docker(nbdock_host, "ps", "--filter", f"name={disabled}", "--filter", "health=none",
                      "--format", "{{.Names}}").split() == [disabled]
    finally:
        docker(nbdock_host, "rm", "-f", checked, disabled, check=False)
        docker(nbdock_host, "rmi", image, check=False)


# ---------------------------------------------------------------------------
# A daemon of our own: its descriptors, and its restart


class Daemon:
    def __init__(self, base):
        self.base = str(base)
        self.host = f"unix://{self.base}/nbdock.sock"
        self.process = None

    def start(self) -> "Daemon":
        log = open(os.path.join(self.base, "daemon.log"), "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nbdock", "daemon", "--host", self.host, "--data-root",
             os.path.join(self.base, "root"), "--offline"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + 60
        while subprocess.run(["docker", "version"], capture_output=True,
                             env=dict(os.environ, DOCKER_HOST=self.host)).returncode != 0:
            assert self.process.poll() is None and time.time() < deadline
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def own_daemon(tmp_path):
    daemon = Daemon(tmp_path).start()
    yield daemon
    if daemon.process is not None:
        ids = docker(daemon.host, "ps", "-aq", check=False).split()
        if ids:
            docker(daemon.host, "rm", "-f", *ids, check=False)
    daemon.stop()


def test_many_probes_leak_no_descriptors_processes_or_exec_records(own_daemon):
    host = own_daemon.host
    fd_dir = f"/proc/{own_daemon.process.pid}/fd"
    fds = lambda: sorted(os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir))
    # Warm up first: what the daemon opens once, for its first containers, probes and execs.
    for name in ("warm1", "warm2"):
        docker(host, "run", "-d", "--name", name, "--health-cmd", "true", "--health-interval", "50ms",
               "busybox", "sleep", "300")
        wait_for(host, name, "healthy")
        docker(host, "exec", name, "true")
    docker(host, "rm", "-f", "warm1", "warm2")
    time.sleep(0.5)
    before = fds()
    since = str(time.time())
    docker(host, "run", "-d", "--name", "busy", "--health-cmd", "echo x", "--health-interval", "20ms",
           "busybox", "sleep", "300")
    docker(host, "run", "-d", "--name", "killed", "--health-cmd", "sleep 9", "--health-interval", "20ms",
           "--health-timeout", "20ms", "busybox", "sleep", "300")
    time.sleep(6)
    log = health(host, "busy")["Log"]
    assert len(log) == 5 and all(entry["ExitCode"] == 0 for entry in log)
    created = docker(host, "events", "--since", since, "--until", str(time.time()), "--filter", "container=busy",
                     "--filter", "event=exec_create", "--format", "{{.Actor.Attributes.execID}}").split()
    assert len(created) > 50  # really many probes
    # A probe's exec instance is forgotten once it has ended (Docker garbage-collects its own too).
    result = subprocess.run(["docker", "exec", "busy", "true"], env=dict(os.environ, DOCKER_HOST=host))
    assert result.returncode == 0
    inspect = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                              host[len("unix://"):], f"http://nbdock/exec/{created[0]}/json"],
                             capture_output=True, text=True)
    assert inspect.stdout == "404"
    assert docker(host, "top", "killed").count("sleep 9") <= 1
    docker(host, "rm", "-f", "busy", "killed")  # probes in flight as the containers die, too
    deadline = time.time() + 5
    while len(after := fds()) > len(before) and time.time() < deadline:
        time.sleep(0.2)
    extra = collections.Counter(after) - collections.Counter(before)
    assert len(after) <= len(before), f"descriptors the probes left open: {dict(extra)}"


def test_a_restarted_daemon_keeps_health_and_probes_again(own_daemon):
    host = own_daemon.host
    docker(host, "run", "-d", "--name", "always", "--restart", "always", "--health-cmd", "true",
           "--health-interval", "200ms", "busybox", "sleep", "300")
    docker(host, "run", "-d", "--name", "once", "--health-cmd", "echo once", "--health-interval", "200ms",
           "busybox", "sleep", "300")
    wait_for(host, "always", "healthy")
    wait_for(host, "once", "healthy")
    time.sleep(1.2)  # five results or more
    own_daemon.stop()
    stopped = time.time()
    own_daemon.start()
    # Not restarted: its last results stay, and with no monitor it is unhealthy (Docker 20.10's rule).
    after = health(host, "once")
    assert after["Status"] == "unhealthy" and len(after["Log"]) == 5
    assert all(entry["Output"] == "once\n" and clock.parse_rfc3339(entry["End"]) < stopped for entry in after["Log"])
    # Restarted by its policy: starting over, probed again.
    state = wait_for(host, "always", "healthy")
    assert "(healthy)" in docker(host, "ps", "--filter", "name=always", "--format", "{{.Status}}")
    assert state["FailingStreak"] == 0
