"""Layer tars from directories, and a container's changes read from a real overlay upper directory."""

import hashlib
import io
import os
import stat
import tarfile

import pytest

from nbdock.image import layers, tarsafe
from nbdock.image.store import EMPTY_LAYER_DIFF_ID

DOCKER_EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def tar_of(write, root) -> bytes:
    out = io.BytesIO()
    write(str(root), out)
    return out.getvalue()


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def make_tree(root):
    (root / "b").mkdir(parents=True)
    (root / "b" / "file").write_text("content")
    (root / "a").write_text("first")
    os.link(root / "a", root / "b" / "hard")
    os.symlink("a", root / "c")


def test_empty_layer_has_dockers_empty_diff_id(tmp_path):
    data = tar_of(layers.write_layer_tar, tmp_path)
    assert "sha256:" + hashlib.sha256(data).hexdigest() == DOCKER_EMPTY_LAYER == EMPTY_LAYER_DIFF_ID


@pytest.mark.root
def test_tar_is_sorted_numeric_and_hard_links_stay_links(tmp_path):
    make_tree(tmp_path)
    os.chown(tmp_path / "a", 1234, 4321)
    found = members(tar_of(layers.write_tar, tmp_path))
    assert [m.name for m in found] == ["a", "b", "b/file", "b/hard", "c"]
    first = found[0]
    assert (first.uid, first.gid, first.uname, first.gname) == (1234, 4321, "", "")
    assert found[3].islnk() and found[3].linkname == "a"
    assert found[4].issym() and found[4].linkname == "a"


def test_same_tree_gives_same_bytes(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        make_tree(root)
    for root in (one, two):  # same content, same times: the access times may differ, the tar may not
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                os.utime(os.path.join(dirpath, name), (12345 if root == one else 999, 1_700_000_000), follow_symlinks=False)
    assert tar_of(layers.write_layer_tar, one) == tar_of(layers.write_layer_tar, two)


@pytest.mark.root
def test_whiteouts_and_opaque_dirs_become_wh_members_and_back(tmp_path):
    upper = tmp_path / "upper"
    (upper / "d").mkdir(parents=True)
    (upper / "d" / "new").write_text("n")
    os.setxattr(upper / "d", tarsafe.OPAQUE_XATTR, b"y")
    (upper / "etc").mkdir()
    os.mknod(upper / "etc" / "group", stat.S_IFCHR, os.makedev(0, 0))
    data = tar_of(layers.write_layer_tar, upper)
    names = [m.name for m in members(data)]
    assert names == ["d", "d/.wh..wh..opq", "d/new", "etc", "etc/.wh.group"]
    unpacked = tmp_path / "unpacked"
    tarsafe.extract_to_new_dir(io.BytesIO(data), str(unpacked), whiteouts=True)
    assert layers.is_opaque(str(unpacked / "d"))
    assert layers.is_whiteout(os.lstat(unpacked / "etc" / "group"))
    # ... and the unpacked form writes the very same tar again.
    assert tar_of(layers.write_layer_tar, unpacked) == data


def test_content_size_counts_files_once_and_symlink_targets(tmp_path):
    make_tree(tmp_path)
    assert layers.content_size(str(tmp_path)) == len("first") + len("content") + len("a")


@pytest.mark.root
def test_changes_from_a_real_overlay_upper_dir(tmp_path, mount_overlay):
    """Do what a container does in a real overlay mount, then read docker diff's answer."""
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    for path, content in [("bin/ls", "ls"), ("bin/cat", "cat"), ("etc/passwd", "root"), ("d/old", "o"),
                          ("d/sub/deep", "x"), ("home/user/file", "f"), ("tmp/.keep", ""), ("unchanged/file", "u")]:
        (bottom / path).parent.mkdir(parents=True, exist_ok=True)
        (bottom / path).write_text(content)
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "hosts").write_text("h")
    with mount_overlay([str(top), str(bottom)]) as (merged, upper):
        os.unlink(os.path.join(merged, "bin/ls"))
        with open(os.path.join(merged, "etc/passwd"), "a") as f:
            f.write("\nnobody")
        with open(os.path.join(merged, "tmp/new"), "w") as f:
            f.write("new")
        for name in ("old", "sub/deep", "sub"):
            path = os.path.join(merged, "d", name)
            os.rmdir(path) if name == "sub" else os.unlink(path)
        os.rmdir(os.path.join(merged, "d"))
        os.makedirs(os.path.join(merged, "d"))  # deleted and made again: overlay makes it opaque
        with open(os.path.join(merged, "d/z"), "w") as f:
            f.write("z")
        os.makedirs(os.path.join(merged, "newdir/sub"))
        open(os.path.join(merged, "newdir/sub/f"), "w").close()
        for name in ("file", ""):
            path = os.path.join(merged, "home/user", name)
            os.rmdir(path) if not name else os.unlink(path)
        os.utime(os.path.join(merged, "unchanged"))  # a directory's mtime alone is no change
        os.unlink(os.path.join(merged, "etc/hosts"))  # a file of the top lower layer
        assert layers.is_opaque(os.path.join(upper, "d"))
        changes = layers.changes_from_upper(upper, [str(top), str(bottom)])
    assert changes == [
        ("/bin", "C"), ("/bin/ls", "D"),
        ("/d", "C"), ("/d/z", "A"), ("/d/old", "D"), ("/d/sub", "D"),
        ("/etc", "C"), ("/etc/hosts", "D"), ("/etc/passwd", "C"),
        ("/home", "C"), ("/home/user", "D"),
        ("/newdir", "A"), ("/newdir/sub", "A"), ("/newdir/sub/f", "A"),
        ("/tmp", "C"), ("/tmp/new", "A"),
    ]


