"""COPY/ADD/WORKDIR without a daemon: path resolution inside a tree, sources and their checksums, and the
plan of the layer a step writes.  Trees are built in temporary directories; nothing is mounted."""

import gzip
import io
import os
import stat
import tarfile

import pytest

from nbdock.builder.copy import ROOT, LayerPlan, is_tar_archive, normalize_dest, parse_chown, plan_sources
from nbdock.builder.rootview import RootView, escapes_root
from nbdock.builder.sources import SourceTree, combined_checksum, has_wildcards
from nbdock.errors import InvalidArgument


def make_tree(root, files=(), dirs=(), links=()):
    for path in dirs:
        os.makedirs(root / path, exist_ok=True)
    for path, content in dict(files).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content if isinstance(content, bytes) else content.encode())
    for path, target in dict(links).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / path)
    return RootView([str(root)])


# -- resolving paths inside a tree -------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path):
    return make_tree(tmp_path, files={"srv/real/file": "x"}, links={
        "abs": "/srv/real", "rel": "srv/real", "up": "../../../../srv", "loop": "loop", "chain": "abs/file",
        "out": "/etc/passwd", "srv/real/back": "..",
    })


@pytest.mark.parametrize("path, resolved", [
    ("abs/file", "srv/real/file"),  # an absolute target starts again at the tree's root
    ("rel/file", "srv/real/file"),
    ("up/real", "srv/real"),  # ".." stops at the root
    ("chain", "srv/real/file"),
    ("out", "etc/passwd"),  # a link to the host's file means the tree's own one (missing here)
    ("srv/real/back/real/file", "srv/real/file"),
    ("abs/../x", "x"),  # ".." is applied before any link is read, as in Docker
    ("missing/deeper", "missing/deeper"),
    ("", ""),
])
def test_resolve_follows_links_without_leaving_the_tree(linked, path, resolved):
    assert linked.resolve(path) == resolved


def test_resolve_refuses_a_link_loop(linked):
    with pytest.raises(InvalidArgument, match="too many links"):
        linked.resolve("loop/x")


def test_open_never_goes_through_a_link(linked):
    with linked.open("srv/real/file") as file:
        assert file.read() == b"x"
    with pytest.raises(FileNotFoundError):
        linked.open("abs/file")  # callers resolve paths first; the view itself never follows a link


