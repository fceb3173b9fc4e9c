"""The layer explorer's file preview (GET /nbdock/v1/images/{name}/layers/{diff_id}/file) in a hostile layer.

A layer comes from an untrusted image: the preview reads its files as the
image itself would see them and never follows a link out to the host.
These call the route's reader on a layer directory made here (no daemon).
"""

from __future__ import annotations

import os
import stat

import pytest

from nbdock.engine.teaching import _read_in_layer
from nbdock.errors import NotFound


@pytest.fixture
def layer(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    layer = tmp_path / "diff"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc" / "motd").write_text("hello\n")
    os.symlink(str(outside), layer / "host")  # the host's own path
    os.symlink("../../../outside", layer / "up")  # a ../.. chain
    os.symlink("/etc/motd", layer / "motd_link")
    return str(layer)


def test_a_file_is_shown_with_its_content(layer):
    content, st, target = _read_in_layer(layer, "/etc/motd")
    assert (content, target) == (b"hello\n", None)
    assert stat.S_ISREG(st.st_mode)


def test_a_symlink_is_shown_as_a_link_not_followed(layer):
    content, st, target = _read_in_layer(layer, "motd_link")
    assert (content, target) == (b"", "/etc/motd")
    assert stat.S_ISLNK(st.st_mode)


def test_a_directory_in_the_path_through_an_absolute_link_stays_in_the_layer(layer):
    os.symlink("/etc", os.path.join(layer, "etc_link"))
    assert _read_in_layer(layer, "etc_link/motd")[0] == b"hello\n"


@pytest.mark.parametrize("path", ["host/secret", "up/secret", "../outside/secret", "/../../outside/secret"])
def test_links_and_dotdot_out_of_the_layer_find_nothing(layer, path):
    with pytest.raises(NotFound):
        _read_in_layer(layer, path)


def test_the_root_of_the_layer_is_a_directory(layer):
    content, st, target = _read_in_layer(layer, "")
    assert stat.S_ISDIR(st.st_mode) and content == b"" and target is None
