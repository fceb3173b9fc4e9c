"""The one extraction routine, fed hostile and ordinary archives."""

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile

import pytest
import zstandard

from nbdock.errors import InvalidArgument
from nbdock.image import tarsafe

pytestmark = pytest.mark.root


def extract(data: bytes, dest, **options):
    return tarsafe.extract(io.BytesIO(data), str(dest), **options)


@pytest.fixture
def dest(tmp_path):
    d = tmp_path / "dest"
    d.mkdir()
    return d


@pytest.fixture
def outside(tmp_path):
    """A directory beside the destination that no member may touch."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret").write_text("host secret")
    return d


def test_regular_members_keep_mode_owner_and_time(tb, dest):
    data = tb.make_tar([
        tb.directory("etc", mode=0o750, uid=5, gid=6, mtime=1_000_000),
        tb.file("etc/conf", b"hello", mode=0o4755, uid=1000, gid=1001, mtime=1_234_567),
        tb.symlink("etc/link", "/nowhere/at/all"),
    ])
    report = extract(data, dest)
    conf = os.lstat(dest / "etc/conf")
    assert (dest / "etc/conf").read_bytes() == b"hello"
    assert (stat.S_IMODE(conf.st_mode), conf.st_uid, conf.st_gid, int(conf.st_mtime)) == (0o4755, 1000, 1001, 1_234_567)
    etc = os.lstat(dest / "etc")
    assert (stat.S_IMODE(etc.st_mode), etc.st_uid, int(etc.st_mtime)) == (0o750, 5, 1_000_000)
    assert os.readlink(dest / "etc/link") == "/nowhere/at/all"
    assert report.content_size == 5 + len("/nowhere/at/all")
    assert report.warnings == []


@pytest.mark.parametrize("name, lands_at", [("../escape", "escape"), ("a/../../escape", "escape"),
                                             ("/etc/escape", "etc/escape"), ("./../escape", "escape"),
                                             ("../../../etc/escape", "etc/escape")])
def test_names_climbing_out_land_inside_as_in_a_chroot(tb, dest, name, lands_at):
    """As Docker (which extracts in a chroot of the destination): ``..`` stops at the root."""
    extract(tb.make_tar([tb.file(name, b"x")]), dest)
    assert (dest / lands_at).read_bytes() == b"x"
    assert not (dest.parent / "escape").exists() and not (dest.parent / "etc").exists()


@pytest.mark.parametrize("name, expected", [("a/./b/../c", "a/c"), ("/", ""), ("../..", ""), ("./", ""),
                                            ("x/../../y", "y"), ("//abs//path/", "abs/path")])
def test_name_in_root_reads_names_as_a_chroot_would(name, expected):
    assert tarsafe.name_in_root(name) == expected


def test_a_symlink_is_never_followed_to_write(tb, dest, outside):
    data = tb.make_tar([tb.symlink("evil", str(outside)), tb.file("evil/secret", b"overwritten")])
    with pytest.raises(InvalidArgument, match="symlink"):
        extract(data, dest)
    assert (outside / "secret").read_text() == "host secret"


def test_a_relative_symlink_up_and_out_is_not_followed_either(tb, dest, outside):
    data = tb.make_tar([tb.symlink("up", "../outside"), tb.file("up/new", b"x")])
    with pytest.raises(InvalidArgument, match="symlink"):
        extract(data, dest)
    assert not (outside / "new").exists()


def test_a_file_replacing_a_symlink_replaces_the_link_not_its_target(tb, dest, outside):
    data = tb.make_tar([tb.symlink("secret", str(outside / "secret")), tb.file("secret", b"mine")])
    extract(data, dest)
    assert (dest / "secret").read_bytes() == b"mine" and not os.path.islink(dest / "secret")
    assert (outside / "secret").read_text() == "host secret"


def test_hard_links_pointing_out_are_refused(tb, dest, outside):
    for target in [str(outside / "secret"), "../outside/secret"]:
        with pytest.raises(InvalidArgument, match="outside the destination|hard link"):
            extract(tb.make_tar([tb.hardlink("steal", target)]), dest)
    assert not (dest / "steal").exists()


def test_a_hard_link_through_a_symlinked_directory_is_refused(tb, dest, outside):
    data = tb.make_tar([tb.symlink("via", str(outside)), tb.hardlink("steal", "via/secret")])
    with pytest.raises(InvalidArgument, match="symlink"):
        extract(data, dest)
    assert os.stat(outside / "secret").st_nlink == 1


def test_hard_links_inside_the_archive_work(tb, dest):
    extract(tb.make_tar([tb.file("a", b"same"), tb.hardlink("b", "a")]), dest)
    assert os.stat(dest / "a").st_ino == os.stat(dest / "b").st_ino


def test_device_nodes_are_skipped_with_a_message(tb, dest):
    data = tb.make_tar([
        ({"name": "sda", "type": tarfile.BLKTYPE, "devmajor": 8, "devminor": 0}, None),
        ({"name": "mem", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 1}, None),
        ({"name": "pipe", "type": tarfile.FIFOTYPE, "mode": 0o600}, None),
    ])
    report = extract(data, dest)
    assert not (dest / "sda").exists() and not (dest / "mem").exists()
    assert stat.S_ISFIFO(os.lstat(dest / "pipe").st_mode)
    assert len(report.warnings) == 2 and "'sda'" in report.warnings[0] and "device" in report.warnings[0]


def test_whiteouts_become_overlay_form_in_layer_mode(tb, dest):
    data = tb.make_tar([
        tb.directory("d"),
        tb.file("d/.wh..wh..opq"),
        tb.file("d/kept", b"k"),
        tb.file("etc/.wh.group", uid=7, gid=8),
        tb.file(".wh..wh.plnk"),
    ])
    extract(data, dest, whiteouts=True)
    whiteout = os.lstat(dest / "etc/group")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0 and (whiteout.st_uid, whiteout.st_gid) == (7, 8)
    assert os.getxattr(dest / "d", tarsafe.OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(dest)) == ["d", "etc"]  # markers themselves are not written
    assert os.listdir(dest / "d") == ["kept"]


def test_whiteout_names_are_plain_files_outside_layer_mode(tb, dest):
    extract(tb.make_tar([tb.file(".wh.x", b"")]), dest)
    assert os.path.isfile(dest / ".wh.x")


def test_a_whiteout_naming_the_parent_is_refused(tb, dest):
    with pytest.raises(InvalidArgument, match="whiteout"):
        extract(tb.make_tar([tb.file("a/.wh...")]), dest, whiteouts=True)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, zstandard.ZstdCompressor().compress])
def test_compressed_archives_are_recognised_by_their_magic(tb, dest, compress):
    extract(compress(tb.make_tar([tb.file("x", b"payload")])), dest)
    assert (dest / "x").read_bytes() == b"payload"


def test_garbage_and_truncated_archives_are_invalid_arguments(tb, dest):
    with pytest.raises(InvalidArgument):
        extract(b"this is not a tar archive at all" * 40, dest)
    whole = gzip.compress(tb.make_tar([tb.file("x", os.urandom(100_000))]))
    with pytest.raises(InvalidArgument):
        extract(whole[: len(whole) // 2], dest)


def test_directories_merge_and_other_members_replace(tb, dest):
    (dest / "d").mkdir()
    (dest / "d" / "old").write_text("old")
    (dest / "f").mkdir()
    (dest / "f" / "inside").write_text("x")
    extract(tb.make_tar([tb.directory("d"), tb.file("d/new", b"n"), tb.file("f", b"now a file")]), dest)
    assert sorted(os.listdir(dest / "d")) == ["new", "old"]
    assert (dest / "f").read_bytes() == b"now a file"


def test_no_overwrite_dir_non_dir_refuses_like_docker_cp(tb, dest):
    (dest / "d").mkdir()
    with pytest.raises(InvalidArgument, match="cannot overwrite directory 'd'"):
        extract(tb.make_tar([tb.file("d", b"x")]), dest, no_overwrite_dir_non_dir=True)
    assert (dest / "d").is_dir()


def test_owner_override(tb, dest):
    extract(tb.make_tar([tb.file("x", b"1", uid=1000, gid=1000)]), dest, owner=(0, 0))
    assert (os.lstat(dest / "x").st_uid, os.lstat(dest / "x").st_gid) == (0, 0)


def test_missing_parents_are_created(tb, dest):
    extract(tb.make_tar([tb.file("a/b/c/file", b"deep")]), dest)
    assert (dest / "a/b/c/file").read_bytes() == b"deep"


def test_extract_to_new_dir_leaves_nothing_on_failure(tb, tmp_path):
    target = tmp_path / "new"
    with pytest.raises(InvalidArgument):
        tarsafe.extract_to_new_dir(io.BytesIO(tb.make_tar([tb.file("ok", b"1"), tb.hardlink("bad", "../outside")])),
                                   str(target))
    assert not target.exists()


def test_destination_as_a_directory_descriptor(tb, dest):
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tarsafe.extract(io.BytesIO(tb.make_tar([tb.file("via-fd", b"ok")])), fd)
    finally:
        os.close(fd)
    assert (dest / "via-fd").read_bytes() == b"ok"
