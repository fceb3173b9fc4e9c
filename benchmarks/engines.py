"""Start a reference dockerd and an nbdock daemon side by side, for benchmarks that compare them.

Both get a private data root and socket under one temporary directory and
the same busybox:latest (the host's static busybox, imported), and both are
stopped -- by pid -- when the ``with`` block ends::

    with Engines() as engines:
        engines.docker("run", "--rm", "busybox", "true", engine="nbdock")

Set NBDOCK_BENCH_REF / NBDOCK_BENCH_SUT to unix:// addresses to use engines
that are already running instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Engines:
    def __init__(self, only: tuple[str, ...] = ("docker", "nbdock")):
        self.only = only
        self.base = tempfile.mkdtemp(prefix="nbdock-bench-")
        self.hosts: dict[str, str] = {}
        self.pids: dict[str, int] = {}  # the daemon's pid, for the engines started here
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Engines":
        try:
            if "docker" in self.only:
                self.hosts["docker"] = os.environ.get("NBDOCK_BENCH_REF") or self._start_dockerd()
            if "nbdock" in self.only:
                self.hosts["nbdock"] = os.environ.get("NBDOCK_BENCH_SUT") or self._start_nbdock()
            for name in self.hosts:
                self._seed_busybox(name)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        with open("/proc/self/mountinfo") as f:
            mounted = [line.split()[4] for line in f if line.split()[4].startswith(self.base)]
        for path in sorted(mounted, reverse=True):
            subprocess.run(["umount", "-l", path], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def _wait(self, host: str, process: subprocess.Popen, log: str) -> str:
        deadline = time.time() + 60
        while time.time() < deadline:
            if subprocess.run(["docker", "-H", host, "version"], capture_output=True).returncode == 0:
                return host
            if process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"engine at {host} did not start; see {log}:\n{open(log).read()[-2000:]}")

    def _start_dockerd(self) -> str:
        base = os.path.join(self.base, "docker")
        os.makedirs(base)
        log = os.path.join(base, "dockerd.log")
        host = f"unix://{base}/docker.sock"
        process = subprocess.Popen(
            ["dockerd", "--data-root", f"{base}/data", "--exec-root", f"{base}/exec", "-H", host,
             "--pidfile", f"{base}/docker.pid"], stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self._processes.append(process)
        self.pids["docker"] = process.pid
        return self._wait(host, process, log)

    def _start_nbdock(self) -> str:
        base = os.path.join(self.base, "nbdock")
        os.makedirs(base)
        log = os.path.join(base, "daemon.log")
        host = f"unix://{base}/nbdock.sock"
        process = subprocess.Popen(
            [sys.executable, "-m", "nbdock", "daemon", "--host", host, "--data-root", f"{base}/root"],
            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        self._processes.append(process)
        self.pids["nbdock"] = process.pid
        return self._wait(host, process, log)

    def _seed_busybox(self, engine: str) -> None:
        if self.docker("image", "inspect", "busybox:latest", engine=engine, check=False).returncode == 0:
            return
        sys.path.insert(0, ROOT)
        from nbdock.image import busybox

        tar = busybox.rootfs_tar(busybox.find_host_busybox())
        subprocess.run(["docker", "-H", self.hosts[engine], "import", "--change", 'CMD ["sh"]', "-", "busybox:latest"],
                       input=tar, check=True, capture_output=True)

    def docker(self, *args: str, engine: str, check: bool = True, **options) -> subprocess.CompletedProcess:
        """Run the docker CLI against one engine (the classic builder: DOCKER_BUILDKIT=0)."""
        env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
        return subprocess.run(["docker", "-H", self.hosts[engine], *args], env=env, check=check,
                              capture_output=True, **options)


def timed(function, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
