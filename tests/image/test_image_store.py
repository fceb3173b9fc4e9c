"""The image store: blobs, layers, overlay lowerdirs, tags, rmi, prune, history."""

import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import stat

import pytest

from nbdock.errors import Conflict, InvalidArgument, NotFound
from nbdock.image import layers
from nbdock.image.store import EMPTY_LAYER_DIFF_ID, chain_ids

pytestmark = pytest.mark.root


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add_layer(store, tb, *members):
    return store.add_layer_from_tar(io.BytesIO(tb.make_tar(list(members))))


def image_config(diff_ids, history=None, **extra):
    return {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
            "created": "2024-01-02T03:04:05.123456789Z",
            "history": history if history is not None else [{"created_by": f"step {i}"} for i in range(len(diff_ids))],
            "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}, **extra}


@pytest.fixture
def two_layer_image(store, tb):
    """base: /bin/sh, /etc/group, /d/{a,b}; top: deletes /etc/group, replaces /d (opaque), adds /new."""
    base = add_layer(store, tb, tb.file("bin/sh", b"#!sh", mode=0o755), tb.file("etc/group", b"root:x:0:"),
                     tb.file("d/a", b"a"), tb.file("d/b", b"b"))
    top = add_layer(store, tb, tb.file("etc/.wh.group"), tb.directory("d"), tb.file("d/.wh..wh..opq"),
                    tb.file("d/c", b"c"), tb.file("new", b"new"))
    image_id = store.create_image(image_config([base.diff_id, top.diff_id]))
    store.tag(image_id, "two:latest")
    return image_id, base, top


# --- blobs ---------------------------------------------------------------------------------------


def test_blobs_are_content_addressed(store):
    digest = store.put_blob(b"hello")
    assert digest == sha(b"hello")
    assert store.has_blob(digest) and store.read_blob(digest) == b"hello"
    assert store.blob_path(digest).endswith("/blobs/sha256/" + digest[7:])


def test_blob_writer_with_wrong_digest_keeps_nothing(store):
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        with store.blob_writer(expected_digest=sha(b"expected")) as w:
            w.write(b"something else")
    assert not store.has_blob(sha(b"something else"))
    with store.blob_writer(expected_digest=sha(b"expected")) as w:
        w.write(b"expected")
    assert (w.digest, w.size) == (sha(b"expected"), 8)


def test_blob_writer_failure_keeps_nothing(store):
    with pytest.raises(RuntimeError):
        with store.blob_writer() as w:
            w.write(b"partial")
            raise RuntimeError("download broke")
    assert not store.has_blob(sha(b"partial"))


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "md5:abc", "sha256:" + "A" * 64])
def test_malformed_digests_are_refused(store, bad):
    with pytest.raises(InvalidArgument):
        store.blob_path(bad)


# --- layers --------------------------------------------------------------------------------------


def test_layer_from_gzip_tar_records_diff_id_and_compressed_digest(store, tb):
    tar = tb.make_tar([tb.file("x", b"12345"), tb.symlink("y", "x")])
    compressed = gzip.compress(tar)
    layer = store.add_layer_from_tar(io.BytesIO(compressed), compressed_digest=sha(compressed))
    assert layer.diff_id == sha(tar)  # the DiffID is the digest of the *uncompressed* tar
    assert layer.size == 5 + 1
    assert open(layer.tar_path, "rb").read() == tar
    assert store._layer_record(layer.diff_id)["compressed"][sha(compressed)]["size"] == len(compressed)


def test_wrong_compressed_digest_is_refused(store, tb):
    with pytest.raises(InvalidArgument, match="layer digest mismatch"):
        store.add_layer_from_tar(io.BytesIO(gzip.compress(tb.make_tar([tb.file("x")]))), compressed_digest=sha(b"no"))
    assert os.listdir(store.layers_dir) == [] and os.listdir(store.blobs_dir) == []


