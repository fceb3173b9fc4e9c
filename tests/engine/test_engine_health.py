"""Health checks without root: the rules of engine/health.py, with a fake probe and short real intervals.

Each rule is Docker 20.10's (moby daemon/health.go), checked against the
reference engine by tests/scenarios/rt_healthcheck.sh; the real probes (exec
in the container) are exercised by tests/daemon/test_daemon_health.py.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from nbdock.engine import createconfig, health
from nbdock.engine.createconfig import merge_image_healthcheck
from nbdock.engine.health import (HEALTHY, STARTING, UNHEALTHY, Health, HealthService, Monitor, OutputBuffer, Probe,
                                  ProbeError, Result, status_line)
from nbdock.engine.records import ContainerRecord, State
from nbdock.goformat import go_duration

MS = 1_000_000


# ---------------------------------------------------------------------------
# The configuration


def test_probe_forms_and_defaults():
    shell = Probe.from_config({"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"]}})
    assert shell == Probe(("/bin/sh", "-c", "curl -f localhost"), interval=30_000 * MS, timeout=30_000 * MS,
                          start_period=0, retries=3)
    assert Probe.from_config({"Healthcheck": {"Test": ["CMD-SHELL", "x"]}, "Shell": ["/bin/bash", "-ec"]}).argv == \
        ("/bin/bash", "-ec", "x")
    exact = Probe.from_config({"Healthcheck": {"Test": ["CMD", "test", "-e", "/ok"], "Interval": 200 * MS,
                                               "Timeout": 1000 * MS, "StartPeriod": 5000 * MS, "Retries": 5}})
    assert exact == Probe(("test", "-e", "/ok"), 200 * MS, 1000 * MS, 5000 * MS, 5)


@pytest.mark.parametrize("config", [{}, {"Healthcheck": None}, {"Healthcheck": {"Test": ["NONE"]}},
                                    {"Healthcheck": {"Test": []}}, {"Healthcheck": {"Interval": 1000}},
                                    {"Healthcheck": {"Test": ["HTTP", "/"]}}, {"Healthcheck": {"Test": ["CMD"]}}])
def test_no_probe(config):
    assert Probe.from_config(config) is None


def test_image_healthcheck_is_merged_field_by_field():
    image = {"Test": ["CMD", "test", "-e", "/tmp/ok"], "Interval": 300 * MS, "Retries": 2}
    assert merge_image_healthcheck(None, image) == image
    assert merge_image_healthcheck({"Timeout": 2000 * MS}, image) == {**image, "Timeout": 2000 * MS}
    assert merge_image_healthcheck({"Test": ["CMD-SHELL", "true"]}, image) == \
        {"Test": ["CMD-SHELL", "true"], "Interval": 300 * MS, "Retries": 2}
    assert merge_image_healthcheck({"Test": ["NONE"]}, image)["Test"] == ["NONE"]  # --no-healthcheck wins
    assert merge_image_healthcheck({"Test": ["CMD", "x"]}, None) == {"Test": ["CMD", "x"]}
    assert merge_image_healthcheck(None, None) is None


def test_create_merges_the_images_healthcheck():
    image = {"Cmd": ["sh"], "Healthcheck": {"Test": ["CMD", "true"], "Interval": 300 * MS}}
    config = createconfig.merge_image_config({"Image": "x", "Healthcheck": {"Retries": 4}}, image)
    assert config["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 300 * MS, "Retries": 4}
    assert "Healthcheck" not in createconfig.merge_image_config({"Image": "x"}, {"Cmd": ["sh"]})


@pytest.mark.parametrize("nanoseconds, text", [
    (300 * MS, "300ms"), (30_000 * MS, "30s"), (1500 * MS, "1.5s"), (90_000 * MS, "1m30s"), (120_000 * MS, "2m0s"),
    (3_600_000 * MS, "1h0m0s"), (1_500_000, "1.5ms"), (250_000, "250µs"), (1, "1ns"), (0, "0s"),
])
def test_timeouts_are_written_as_go_writes_durations(nanoseconds, text):
    assert go_duration(nanoseconds) == text


# ---------------------------------------------------------------------------
# The state machine


def result(exit_code, start=100.0, output=""):
    return Result(start, start + 0.1, exit_code, output)


def test_success_makes_healthy_and_failures_count_up_to_retries():
    probe = Probe(("true",), retries=3)
    h = Health()
    assert h.status == STARTING
    assert h.record(result(0), probe, started_at=0) is True
    assert (h.status, h.failing_streak) == (HEALTHY, 0)
    assert [h.record(result(1), probe, 0) for _ in range(3)] == [False, False, True]
    assert (h.status, h.failing_streak) == (UNHEALTHY, 3)
    assert h.record(result(1), probe, 0) is False and h.failing_streak == 4  # the streak goes on counting
    assert h.record(result(0), probe, 0) is True
    assert (h.status, h.failing_streak) == (HEALTHY, 0)


def test_starting_failures_within_the_start_period_do_not_count():
    probe = Probe(("x",), start_period=10_000 * MS, retries=1)
    h = Health()
    h.record(result(1, start=105.0), probe, started_at=100.0)  # 5 s after the start: forgiven
    assert (h.status, h.failing_streak, len(h.log)) == (STARTING, 0, 1)
    h.record(result(1, start=111.0), probe, started_at=100.0)  # after the start period: counts
    assert (h.status, h.failing_streak) == (UNHEALTHY, 1)


def test_once_healthy_the_start_period_forgives_nothing():
    probe = Probe(("x",), start_period=10_000 * MS, retries=1)
    h = Health()
    h.record(result(0, start=101.0), probe, started_at=100.0)
    h.record(result(1, start=102.0), probe, started_at=100.0)
    assert (h.status, h.failing_streak) == (UNHEALTHY, 1)


def test_the_log_keeps_the_last_five():
    probe = Probe(("x",))
    h = Health()
    for i in range(8):
        h.record(result(0, start=float(i), output=str(i)), probe, 0)
    assert [entry["Output"] for entry in h.to_api()["Log"]] == ["3", "4", "5", "6", "7"]
    entry = h.to_api()["Log"][0]
    assert set(entry) == {"Start", "End", "ExitCode", "Output"}
    assert entry["Start"] == "1970-01-01T00:00:03Z" and entry["End"] == "1970-01-01T00:00:03.1Z"


def test_health_round_trips_through_json():
    h = Health(UNHEALTHY, 4)
    h.log.append(Result(1.5, 2.5, 1, "bad\n"))
    again = Health.from_json(json.loads(json.dumps(h.to_json())))
    assert again.to_api() == h.to_api()


def test_output_is_cut_at_4096_bytes():
    buffer = OutputBuffer()
    buffer.write(b"a" * 4000)
    buffer.write(b"b" * 200)
    text = buffer.text()
    assert len(text) == 4096 + 3 and text.endswith("b...") and text.count("b") == 96
    whole = OutputBuffer()
    whole.write(b"hi\n")
    assert whole.text() == "hi\n"
    cut = OutputBuffer()
    cut.write(b"a" * 4095 + "é".encode())  # a character cut in two becomes U+FFFD, as Go's JSON writes it
    assert cut.text() == "a" * 4095 + "\ufffd..."


def test_ps_status_line():
    up = State(Status="running", Running=True)
    assert status_line("Up 3 seconds", up, Health()) == "Up 3 seconds (health: starting)"
    assert status_line("Up 3 seconds", up, Health(HEALTHY)) == "Up 3 seconds (healthy)"
    assert status_line("Up 3 seconds", up, Health(UNHEALTHY)) == "Up 3 seconds (unhealthy)"
    assert status_line("Up 3 seconds", up, None) == "Up 3 seconds"
    paused = State(Status="paused", Running=True, Paused=True)
    assert status_line("Up 3 seconds (Paused)", paused, Health(UNHEALTHY)) == "Up 3 seconds (Paused)"
    assert status_line("Exited (0) 1 second ago", State(Status="exited"), Health(UNHEALTHY)) == "Exited (0) 1 second ago"


# ---------------------------------------------------------------------------
# The monitor, with a fake probe


class FakeProcess:
    """A probe process: ends with ``exit_code`` after ``duration`` seconds, unless killed first."""

    def __init__(self, runner, exit_code, output, duration):
        self.runner = runner
        self.killed = False
        self._outcome = (exit_code, output)
        self._ended = asyncio.Event()
        self._timer = asyncio.get_running_loop().call_later(duration, self._ended.set)

    def kill(self):
        if not self._ended.is_set():
            self.killed = True
            self._outcome = (137, "")
            self._timer.cancel()
            # A killed process takes a little while to be reaped.
            asyncio.get_running_loop().call_later(0.02, self._ended.set)

    async def wait(self):
        await self._ended.wait()
        self.runner.running -= 1
        self.runner.ended.append(asyncio.get_running_loop().time())
        return self._outcome


class FakeRunner:
    """Launches FakeProcesses from a script of (exit_code, output, duration), the last repeated."""

    def __init__(self, *script, fail_launch=None):
        self.script = list(script)
        self.fail_launch = fail_launch
        self.launched: list[FakeProcess] = []
        self.starts: list[float] = []
        self.ended: list[float] = []
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, argv):
        await asyncio.sleep(0.001)  # launching takes a moment (a worker thread, in the engine)
        self.starts.append(asyncio.get_running_loop().time())
        if self.fail_launch:
            raise ProbeError(self.fail_launch)
        exit_code, output, duration = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        process = FakeProcess(self, exit_code, output, duration)
        self.launched.append(process)
        return process


def run_monitor(runner, probe, seconds, *, stop_at=None):
    """Run a Monitor for ``seconds``; returns (health, the on_change calls, the monitor)."""
    async def main():
        h = Health()
        changes = []
        monitor = Monitor(h, probe, runner, started_at=__import__("time").time(), on_change=changes.append)
        if stop_at is not None:
            await asyncio.sleep(stop_at)
            monitor.stop()
            await asyncio.wait({monitor.task})
            await asyncio.sleep(seconds - stop_at)
        else:
            await asyncio.sleep(seconds)
            monitor.stop()
            await asyncio.wait({monitor.task})
        return h, changes, monitor

    return asyncio.run(main())


def test_a_passing_probe_makes_the_container_healthy_once():
    runner = FakeRunner((0, "ok\n", 0.005))
    h, changes, _ = run_monitor(runner, Probe(("x",), interval=30 * MS), 0.25)
    assert h.status == HEALTHY and h.failing_streak == 0
    assert changes[0] is True and not any(changes[1:])  # one transition, then the same status
    assert len(changes) >= 4 and h.log[-1].output == "ok\n"


def test_retries_failures_in_a_row_make_it_unhealthy():
    runner = FakeRunner((0, "", 0.001), (1, "bad", 0.001))
    h, changes, _ = run_monitor(runner, Probe(("x",), interval=20 * MS, retries=3), 0.3)
    assert h.status == UNHEALTHY and h.failing_streak >= 3
    # healthy at the first result, unhealthy at the fourth (three failures), nothing else
    assert changes[:4] == [True, False, False, True] and not any(changes[4:])


def test_the_first_probe_waits_one_interval_and_probes_never_overlap():
    runner = FakeRunner((0, "", 0.05))
    loop_start = []

    async def main():
        loop_start.append(asyncio.get_running_loop().time())
        monitor = Monitor(Health(), Probe(("x",), interval=40 * MS), runner, 0, lambda changed: None)
        await asyncio.sleep(0.4)
        monitor.stop()
        await asyncio.wait({monitor.task})

    asyncio.run(main())
    assert runner.starts[0] - loop_start[0] >= 0.04
    assert runner.most_at_once == 1
    # The interval runs from the end of one probe to the start of the next.
    for ended, next_start in zip(runner.ended, runner.starts[1:]):
        assert next_start - ended >= 0.039


def test_a_probe_over_its_timeout_is_killed_and_fails():
    runner = FakeRunner((0, "late", 10))
    h, changes, _ = run_monitor(runner, Probe(("x",), interval=20 * MS, timeout=50 * MS, retries=2), 0.4)
    assert h.status == UNHEALTHY
    assert h.log[0].exit_code == -1 and h.log[0].output == "Health check exceeded timeout (50ms)"
    assert 0.045 <= h.log[0].end - h.log[0].start < 0.2
    assert all(p.killed for p in runner.launched)
    assert runner.most_at_once == 1  # the killed probe is gone before the next starts


def test_a_probe_that_cannot_start_is_a_failure_with_its_message():
    runner = FakeRunner(fail_launch="OCI runtime exec failed: no such file")
    h, _, _ = run_monitor(runner, Probe(("x",), interval=20 * MS, retries=1), 0.15)
    assert h.status == UNHEALTHY and h.log[0].exit_code == -1 and h.log[0].output == "OCI runtime exec failed: no such file"


def test_stopping_kills_the_probe_in_flight_and_drops_its_result():
    runner = FakeRunner((0, "", 10))
    h, changes, monitor = run_monitor(runner, Probe(("x",), interval=20 * MS), 0.2, stop_at=0.1)
    assert len(runner.launched) == 1 and runner.launched[0].killed
    assert runner.running == 0  # waited for
    assert changes == [] and len(h.log) == 0 and h.status == STARTING
    assert monitor.task.done()


# ---------------------------------------------------------------------------
# The service: the container's life, events, persistence


class FakeContainers:
    def __init__(self):
        self.events = []

    def publish(self, record, action, **extra):
        self.events.append(action)


class FakeEngine:
    def __init__(self, root):
        self.root = str(root)
        self.containers = FakeContainers()


class FakeContainer:
    def __init__(self, root, config):
        self.record = ContainerRecord(Id="c" * 64, Name="/web", Created="", Image="sha256:x", ImageName="busybox",
                                      Path="sleep", Args=["300"], Config=config, HostConfig={})
        self.record.State = State(Status="running", Running=True, StartedAt="2026-01-01T00:00:00Z")
        os.makedirs(self.record.directory(str(root)))
        self.removed = False

    @property
    def id(self):
        return self.record.Id


CHECKED = {"Healthcheck": {"Test": ["CMD-SHELL", "x"], "Interval": 20 * MS, "Retries": 2}}


def test_service_follows_the_containers_life(tmp_path):
    engine = FakeEngine(tmp_path)
    container = FakeContainer(tmp_path, CHECKED)
    runner = FakeRunner((0, "", 0.001), (0, "", 0.001), (0, "", 0.001), (1, "", 0.001))

    async def main():
        service = HealthService(engine.root, engine.containers.publish, launcher=lambda c: runner)
        assert service.inspect(container.id) is None and service.filter_value(container.id) == "none"
        service.started(container)
        assert service.filter_value(container.id) == STARTING
        await asyncio.sleep(0.3)
        seen = service.inspect(container.id)
        service.halted(container)  # stop, death or pause: unhealthy, no event
        halted = service.filter_value(container.id)
        await asyncio.sleep(0.05)
        probes = len(runner.starts)
        await asyncio.sleep(0.1)
        assert len(runner.starts) == probes  # no more probes
        service.started(container)  # a start resets status and streak, keeps the log
        restarted = service.inspect(container.id)
        service.forget(container.id)
        return seen, halted, restarted

    seen, halted, restarted = asyncio.run(main())
    assert seen["Status"] == UNHEALTHY and seen["FailingStreak"] >= 2 and len(seen["Log"]) == 5
    assert engine.containers.events == ["health_status: healthy", "health_status: unhealthy"]
    assert halted == UNHEALTHY
    assert restarted["Status"] == STARTING and restarted["FailingStreak"] == 0 and len(restarted["Log"]) == 5


def test_unpause_resumes_probing_without_reset(tmp_path):
    engine = FakeEngine(tmp_path)
    container = FakeContainer(tmp_path, CHECKED)
    runner = FakeRunner((0, "", 0.001))

    async def main():
        service = HealthService(engine.root, engine.containers.publish, launcher=lambda c: runner)
        service.started(container)
        await asyncio.sleep(0.1)
        service.halted(container)
        paused = service.filter_value(container.id)
        service.resumed(container)
        resumed = service.filter_value(container.id)
        await asyncio.sleep(0.1)
        service.forget(container.id)
        return paused, resumed

    paused, resumed = asyncio.run(main())
    assert (paused, resumed) == (UNHEALTHY, UNHEALTHY)
    assert engine.containers.events == ["health_status: healthy", "health_status: healthy"]


def test_no_healthcheck_means_no_monitor_and_no_health(tmp_path):
    engine = FakeEngine(tmp_path)
    container = FakeContainer(tmp_path, {"Healthcheck": {"Test": ["NONE"], "Interval": 20 * MS}})
    runner = FakeRunner((0, "", 0.001))

    async def main():
        service = HealthService(engine.root, engine.containers.publish, launcher=lambda c: runner)
        service.started(container)
        await asyncio.sleep(0.1)
        service.halted(container)
        return service.inspect(container.id), service.filter_value(container.id)

    assert asyncio.run(main()) == (None, "none")
    assert runner.starts == []


def test_health_is_saved_and_a_restarted_daemon_reads_it_back(tmp_path):
    engine = FakeEngine(tmp_path)
    container = FakeContainer(tmp_path, CHECKED)
    runner = FakeRunner((0, "fine\n", 0.001))

    async def main():
        service = HealthService(engine.root, engine.containers.publish, launcher=lambda c: runner)
        service.started(container)
        await asyncio.sleep(0.15)
        return service.inspect(container.id)

    before = asyncio.run(main())  # the "daemon" ends with the monitor running
    assert before["Status"] == HEALTHY
    saved = json.loads((tmp_path / "containers" / container.id / "health.json").read_text())
    assert saved["Status"] == HEALTHY
    again = HealthService(engine.root, engine.containers.publish, launcher=lambda c: runner)
    again.restore(container)
    after = again.inspect(container.id)
    # Nothing probes a container the new daemon has not started: unhealthy, as Docker says of a stopped monitor.
    assert after["Status"] == UNHEALTHY and after["Log"] == before["Log"]


def test_restore_without_a_saved_health(tmp_path):
    engine = FakeEngine(tmp_path)
    container = FakeContainer(tmp_path, CHECKED)
    service = HealthService(engine.root, engine.containers.publish, launcher=lambda c: None)  # nothing runs
    service.restore(container)
    assert service.inspect(container.id) is None
    (tmp_path / "containers" / container.id / "health.json").write_text("{not json")
    service.restore(container)
    assert service.inspect(container.id) is None


def test_defaults_are_dockers():
    assert (health.DEFAULT_INTERVAL, health.DEFAULT_TIMEOUT, health.DEFAULT_START_PERIOD, health.DEFAULT_RETRIES) == \
        (30 * 1000 * MS, 30 * 1000 * MS, 0, 3)
    assert (health.MAX_LOG_ENTRIES, health.MAX_OUTPUT) == (5, 4096)


def test_a_restart_waits_for_the_last_monitors_probe_to_be_gone(tmp_path):
    engine = FakeEngine(tmp_path)
    container = FakeContainer(tmp_path, {"Healthcheck": {"Test": ["CMD-SHELL", "x"], "Interval": 10 * MS}})
    runner = FakeRunner((0, "", 0.5), (0, "", 0.001))

    class SlowToDie(FakeProcess):
        def kill(self):  # takes 100 ms to be reaped
            if not self._ended.is_set() and not self.killed:
                self.killed = True
                self._outcome = (137, "")
                self._timer.cancel()
                asyncio.get_running_loop().call_later(0.1, self._ended.set)

    async def launch(argv):
        process = await runner(argv)
        slow = SlowToDie.__new__(SlowToDie)
        slow.__dict__.update(process.__dict__)
        runner.launched[-1] = slow
        return slow

    async def main():
        service = HealthService(engine.root, engine.containers.publish, launcher=lambda c: launch)
        service.started(container)
        await asyncio.sleep(0.05)  # the first probe is in flight
        service.halted(container)
        service.started(container)  # `docker restart`: at once
        await asyncio.sleep(0.3)
        service.forget(container.id)

    asyncio.run(main())
    assert runner.launched[0].killed
    assert runner.most_at_once == 1
    assert runner.starts[1] >= runner.ended[0]


def test_stop_holds_even_when_it_comes_as_the_probe_ends():
    """Python 3.11's wait_for can swallow a cancel that races the awaited result: the monitor
    must stop anyway (a monitor outliving its container would probe it forever)."""
    class Quick:
        def __init__(self):
            self.ended = asyncio.Event()
            asyncio.get_running_loop().call_later(0.01, self.ended.set)

        def kill(self):
            self.ended.set()

        async def wait(self):
            await self.ended.wait()
            return 0, ""

    async def launch(argv):
        return Quick()

    async def main():
        outlived = 0
        for i in range(200):
            monitor = Monitor(Health(), Probe(("x",), interval=MS), launch, 0, lambda changed: None)
            await asyncio.sleep(0.011 + (i % 10) * 0.0005)  # stop() lands around the probe's end
            monitor.stop()
            done, _ = await asyncio.wait({monitor.task}, timeout=0.5)
            if not done:
                outlived += 1
                monitor.task.cancel()
        return outlived

    assert asyncio.run(main()) == 0
