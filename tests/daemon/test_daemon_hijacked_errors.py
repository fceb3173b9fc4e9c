"""An error after ``101 UPGRADED`` still reaches the client.

Once ``POST /exec/{id}/start`` has switched protocols there is no status line
left to send: the error middleware's JSON reply would go nowhere, and the
client would see an exec with no output and no message (the error only in
the daemon's log).  So the route writes the message on the stream itself, as
Docker does for an exec that fails to start.  The engine here is a stand-in
whose exec start fails the way a host failure does (an untyped exception),
which no real container can be made to do on demand; the HTTP layer, the
socket and the docker-py client are real.
"""

from __future__ import annotations

import asyncio
import threading

import docker
import pytest
from aiohttp import web

from nbdock.daemon.server import make_app
from nbdock.engine.execs import ExecInstance


class FailingExecs:
    """Exec instances that pass the pre-upgrade checks, then fail to start."""

    def __init__(self, error: Exception):
        self.error = error
        self.instance = ExecInstance("e" * 64, "c" * 64, {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})

    def check_startable(self, exec_id: str) -> ExecInstance:
        return self.instance

    get = check_startable

    async def start(self, exec_id: str, *, detach: bool = False) -> ExecInstance:
        self.instance.exit_code = 126
        self.instance.done.set()
        raise self.error


class StandInEngine:
    def __init__(self, error: Exception):
        self.execs = FailingExecs(error)


@pytest.fixture
def serve(tmp_path):
    """Serve the real app around a stand-in engine on a unix socket; yields its address."""
    servers = []

    def start(engine) -> str:
        path = str(tmp_path / "api.sock")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        runner = web.AppRunner(make_app(engine))

        async def run() -> None:
            await runner.setup()
            await web.UnixSite(runner, path).start()
            ready.set()

        thread = threading.Thread(target=lambda: (loop.run_until_complete(run()), loop.run_forever()), daemon=True)
        thread.start()
        assert ready.wait(10)
        servers.append((loop, runner, thread))
        return f"unix://{path}"

    yield start
    for loop, runner, thread in servers:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.parametrize("error", [PermissionError(1, "Operation not permitted"), RuntimeError("the spawner exited")],
                         ids=["PermissionError", "RuntimeError"])
def test_an_exec_start_failure_after_the_upgrade_is_written_on_the_stream(serve, error):
    client = docker.APIClient(base_url=serve(StandInEngine(error)), version="1.41", timeout=10)
    output = client.exec_start("e" * 64, stream=False, demux=False)
    assert str(error) in output.decode(), output
    client.close()
