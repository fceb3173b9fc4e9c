"""nbdock.kernel.saferoot against a hostile tree on the real kernel: what each purpose opens, and what it refuses.

The tree (``root/``) holds the tricks images and archives play -- absolute
links, ``../..`` chains, a link to the host's own path -- and a secret
lies *outside* it.  No test may ever read the secret through the module;
each also shows what the kernel does with the same path under another
purpose, since the purposes differ exactly there.
"""

from __future__ import annotations

import ast
import errno
import os
from pathlib import Path

import pytest

from nbdock.kernel import saferoot
from nbdock.kernel.saferoot import Purpose

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path):
    """root/ (the untrusted tree) and outside/secret (what it must never reach)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside")
    (root / "outside").mkdir()
    (root / "outside" / "secret").write_text("inside decoy")
    os.symlink("/", root / "abs")  # an absolute link to "/"
    os.symlink("/etc", root / "abs_etc")
    os.symlink("../../../../../../..", root / "up")  # a ../.. chain climbing far above the root
    os.symlink("../outside", root / "up_outside")  # relative, one level out: the host's outside/
    os.symlink(str(outside), root / "host")  # the host's own absolute path of outside/
    os.symlink("etc/passwd", root / "passwd_link")
    os.symlink("hop2", root / "hop1")  # a chain of links ending in an absolute one
    os.symlink("up/abs_etc", root / "hop2")
    os.symlink("loop", root / "loop")
    return root, outside


def read(root, path, purpose) -> str:
    fd = saferoot.open_in_root(str(root), path, os.O_RDONLY, purpose)
    with os.fdopen(fd) as f:
        return f.read()


def refused(root, path, purpose, flags=os.O_RDONLY) -> int:
    with pytest.raises(OSError) as caught:
        os.close(saferoot.open_in_root(str(root), path, flags, purpose))
    return caught.value.errno


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# --- READ: as the tree's own processes would see it ---------------------------------------------------


@pytest.mark.parametrize("path", ["etc/passwd", "/etc/passwd", "../../etc/passwd", "abs/etc/passwd",
                                  "abs_etc/passwd", "up/etc/passwd", "hop1/passwd", "passwd_link"])
def test_read_follows_links_but_stays_inside(tree, path):
    root, _ = tree
    assert read(root, path, Purpose.READ) == "inside"


def test_read_of_a_link_out_finds_the_tree_own_file_not_the_host_one(tree):
    root, _ = tree
    assert read(root, "up_outside/secret", Purpose.READ) == "inside decoy"
    # The host's absolute path means a path *inside* the tree, where nothing is.
    assert refused(root, "host/secret", Purpose.READ) == errno.ENOENT
    assert read(root, "../outside/secret", Purpose.READ) == "inside decoy"


def test_read_of_a_symlink_loop_fails(tree):
    root, _ = tree
    assert refused(root, "loop", Purpose.READ) == errno.ELOOP


# --- RESOLVED: a path expanded already; a link met now is a race --------------------------------------


def test_resolved_opens_a_link_free_path(tree):
    root, _ = tree
    assert read(root, "etc/passwd", Purpose.RESOLVED) == "inside"


@pytest.mark.parametrize("path", ["abs_etc/passwd", "passwd_link", "up/etc/passwd", "host/secret", "hop1/passwd"])
def test_resolved_refuses_every_link(tree, path):
    root, _ = tree
    error = refused(root, path, Purpose.RESOLVED)
    assert error == errno.ELOOP
    assert saferoot.is_refused(OSError(error, ""))


def test_resolved_still_reads_dotdot_as_the_root_does(tree):
    root, _ = tree
    assert read(root, "../etc/passwd", Purpose.RESOLVED) == "inside"


# --- EXTRACT: an archive's paths; climbing out is an attack -------------------------------------------


def test_extract_opens_a_plain_path(tree):
    root, _ = tree
    assert read(root, "etc/passwd", Purpose.EXTRACT) == "inside"


@pytest.mark.parametrize("path,error", [
    ("../etc/passwd", errno.EXDEV),  # READ and RESOLVED clamp this; EXTRACT refuses
    ("/etc/passwd", errno.EXDEV),
    ("etc/../../outside/secret", errno.EXDEV),
    ("abs_etc/passwd", errno.ELOOP),
    ("up_outside/secret", errno.ELOOP),
    ("host/secret", errno.ELOOP),
    ("passwd_link", errno.ELOOP),
])
def test_extract_refuses_climbs_and_links(tree, path, error):
    root, _ = tree
    assert refused(root, path, Purpose.EXTRACT) == error


# --- magic links: a tree that holds a procfs ----------------------------------------------------------


@pytest.mark.parametrize("purpose", list(Purpose))
def test_magic_links_of_a_procfs_in_the_tree_are_refused(tree, purpose):
    """A container's root holds a procfs: /proc/self/root and /proc/self/fd/N jump past any root.

    The tree here *is* a procfs directory (this process's /proc/self): the
    same path opened with a plain openat reaches the secret outside, and
    with every purpose it is refused.
    """
    _, outside = tree
    outside_fd = os.open(outside, os.O_PATH | os.O_DIRECTORY)
    procself = os.open("/proc/self", os.O_PATH | os.O_DIRECTORY)
    try:
        for path in (f"fd/{outside_fd}/secret", f"root{outside}/secret"):
            with os.fdopen(os.open(path, os.O_RDONLY, dir_fd=procself)) as f:
                assert f.read() == "host secret"  # the trick is real: a plain openat follows the magic link
            with pytest.raises(OSError) as caught:
                os.close(saferoot.open_in_root(procself, path, os.O_RDONLY, purpose))
            assert saferoot.is_refused(caught.value), (path, caught.value)
    finally:
        os.close(procself)
        os.close(outside_fd)


def test_every_purpose_refuses_magic_links_explicitly():
    """IN_ROOT and BENEATH refuse magic links today only by the kernel's current choice (openat2(2))."""
    from nbdock.kernel import libc

    for purpose in Purpose:
        assert purpose.value & libc.RESOLVE_NO_MAGICLINKS, purpose


# --- open_parent_in_root ------------------------------------------------------------------------------


def test_open_parent_gives_the_directory_and_the_unfollowed_last_name(tree):
    root, _ = tree
    fd, name = saferoot.open_parent_in_root(str(root), "passwd_link", Purpose.READ)
    try:
        assert name == "passwd_link"
        assert os.readlink(name, dir_fd=fd) == "etc/passwd"  # the last component is not followed
    finally:
        os.close(fd)
    fd, name = saferoot.open_parent_in_root(str(root), "/abs_etc/passwd/", Purpose.READ)
    try:
        assert name == "passwd"
        assert os.fstat(fd).st_ino == os.stat(root / "etc").st_ino  # the tree's etc, through the link
    finally:
        os.close(fd)


def test_open_parent_of_the_root_itself(tree):
    root, _ = tree
    fd, name = saferoot.open_parent_in_root(str(root), "", Purpose.READ)
    try:
        assert name == ""
        assert os.fstat(fd).st_ino == os.stat(root).st_ino
    finally:
        os.close(fd)


def test_open_parent_refuses_a_last_dotdot(tree):
    root, _ = tree
    with pytest.raises(OSError) as caught:
        saferoot.open_parent_in_root(str(root), "etc/..", Purpose.READ)
    assert caught.value.errno == errno.EINVAL


def test_open_parent_by_extract_refuses_a_linked_parent(tree):
    root, _ = tree
    with pytest.raises(OSError) as caught:
        saferoot.open_parent_in_root(str(root), "abs_etc/passwd", Purpose.EXTRACT)
    assert caught.value.errno == errno.ELOOP


# --- make_dirs_in_root --------------------------------------------------------------------------------


def test_make_dirs_makes_what_is_missing_and_keeps_what_is_there(tree):
    root, _ = tree
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        (root / "etc" / "keep").write_text("kept")
        saferoot.make_dirs_in_root(root_fd, "etc/a/b/c", Purpose.EXTRACT)
        saferoot.make_dirs_in_root(root_fd, "etc/a/b/c", Purpose.EXTRACT)  # again: nothing to do
        saferoot.make_dirs_in_root(root_fd, "", Purpose.EXTRACT)
    finally:
        os.close(root_fd)
    assert (root / "etc" / "a" / "b" / "c").is_dir()
    assert (root / "etc" / "keep").read_text() == "kept"


@pytest.mark.parametrize("purpose", [Purpose.RESOLVED, Purpose.EXTRACT])
@pytest.mark.parametrize("path", ["abs_etc/new/deeper", "up_outside/new", "host/new", "up/new"])
def test_make_dirs_never_creates_through_a_link(tree, purpose, path):
    root, outside = tree
    before_outside = sorted(os.listdir(outside))
    before_etc = sorted(os.listdir(root / "etc"))
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as caught:
            saferoot.make_dirs_in_root(root_fd, path, purpose)
    finally:
        os.close(root_fd)
    assert saferoot.is_refused(caught.value)
    assert sorted(os.listdir(outside)) == before_outside
    assert sorted(os.listdir(root / "etc")) == before_etc
    assert not (root / "outside" / "new").exists()


def test_make_dirs_for_read_follows_the_link_inside(tree):
    root, outside = tree
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        saferoot.make_dirs_in_root(root_fd, "abs_etc/new", Purpose.READ)
        saferoot.make_dirs_in_root(root_fd, "up_outside/new", Purpose.READ)
    finally:
        os.close(root_fd)
    assert (root / "etc" / "new").is_dir()
    assert (root / "outside" / "new").is_dir()
    assert not (outside / "new").exists()


def test_make_dirs_through_a_file_fails_as_not_a_directory(tree):
    root, _ = tree
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as caught:
            saferoot.make_dirs_in_root(root_fd, "etc/passwd/x/y", Purpose.EXTRACT)
    finally:
        os.close(root_fd)
    assert caught.value.errno == errno.ENOTDIR


# --- resolve_in_root ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path,resolved", [
    ("/etc/passwd", "etc/passwd"),
    ("abs_etc/passwd", "etc/passwd"),
    ("hop1/passwd", "etc/passwd"),
    ("up/etc/missing/x", "etc/missing/x"),  # what does not exist is kept, to be made
    ("../../abs/../etc", "etc"),
    ("up_outside/secret", "outside/secret"),
    ("/", ""),
])
def test_resolve_in_root_reads_links_as_the_root_does(tree, path, resolved):
    root, _ = tree
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert saferoot.resolve_in_root(root_fd, path) == resolved
    finally:
        os.close(root_fd)


