"""Fixtures of the network tests (the helpers they use are in network_helpers.py)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # --import-mode=importlib adds no test directory to sys.path

from network_helpers import FakeUpstream, Namespace  # noqa: E402


@pytest.fixture
def namespaces():
    """Make namespaces with ``namespaces()``; all are killed at the end of the test."""
    made: list[Namespace] = []

    def make() -> Namespace:
        ns = Namespace()
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.kill()


@pytest.fixture(scope="module")
def fake_upstream():
    upstream = FakeUpstream()
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def host_resolv_conf(tmp_path_factory, fake_upstream):
    """A resolv.conf naming only the fake upstream: the embedded DNS forwards there."""
    path = tmp_path_factory.mktemp("etc") / "resolv.conf"
    path.write_text(f"search nbdock-test.invalid\nnameserver {fake_upstream.address}\n")
    return str(path)
