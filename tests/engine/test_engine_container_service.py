"""The container service wired with fakes: it is given its collaborators (engine.py wires the real ones),
so the parts of a container's life that need no kernel can be checked without root or a daemon.

The real collaborators -- the spawner, cgroups, networks -- are exercised by tests/daemon.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from nbdock.engine.containers import Container, ContainerService
from nbdock.engine.records import ContainerRecord, State
from nbdock.errors import NotFound


class FakeEvents:
    def __init__(self):
        self.published = []

    def publish(self, kind, action, actor_id, attributes):
        self.published.append((kind, action, actor_id, attributes))


class EmptyImageStore:
    def get(self, ref):
        raise NotFound(f"No such image: {ref}")


class FakeVolumes:
    def __init__(self):
        self.removed = []

    def remove(self, name, users):
        self.removed.append((name, users))


class Engine:
    """What engine.py gives the service, each part a fake; ``stopping`` is the engine's shutdown flag."""

    def __init__(self, root):
        self.root = str(root)
        self.events = FakeEvents()
        self.volumes = FakeVolumes()
        self.stopping = False
        self.containers = ContainerService(
            self.root, image_store=EmptyImageStore(), volumes=self.volumes, networks=None, events=self.events,
            spawner=None, remap=None, probe_launcher=lambda container: None, shutting_down=lambda: self.stopping)


def record(cid: str, name: str, **host) -> ContainerRecord:
    return ContainerRecord(Id=cid, Name="/" + name, Created="2026-01-01T00:00:00Z", Image="sha256:x",
                           ImageName="busybox", Path="sleep", Args=["60"], Config={"Labels": {"tier": "web"}},
                           HostConfig=host)


def test_create_from_an_image_the_store_lacks_is_docker_not_found(tmp_path):
    engine = Engine(tmp_path)
    with pytest.raises(NotFound, match=r"^No such image: nothing:latest$"):  # the words that make clients pull
        asyncio.run(engine.containers.create({"Image": "nothing"}, name="web"))
    assert engine.containers.all() == [] and engine.events.published == []
    with pytest.raises(NotFound, match=r"^No such image: nothing:1\.0$"):
        asyncio.run(engine.containers.create({"Image": "nothing:1.0"}))


def test_events_go_to_the_publisher_it_was_given(tmp_path):
    engine = Engine(tmp_path)
    engine.containers.publish(record("a" * 64, "web"), "kill", signal="15")
    assert engine.events.published == [
        ("container", "kill", "a" * 64, {"image": "busybox", "name": "web", "tier": "web", "signal": "15"})]


def test_no_restart_policy_applies_while_the_engine_shuts_down(tmp_path):
    engine = Engine(tmp_path)
    container = Container(record("a" * 64, "web", RestartPolicy={"Name": "always"}))
    assert engine.containers._should_restart(container, 0)
    engine.stopping = True  # asked at each exit, not when the service was made
    assert not engine.containers._should_restart(container, 0)


def test_restore_ends_what_the_last_daemon_ran_and_removes_its_rm_containers(tmp_path):
    engine = Engine(tmp_path)
    kept = record("a" * 64, "kept")
    gone = record("b" * 64, "gone", AutoRemove=True)
    gone.MountPoints = [{"Name": "anon", "Anonymous": True}, {"Name": "named", "Anonymous": False}]
    for each in (kept, gone):
        each.State = State(Status="running", Running=True, Pid=42, StartedAt="2026-01-01T00:00:01Z")
        os.makedirs(each.directory(engine.root))
        each.save(engine.root)
    restored = engine.containers.restore()
    assert [c.record.name for c in restored] == ["kept"]
    state = engine.containers.get("kept").record.State
    assert (state.Status, state.Running, state.ExitCode) == ("exited", False, 255)
    assert not os.path.exists(gone.directory(engine.root))
    assert engine.volumes.removed == [("anon", [])]  # the --rm container's anonymous volume, through the store given
