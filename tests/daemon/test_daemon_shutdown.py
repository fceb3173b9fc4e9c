"""The daemon's pid file, and a quick SIGTERM after the tour.

A daemon that has served the tour, with a client still watching
``GET /events`` (as a notebook's event watcher or an idle ``docker events``
does), used to take ~14 s to stop: aiohttp's graceful shutdown waited for
the endless stream's handler until its timeouts ran out.  It now ends the
streams still open once its containers have stopped, as dockerd does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import docker
import pytest

from nbdock import tour

pytestmark = pytest.mark.root

#: What "stops within a few seconds" means here (a fresh daemon takes about 0.5 s).
STOP_LIMIT = 4.0


def start_daemon(base, *extra: str) -> tuple[subprocess.Popen, str]:
    host = f"unix://{base}/nbdock.sock"
    log = open(base / "daemon.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "nbdock", "daemon", "--host", host, "--data-root", str(base / "root"), "--offline", *extra],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.time() + 60
    while True:
        try:
            docker.APIClient(base_url=host, version="1.24", timeout=2).ping()
            return process, host
        except Exception:  # noqa: BLE001 - not answering yet
            assert process.poll() is None and time.time() < deadline, (base / "daemon.log").read_text()[-3000:]
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def test_pid_file_beside_the_socket_named_after_it_and_removed_on_exit(tmp_path):
    process, _ = start_daemon(tmp_path)
    try:
        pid_file = tmp_path / "nbdock.pid"
        assert pid_file.read_text() == f"{process.pid}\n"
        os.kill(int(pid_file.read_text()), signal.SIGTERM)  # what the README tells a reader to do
        assert process.wait(30) == 0
        assert not pid_file.exists()
        assert not (tmp_path / "nbdock.sock").exists()
    finally:
        stop(process)


def test_daemon_stop_sigterms_the_daemon_its_pid_file_names_and_waits(tmp_path):
    process, host = start_daemon(tmp_path)
    try:
        stopped = subprocess.run([sys.executable, "-m", "nbdock", "daemon", "stop", "--host", host],
                                 capture_output=True, text=True, timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout == f"nbdock daemon: stopped (pid {process.pid})\n"
        assert process.wait(5) == 0 and not (tmp_path / "nbdock.pid").exists()
        again = subprocess.run([sys.executable, "-m", "nbdock", "daemon", "stop", "--host", host],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1
        assert again.stderr == f"nbdock daemon stop: no pid file at {tmp_path}/nbdock.pid: is a daemon running there?\n"
    finally:
        stop(process)


def test_pidfile_option(tmp_path):
    process, _ = start_daemon(tmp_path, "--pidfile", str(tmp_path / "run" / "daemon.pid"))
    try:
        assert (tmp_path / "run" / "daemon.pid").read_text().strip() == str(process.pid)
        assert not (tmp_path / "nbdock.pid").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        stop(process)
    assert not (tmp_path / "run" / "daemon.pid").exists()


def test_sigterm_after_the_tour_with_an_events_stream_open_stops_within_seconds(tmp_path, monkeypatch, capsys):
    process, host = start_daemon(tmp_path)
    try:
        monkeypatch.chdir(tmp_path)  # the tour saves its chart in the current directory
        assert tour.run(host) == 0
        assert "OOMKilled=True" in capsys.readouterr().out

        # A client watching events, and one holding an idle keep-alive connection.
        watcher = docker.APIClient(base_url=host, version="auto", timeout=60)
        idle = docker.APIClient(base_url=host, version="auto", timeout=60)
        idle.version()
        events = watcher.events(decode=True)
        stream_ended = threading.Event()

        def watch() -> None:
            try:
                for _ in events:
                    pass
            except Exception:  # noqa: BLE001 - the daemon closing the stream is what we wait for
                pass
            stream_ended.set()

        threading.Thread(target=watch, daemon=True).start()
        time.sleep(0.5)  # the events request is now being served

        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        took = time.monotonic() - began
        assert code == 0
        assert took < STOP_LIMIT, f"SIGTERM took {took:.1f} s:\n" + (tmp_path / "daemon.log").read_text()[-2000:]
        assert stream_ended.wait(5), "the events stream was not ended by the daemon's shutdown"
        assert "took more than" not in (tmp_path / "daemon.log").read_text()
    finally:
        stop(process)