def test_layers_merge_top_most_first(tmp_path):
    lower = make_tree(tmp_path / "lower", files={"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "a": "lower"})
    upper = make_tree(tmp_path / "upper", files={"a": "upper"}, dirs=["etc"])
    merged = RootView(upper.layers.lowerdirs + lower.layers.lowerdirs)
    assert merged.open("a").read() == b"upper"
    assert merged.open("etc/passwd").read().startswith(b"root")
    assert merged.children("") == ["a", "etc"]


@pytest.mark.parametrize("path, escapes", [("../x", True), ("a/../../x", True), ("a/../x", False), ("/x", False)])
def test_escapes_root(path, escapes):
    assert escapes_root(path) is escapes


# -- sources ---------------------------------------------------------------------------------------------------


@pytest.fixture
def context(tmp_path):
    view = make_tree(tmp_path / "ctx", files={"a.md": "a", "b.md": "b", "docs/c.md": "c", "x[1].txt": "x"},
                     links={"in": "a.md", "out": "/etc/passwd"})
    return SourceTree(view, is_context=True, headers_from_client_tar=True)


@pytest.mark.parametrize("pattern, found", [
    ("*.md", ["a.md", "b.md"]),  # "*" stops at "/"
    ("*/*.md", ["docs/c.md"]),
    ("[ab].md", ["a.md", "b.md"]),
    ("x\\[1\\].*", ["x[1].txt"]),
    ("/a.md", ["a.md"]),
    ("./docs", ["docs"]),
])
def test_find_sources(context, pattern, found):
    assert [source.path for source in context.find(pattern)] == found


def test_a_link_source_copies_its_target(context):
    (source,) = context.find("in")
    assert (source.path, source.resolved, source.is_dir) == ("in", "a.md", False)
    assert source.checksum == context.find("a.md")[0].checksum


@pytest.mark.parametrize("pattern, message", [
    ("../x", "forbidden path outside the build context: ../x ()"),
    ("missing", "file not found in build context or excluded by .dockerignore: stat missing: file does not exist"),
    ("out", "file not found in build context or excluded by .dockerignore: stat out: file does not exist"),
])
def test_source_errors_are_dockers(context, pattern, message):
    with pytest.raises(InvalidArgument) as error:
        context.find(pattern)
    assert error.value.message == message


def test_a_pattern_matching_nothing_finds_nothing(context):
    assert context.find("*.nomatch") == []
    assert has_wildcards("a*") and not has_wildcards("a\\*b")


@pytest.mark.root
def test_checksums_are_dockers(tmp_path):
    """The values Docker 20.10 records for the same files (`COPY file:... in /app/`, `COPY dir:... in /d`)."""
    view = make_tree(tmp_path, files={"hello.txt": "hello\n", "d/sub/x": "x\n"}, links={"d/link": "../hello.txt"})
    for path in ("hello.txt", "d", "d/sub", "d/sub/x"):
        os.chmod(tmp_path / path, 0o755 if os.path.isdir(tmp_path / path) else 0o644)
    context = SourceTree(view, is_context=True, headers_from_client_tar=True)
    assert context.find("hello.txt")[0].checksum == "file:c50ecf0f8081044924e199cfe6cfd18d0c9dd4d16be07790bb24f7088112b98e"
    assert context.find("d")[0].checksum == "dir:0aa6cdb10bae848c9414ebc48377a87a55c40de69d051ca74b64ac57ef5d75d0"
    sources = context.find("hello.txt") + context.find("d")
    assert combined_checksum(sources).startswith("multi:")


def test_checksums_ignore_time_but_not_content_or_mode(tmp_path):
    view = make_tree(tmp_path, files={"f": "one"})
    tree = lambda: SourceTree(view, is_context=True, headers_from_client_tar=True)  # noqa: E731 - fresh memo
    first = tree().find("f")[0].checksum
    os.utime(tmp_path / "f", (1, 1))
    assert tree().find("f")[0].checksum == first
    os.chmod(tmp_path / "f", 0o600)
    assert tree().find("f")[0].checksum != first
    (tmp_path / "f").write_text("two")
    assert tree().find("f")[0].checksum != first


# -- planning a layer -----------------------------------------------------------------------------------------


@pytest.fixture
def image(tmp_path):
    view = make_tree(tmp_path / "image", files={"etc/passwd": "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/:/bin/sh\n",
                                                "etc/group": "root:x:0:\nweb:x:44:\n", "srv/real/old": "o"},
                     dirs=["tmp", "app"], links={"linkdir": "/srv/real", "linkfile": "/srv/real/target"})
    os.chmod(tmp_path / "image" / "tmp", 0o1777)
    return view


def planned(plan):
    return {path: (entry.kind, oct(entry.mode), entry.uid, entry.gid) for path, entry in plan.entries.items()}


def copy(image, source_tree, pattern, dest, owner=ROOT, workdir=""):
    plan = LayerPlan(image)
    plan_sources(plan, source_tree.find(pattern), normalize_dest(workdir, dest), owner)
    return plan


@pytest.fixture
def files(tmp_path):
    view = make_tree(tmp_path / "ctx", files={"f.txt": "f", "dd/e/y": "y"}, links={"dd/l": "e"})
    os.chmod(tmp_path / "ctx" / "f.txt", 0o640)
    os.chmod(tmp_path / "ctx" / "dd", 0o700)
    os.link(tmp_path / "ctx" / "dd" / "e" / "y", tmp_path / "ctx" / "dd" / "hard")
    return SourceTree(view, is_context=True, headers_from_client_tar=True)


def test_a_file_into_a_linked_directory_lands_in_its_target(image, files):
    plan = copy(image, files, "f.txt", "/linkdir/")
    assert list(plan.entries) == ["srv", "srv/real", "srv/real/f.txt"]  # parents copied up first
    assert planned(plan)["srv/real/f.txt"] == ("file", "0o640", 0, 0)


def test_a_file_onto_a_link_to_a_file_replaces_the_target(image, files):
    assert "srv/real/target" in copy(image, files, "f.txt", "/linkfile").entries


def test_a_file_to_an_existing_directory_goes_into_it(image, files):
    assert "app/f.txt" in copy(image, files, "f.txt", "/app").entries
    assert "new" in copy(image, files, "f.txt", "/new").entries  # no slash, not a directory: the file itself
    assert "w/sub/f.txt" in copy(image, files, "f.txt", "sub/", workdir="/w").entries


def test_new_parents_belong_to_the_chown_user(image, files):
    entries = planned(copy(image, files, "f.txt", "/new/deep/", owner=(7, 8)))
    assert entries == {"new": ("dir", "0o755", 7, 8), "new/deep": ("dir", "0o755", 7, 8),
                       "new/deep/f.txt": ("file", "0o640", 7, 8)}


def test_a_directory_copies_its_contents_links_and_hard_links(image, files):
    plan = copy(image, files, "dd", "/dd/", owner=(7, 8))
    entries = planned(plan)
    assert entries["dd"] == ("dir", "0o755", 7, 8)  # created for the copy: 0755, the chown user's
    assert entries["dd/e"][0] == "dir" and entries["dd/l"][0] == "symlink"
    assert plan.entries["dd/l"].linkname == "e"
    kinds = {plan.entries["dd/e/y"].kind, plan.entries["dd/hard"].kind}
    assert kinds == {"file", "hardlink"}


def test_a_directory_onto_an_existing_one_keeps_its_mode(image, files):
    entries = planned(copy(image, files, "dd", "/tmp"))
    assert entries["tmp"] == ("dir", "0o1777", os.getuid(), os.getgid())  # copied up as it was


def test_copying_under_a_file_is_refused(image, files):
    with pytest.raises(InvalidArgument, match="mkdir /etc/passwd: not a directory"):
        copy(image, files, "f.txt", "/etc/passwd/x")


def test_a_planned_file_hides_what_the_image_has_below(image, tmp_path):
    replacing = SourceTree(make_tree(tmp_path / "other", files={"real": "now a file"}), is_context=True,
                           headers_from_client_tar=True)
    plan = LayerPlan(image)
    plan_sources(plan, replacing.find("."), "/srv", ROOT)
    assert plan.kind("srv/real") == "file" and plan.kind("srv/real/old") is None


def test_a_second_source_sees_the_first(image, files):
    plan = LayerPlan(image)
    plan_sources(plan, files.find("dd") + files.find("f.txt"), "/out/", ROOT)
    assert {"out/e/y", "out/f.txt"} <= set(plan.entries)


@pytest.mark.root
def test_write_creates_the_planned_layer(image, files, tmp_path):
    plan = copy(image, files, "dd", "/linkdir/copied/", owner=(7, 8))
    layer = tmp_path / "layer"
    layer.mkdir()
    plan.write(str(layer))
    copied = layer / "srv" / "real" / "copied"
    assert (copied / "e" / "y").read_text() == "y"
    assert os.readlink(copied / "l") == "e"
    assert os.stat(copied / "hard").st_ino == os.stat(copied / "e" / "y").st_ino
    assert (os.stat(copied).st_uid, os.stat(copied).st_gid) == (7, 8)
    assert stat.S_IMODE(os.stat(layer / "srv").st_mode) == stat.S_IMODE(os.stat(image.layers.lowerdirs[0] + "/srv").st_mode)


# -- --chown and archives -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, ids", [("7:8", (7, 8)), ("7", (7, 7)), ("www:web", (33, 44)), ("www:0", (33, 0))])
def test_parse_chown(image, spec, ids):
    assert parse_chown(spec, image) == ids


@pytest.mark.parametrize("spec, message", [
    ("www", "can't find gid for group www: no such group: www"),  # no group: the user's name is used for it
    ("nobody:web", "can't find uid for user nobody: no such user: nobody"),
    ("a:b:c", "invalid chown string format: a:b:c"),
])
def test_parse_chown_errors(image, spec, message):
    with pytest.raises(InvalidArgument) as error:
        parse_chown(spec, image)
    assert error.value.message.endswith(message)


def test_archives_are_recognized_by_their_content(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("pkg/file.txt")
        info.size = 6
        archive.addfile(info, io.BytesIO(b"inside"))
    view = make_tree(tmp_path, files={"plain.tar": buffer.getvalue(), "packed.txt": gzip.compress(buffer.getvalue()),
                                      "text.tar.gz": "not an archive", "empty.tar": b"\0" * 1024})
    assert is_tar_archive(view, "plain.tar") and is_tar_archive(view, "packed.txt")
    assert not is_tar_archive(view, "text.tar.gz") and not is_tar_archive(view, "empty.tar")