def test_hostile_layer_leaves_nothing(store, tb):
    with pytest.raises(InvalidArgument):
        add_layer(store, tb, tb.file("fine", b"1"), tb.symlink("s", "/etc"), tb.file("s/passwd", b"pwned"))
    assert os.listdir(store.layers_dir) == [] and os.listdir(store.blobs_dir) == [] and os.listdir(store.links_dir) == []


def test_same_layer_twice_is_stored_once(store, tb):
    one = add_layer(store, tb, tb.file("x", b"1"))
    two = add_layer(store, tb, tb.file("x", b"1"))
    assert one == two and len(os.listdir(store.layers_dir)) == 1


def test_concurrent_adds_of_one_layer(store, tb):
    data = tb.make_tar([tb.file(f"f{i}", os.urandom(1000)) for i in range(50)])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.add_layer_from_tar(io.BytesIO(data)), range(8)))
    assert len({r.diff_id for r in results}) == 1
    assert len(os.listdir(store.layer_dir(results[0].diff_id))) == 50


def test_layer_from_dir_is_unpacked_on_first_use(store, tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "motd").write_text("hi")
    os.mknod(upper / "gone", stat.S_IFCHR, 0)
    layer = store.add_layer_from_dir(str(upper))
    assert not os.path.exists(os.path.join(store.layers_dir, layer.diff_id[7:], "diff"))
    unpacked = store.layer_dir(layer.diff_id)
    assert open(os.path.join(unpacked, "etc/motd")).read() == "hi"
    assert layers.is_whiteout(os.lstat(os.path.join(unpacked, "gone")))
    assert upper.exists()  # the container's directory is left alone


def test_layer_from_dir_with_move(store, tmp_path):
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "f").write_text("moved")
    layer = store.add_layer_from_dir(str(upper), move=True)
    assert not upper.exists()
    assert open(os.path.join(store.layer_dir(layer.diff_id), "f")).read() == "moved"


def test_empty_dir_gives_the_empty_layer(store, tmp_path):
    (tmp_path / "empty").mkdir()
    assert store.add_layer_from_dir(str(tmp_path / "empty")).diff_id == EMPTY_LAYER_DIFF_ID


def test_compressed_layer_is_made_once_and_decompresses_to_the_layer(store, tb):
    layer = add_layer(store, tb, tb.file("x", os.urandom(5000)))
    digest, size, media_type = store.compressed_layer(layer.diff_id)
    assert media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    blob = store.read_blob(digest)
    assert (sha(blob), len(blob)) == (digest, size)
    assert gzip.decompress(blob) == open(layer.tar_path, "rb").read()
    assert store.compressed_layer(layer.diff_id) == (digest, size, media_type)


def test_a_pulled_gzip_form_is_reused_for_push(store, tb):
    compressed = gzip.compress(tb.make_tar([tb.file("x", b"pulled")]), compresslevel=1)
    with store.blob_writer() as w:
        w.write(compressed)
    layer = store.add_layer_from_tar(io.BytesIO(compressed), compressed_digest=w.digest)
    assert store.compressed_layer(layer.diff_id)[0] == sha(compressed)


# --- images and overlay --------------------------------------------------------------------------


def test_overlay_mount_of_lowerdirs_shows_exactly_the_image(store, two_layer_image, mount_overlay, tb):
    image_id, base, top = two_layer_image
    lowerdirs = store.lowerdirs(image_id)
    assert [os.path.realpath(d) for d in lowerdirs] == [store.layer_dir(top.diff_id), store.layer_dir(base.diff_id)]
    assert all(len(os.path.basename(d)) == 12 for d in lowerdirs)
    with mount_overlay(lowerdirs, upper=False) as (merged, _):
        assert tb.tree(merged) == {"bin": "d", "bin/sh": "f:#!sh", "etc": "d", "d": "d", "d/c": "f:c", "new": "f:new"}