@pytest.mark.root
def test_lower_view_merges_like_overlayfs(tmp_path, mount_overlay):
    """LowerView's answers equal what a real read-only overlay mount of the same layers shows."""
    low, mid, high = tmp_path / "low", tmp_path / "mid", tmp_path / "high"
    for path in ["a/x", "a/y", "b/x", "c", "e/inner"]:
        (low / path).parent.mkdir(parents=True, exist_ok=True)
        (low / path).write_text(path)
    (mid / "a").mkdir(parents=True)
    (mid / "a" / "z").write_text("z")
    os.mknod(mid / "a" / "y", stat.S_IFCHR, 0)
    (mid / "b").mkdir()
    os.setxattr(mid / "b", tarsafe.OPAQUE_XATTR, b"y")
    (mid / "b" / "only").write_text("only")
    os.mknod(mid / "c", stat.S_IFCHR, 0)
    high.mkdir()
    (high / "e").write_text("a file hides the directory below")
    lowerdirs = [str(high), str(mid), str(low)]
    view = layers.LowerView(lowerdirs)
    with mount_overlay(lowerdirs, upper=False) as (merged, _):
        for rel in ["a", "b", ""]:
            assert view.children(rel) == sorted(os.listdir(os.path.join(merged, rel)))
        for rel in ["a/x", "a/y", "a/z", "b/x", "b/only", "c", "e", "e/inner"]:
            assert (view.lookup(rel) is not None) == os.path.lexists(os.path.join(merged, rel)), rel


@pytest.mark.parametrize("fields", [
    {"type": tarfile.REGTYPE, "size": 5, "mode": 0o4755, "uid": 1000, "gid": 50, "mtime": 1_700_000_000},
    {"type": tarfile.DIRTYPE, "mode": 0o1777},
    {"type": tarfile.SYMTYPE, "linkname": "/bin/busybox"},
    {"type": tarfile.LNKTYPE, "linkname": "a/b"},
    {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3},
    {"type": tarfile.FIFOTYPE},
])
def test_fast_headers_equal_tarfiles(fields):
    info = tarfile.TarInfo("some/name")
    info.uname = info.gname = ""
    for key, value in fields.items():
        setattr(info, key, value)
    assert layers.ustar_header(info) == info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


@pytest.mark.parametrize("name", ["x" * 101, "caf\u00e9", "big-uid"])
def test_headers_needing_pax_fall_back_to_tarfile(name):
    info = tarfile.TarInfo(name)
    if name == "big-uid":
        info.uid = 8**7
    assert layers.ustar_header(info) is None