def test_resolve_in_root_keeps_the_host_path_of_a_link_inside(tree):
    root, outside = tree
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert saferoot.resolve_in_root(root_fd, "host/secret") == str(outside).lstrip("/") + "/secret"
        with pytest.raises(OSError) as caught:
            saferoot.resolve_in_root(root_fd, "loop/x")
        assert caught.value.errno == errno.ELOOP
    finally:
        os.close(root_fd)


# --- nothing left behind, and the module's place in the house -----------------------------------------


def test_no_descriptor_is_left_open_after_a_refusal_or_a_success(tree):
    root, _ = tree
    before = open_fds()
    for _ in range(20):
        refused(root, "abs_etc/passwd", Purpose.EXTRACT)
        refused(root, "no/such/file", Purpose.READ)
        read(root, "etc/passwd", Purpose.READ)
    assert open_fds() == before


def test_a_missing_root_is_named_in_the_error(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        saferoot.open_in_root(str(tmp_path / "nowhere"), "x", os.O_RDONLY, Purpose.READ)
    assert caught.value.filename == str(tmp_path / "nowhere")


def test_the_kernel_package_imports_nothing_above_it():
    """nbdock.kernel is the floor: the runtime, the image store and the builder stand on it, never the reverse."""
    for path in sorted((REPO / "nbdock" / "kernel").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level == 1 or not module.startswith("nbdock"), (path.name, module)
                assert node.level <= 1, (path.name, module)
            elif isinstance(node, ast.Import):
                assert not any(alias.name.startswith("nbdock") for alias in node.names), path.name


def test_the_image_package_does_not_import_the_runtime():
    """The image store reads and writes layers; the runtime runs containers on them (one way only)."""
    for path in sorted((REPO / "nbdock" / "image").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not module.startswith(("..runtime", "nbdock.runtime")), (path.name, module)