def test_get_resolves_names_ids_and_prefixes(store, two_layer_image):
    image_id, _, _ = two_layer_image
    hex_id = image_id[7:]
    for name in ["two", "two:latest", "docker.io/library/two:latest", image_id, hex_id, hex_id[:12], "sha256:" + hex_id[:5]]:
        assert store.get(name).id == image_id, name
    with pytest.raises(NotFound, match=r"^No such image: two:nope$"):
        store.get("two:nope")
    with pytest.raises(NotFound, match="No such image: other:latest"):
        store.get("other")
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        store.get("Two")


def test_image_api_shapes(store, two_layer_image):
    image_id, base, top = two_layer_image
    image = store.get("two")
    summary = image.to_api_summary()
    assert summary["Id"] == image_id and summary["RepoTags"] == ["two:latest"]
    assert summary["Created"] == 1704164645 and summary["Size"] == base.size + top.size == (4 + 9 + 1 + 1) + (1 + 3)
    inspect = image.to_api_inspect()
    assert inspect["Config"]["Cmd"] == ["sh"] and inspect["Config"]["Labels"] is None and "Hostname" in inspect["Config"]
    assert inspect["RootFS"] == {"Type": "layers", "Layers": [base.diff_id, top.diff_id]}


def test_add_image_config_keeps_exact_bytes_and_needs_its_layers(store, tb):
    layer = add_layer(store, tb, tb.file("x"))
    raw = json.dumps(image_config([layer.diff_id]), indent=3).encode()
    assert store.add_image_config(raw) == sha(raw)
    with pytest.raises(NotFound, match="not in the store"):
        store.add_image_config(json.dumps(image_config(["sha256:" + "0" * 64])).encode())


def test_tags_survive_a_restart(store, two_layer_image):
    image_id, _, _ = two_layer_image
    store.tag(image_id, "localhost:5000/team/two:v1")
    again = type(store)(store.root)
    # Docker's order: by the full reference, so docker.io/library/two comes before localhost:5000/...
    assert again.get("two").repo_tags == ["two:latest", "localhost:5000/team/two:v1"]


def test_tag_refuses_digests(store, two_layer_image):
    with pytest.raises(InvalidArgument, match="digest"):
        store.tag(two_layer_image[0], "two@sha256:" + "a" * 64)


# --- rmi -----------------------------------------------------------------------------------------


def test_rmi_of_one_of_two_tags_only_untags(store, two_layer_image):
    image_id, _, _ = two_layer_image
    store.tag(image_id, "two:v2")
    assert store.delete("two:v2") == [{"Untagged": "two:v2"}]
    assert store.get("two").id == image_id


def test_rmi_deletes_image_and_layers(store, two_layer_image):
    image_id, base, top = two_layer_image
    records = store.delete("two")
    chain = chain_ids([base.diff_id, top.diff_id])
    assert records == [{"Untagged": "two:latest"}, {"Deleted": image_id}, {"Deleted": chain[1]}, {"Deleted": chain[0]}]
    assert os.listdir(store.layers_dir) == [] and os.listdir(store.blobs_dir) == [] and os.listdir(store.links_dir) == []


def test_rmi_keeps_layers_other_images_share(store, two_layer_image, tb):
    image_id, base, top = two_layer_image
    other = store.create_image(image_config([base.diff_id], created="2024-01-01T00:00:00Z"))
    store.tag(other, "other")
    store.delete("two")
    assert store.has_layer(base.diff_id) and not store.has_layer(top.diff_id)


def test_rmi_conflicts_use_mobys_messages(store, two_layer_image):
    image_id, _, _ = two_layer_image
    short = image_id[7:19]
    container = "c" * 64
    with pytest.raises(Conflict, match=f'unable to remove repository reference "two" \\(must force\\) - container cccccccccccc is using its referenced image {short}'):
        store.delete("two", in_use=lambda i: container)
    store.tag(image_id, "two:v2")
    with pytest.raises(Conflict, match=f"unable to delete {short} \\(must be forced\\) - image is referenced in multiple repositories"):
        store.delete(image_id[7:19])
    with pytest.raises(Conflict, match=f"unable to delete {short} \\(cannot be forced\\) - image is being used by running container cccccccccccc"):
        store.delete(image_id, force=True, running=lambda i: container, in_use=lambda i: container)
    assert store.get(image_id).repo_tags == ["two:latest", "two:v2"]


def test_rmi_force_with_stopped_container_keeps_what_it_mounts(store, two_layer_image):
    image_id, _, _ = two_layer_image
    records = store.delete(image_id, force=True, in_use=lambda i: "c" * 64)
    assert records == [{"Untagged": "two:latest"}, {"Deleted": image_id}]
    with pytest.raises(NotFound):
        store.get(image_id)
    assert len(store.lowerdirs(image_id)) == 2  # the container can still start


def test_children_block_deletion_and_parents_are_pruned(store, two_layer_image, tb):
    image_id, base, top = two_layer_image
    child = store.create_image(image_config([base.diff_id, top.diff_id], history=[{}, {}, {"empty_layer": True}],
                                            created="2025-01-01T00:00:00Z"), parent=image_id)
    store.untag("two")
    store.tag(child, "child")
    assert store.children(image_id) == [child]
    assert [i.id for i in store.list()] == [child]  # the untagged parent is an intermediate image
    assert {i.id for i in store.list(all=True)} == {child, image_id}
    with pytest.raises(Conflict, match="image has dependent child images"):
        store.delete(image_id, force=True)
    records = store.delete("child")
    assert [r.get("Deleted") for r in records[1:3]] == [child, image_id]


def test_prune_removes_dangling_images_not_in_use(store, tb):
    used = store.create_image(image_config([add_layer(store, tb, tb.file("a", b"1234")).diff_id]))
    dangling_layer = add_layer(store, tb, tb.file("b", b"123456"))
    dangling = store.create_image(image_config([dangling_layer.diff_id]))
    deleted, reclaimed = store.prune(in_use=lambda i: "c" * 64 if i == used else None)
    assert deleted == [{"Deleted": dangling}, {"Deleted": dangling_layer.diff_id}]
    assert reclaimed == 6
    assert store.get(used)


# --- history -------------------------------------------------------------------------------------


def test_history_in_dockers_shape(store, two_layer_image):
    image_id, base, top = two_layer_image
    history = [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
               {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c rm /etc/group", "comment": "c"},
               {"created": "2024-01-01T00:00:02Z", "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True}]
    child = store.create_image(image_config([base.diff_id, top.diff_id], history=history), parent=image_id)
    store.tag(child, "child:1")
    assert store.history(child) == [
        {"Comment": "", "Created": 1704067202, "CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"]', "Id": child, "Size": 0, "Tags": ["child:1"]},
        {"Comment": "c", "Created": 1704067201, "CreatedBy": "/bin/sh -c rm /etc/group", "Id": image_id, "Size": top.size, "Tags": ["two:latest"]},
        {"Comment": "", "Created": 1704067200, "CreatedBy": "/bin/sh -c #(nop) ADD file:abc in / ", "Id": "<missing>", "Size": base.size, "Tags": None},
    ]


def test_layer_changes_for_the_layer_tree(store, two_layer_image):
    _, base, top = two_layer_image
    entries = {e["path"]: e for e in store.layer_changes(top.diff_id, lower_diff_ids=[base.diff_id])}
    assert {p: e["kind"] for p, e in entries.items()} == {"/d": "C", "/d/c": "A", "/etc": "C", "/etc/group": "D", "/new": "A"}
    assert entries["/d"]["opaque"] and not entries["/etc"]["opaque"]
    assert entries["/new"]["size"] == 3 and stat.S_ISREG(entries["/new"]["mode"])


def test_rmi_of_the_last_tag_of_a_parent_only_untags(store, two_layer_image):
    image_id, base, top = two_layer_image
    child = store.create_image(image_config([base.diff_id, top.diff_id], history=[{}, {}, {"empty_layer": True}]),
                               parent=image_id)
    assert store.delete("two") == [{"Untagged": "two:latest"}]
    assert store.get(image_id).repo_tags == [] and store.children(image_id) == [child]
