"""save/load, OCI layout export, import, and the embedded busybox image."""

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from nbdock.errors import HostError, InvalidArgument, NotFound
from nbdock.image import archive, busybox
from nbdock.image.store import ImageStore

pytestmark = pytest.mark.root


@pytest.fixture
def bb_image(store, host_busybox):
    image_id, message = busybox.ensure_busybox(store, host_busybox)
    return image_id


def saved(store, refs) -> bytes:
    out = io.BytesIO()
    archive.save(store, refs, out)
    return out.getvalue()


def archive_files(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


# --- busybox -------------------------------------------------------------------------------------


def test_busybox_is_made_once_and_says_so(store, host_busybox):
    image_id, message = busybox.ensure_busybox(store, host_busybox)
    assert "busybox:latest" in message and host_busybox in message
    assert busybox.ensure_busybox(store, host_busybox) == (image_id, None)
    image = store.get("busybox")
    assert image.id == image_id and image.repo_tags == ["busybox:latest"]
    assert image.config["config"]["Cmd"] == ["sh"] and image.config["os"] == "linux"


def test_busybox_tree_runs_in_a_real_overlay_root(store, bb_image, host_busybox, mount_overlay):
    with mount_overlay(store.lowerdirs(bb_image)) as (merged, _):
        assert sorted(os.listdir(merged)) == ["bin", "etc", "home", "root", "tmp", "var"]
        assert oct(os.stat(os.path.join(merged, "tmp")).st_mode & 0o7777) == "0o1777"
        assert os.readlink(os.path.join(merged, "bin/sh")) == "/bin/busybox"
        applets = subprocess.run([host_busybox, "--list"], capture_output=True, text=True).stdout.split()
        assert len(os.listdir(os.path.join(merged, "bin"))) == len(applets)
        with open(os.path.join(merged, "etc/passwd")) as f:
            assert f.read() == "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
        with open(os.path.join(merged, "etc/group")) as f:
            assert f.read() == "root:x:0:\nnogroup:x:65534:\n"
        result = subprocess.run(["chroot", merged, "/bin/sh", "-c", "echo hi from $(id -un); ls /bin | wc -l"],
                                capture_output=True, text=True)
    assert result.stdout.split() == ["hi", "from", "root", str(len(applets))]


def test_dynamic_busybox_is_refused(store, tmp_path):
    assert busybox.is_static_elf(busybox.find_host_busybox())
    with pytest.raises(HostError, match="dynamically linked"):
        busybox.ensure_busybox(store, "/usr/bin/python3")
    with pytest.raises(NotFound):
        store.get("busybox")


# --- save / load ---------------------------------------------------------------------------------


def test_save_writes_oci_layout_and_docker_manifest(store, bb_image):
    store.tag(bb_image, "localhost:5000/bb:v1")
    files = archive_files(saved(store, ["busybox", "localhost:5000/bb:v1"]))
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (entry,) = json.loads(files["manifest.json"])
    assert entry["Config"] == "blobs/sha256/" + bb_image[7:]
    assert entry["RepoTags"] == ["busybox:latest", "localhost:5000/bb:v1"]
    index = json.loads(files["index.json"])
    names = [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]]
    assert names == ["docker.io/library/busybox:latest", "localhost:5000/bb:v1"]
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    assert manifest["config"]["digest"] == bb_image
    for layer in manifest["layers"]:  # every blob is named by its content
        assert "sha256:" + hashlib.sha256(files["blobs/sha256/" + layer["digest"][7:]]).hexdigest() == layer["digest"]


def test_save_is_deterministic(store, bb_image):
    assert saved(store, ["busybox"]) == saved(store, ["busybox"])


def test_save_then_load_into_an_empty_store(store, bb_image, tmp_path):
    data = saved(store, ["busybox"])
    other = ImageStore(str(tmp_path / "other-root"))
    assert archive.load(other, io.BytesIO(data)) == ["Loaded image: busybox:latest"]
    assert other.get("busybox").id == bb_image
    assert archive.load(other, io.BytesIO(saved(store, [bb_image]))) == [f"Loaded image ID: {bb_image}"]


def test_load_reports_a_tag_moving_to_another_image(store, bb_image, tmp_path):
    data = saved(store, ["busybox"])
    other = ImageStore(str(tmp_path / "other-root"))
    old = archive.import_rootfs(other, io.BytesIO(b"\0" * 1024), repo_tag="busybox:latest")
    assert archive.load(other, io.BytesIO(data)) == [
        f"The image busybox:latest already exists, renaming the old one with ID {old} to empty string",
        "Loaded image: busybox:latest",
    ]


def make_archive(tb, files: dict, symlinks: dict = {}) -> bytes:
    return tb.make_tar([tb.file(name, content) for name, content in files.items()]
                       + [tb.symlink(name, target) for name, target in symlinks.items()])


def test_load_of_the_legacy_layout_with_a_compressed_layer(store, tb, tmp_path):
    layer_tar = tb.make_tar([tb.file("hello", b"world")])
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    data = make_archive(tb, {
        f"{config_hex}.json": config,
        "v1id/VERSION": b"1.0", "v1id/json": b"{}", "v1id/layer.tar": gzip.compress(layer_tar),
        "manifest.json": json.dumps([{"Config": f"{config_hex}.json", "RepoTags": ["legacy:1"], "Layers": ["v1id/layer.tar"]}]).encode(),
        "repositories": b'{"legacy":{"1":"v1id"}}',
    })
    assert archive.load(store, io.BytesIO(data)) == ["Loaded image: legacy:1"]
    image = store.get("legacy:1")
    assert image.id == "sha256:" + config_hex
    assert open(os.path.join(store.layer_dir(diff_id), "hello")).read() == "world"


def test_load_never_reads_host_files_through_archive_symlinks(store, tb, tmp_path):
    secret = tmp_path / "host-secret.json"
    secret.write_text(json.dumps({"rootfs": {"diff_ids": []}, "stolen": True}))
    data = make_archive(tb, {"manifest.json": json.dumps([{"Config": "cfg.json", "RepoTags": ["evil:1"], "Layers": []}]).encode()},
                        symlinks={"cfg.json": str(secret)})
    with pytest.raises(InvalidArgument, match="cfg.json"):
        archive.load(store, io.BytesIO(data))
    with pytest.raises(NotFound):
        store.get("evil:1")


def test_load_rejects_a_layer_that_does_not_match_its_diff_id(store, tb):
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
    data = make_archive(tb, {"c.json": config, "l.tar": tb.make_tar([tb.file("x")]),
                             "manifest.json": json.dumps([{"Config": "c.json", "Layers": ["l.tar"]}]).encode()})
    with pytest.raises(InvalidArgument, match="layer 0 .*digest mismatch"):
        archive.load(store, io.BytesIO(data))
    assert os.listdir(store.layers_dir) == [] and os.listdir(store.blobs_dir) == []


def test_load_without_manifest(store, tb):
    with pytest.raises(InvalidArgument, match="no manifest.json"):
        archive.load(store, io.BytesIO(make_archive(tb, {"hello": b"x"})))


# --- OCI layout ----------------------------------------------------------------------------------


def test_export_oci_dir_and_load_it_back(store, bb_image, tmp_path):
    target = tmp_path / "layout"
    archive.export_oci(store, ["busybox"], str(target))
    assert sorted(os.listdir(target)) == ["blobs", "index.json", "oci-layout"]
    with pytest.raises(InvalidArgument, match="already exists"):
        archive.export_oci(store, ["busybox"], str(target))
    out = io.BytesIO()
    archive.export_oci(store, ["busybox"], out)
    assert "manifest.json" not in archive_files(out.getvalue())
    other = ImageStore(str(tmp_path / "other-root"))
    assert archive.load(other, io.BytesIO(out.getvalue())) == ["Loaded image: busybox:latest"]
    assert other.get("busybox").id == bb_image


def test_export_of_unknown_image_leaves_nothing(store, tmp_path):
    with pytest.raises(NotFound):
        archive.export_oci(store, ["nope"], str(tmp_path / "layout"))
    assert os.listdir(tmp_path) == ["data-root"]


# --- import --------------------------------------------------------------------------------------


def test_import_rootfs_makes_a_one_layer_image(store, tb):
    image_id = archive.import_rootfs(store, io.BytesIO(tb.make_tar([tb.directory("."), tb.file("./etc/hostname", b"box")])),
                                     repo_tag="imported:v1", changes={"Cmd": ["/bin/true"], "Env": ["A=1"]})
    image = store.get("imported:v1")
    assert image.id == image_id and len(image.diff_ids) == 1
    assert image.config["config"]["Cmd"] == ["/bin/true"] and image.config["config"]["Env"] == ["A=1"]
    assert image.config["comment"] == "Imported from -"
    assert image.config["history"] == [{"created": image.created, "comment": "Imported from -"}]
    assert store.history(image_id)[0]["Size"] == 3


def test_import_with_a_bad_tag_stores_nothing(store, tb):
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        archive.import_rootfs(store, io.BytesIO(tb.make_tar([tb.file("x")])), repo_tag="Bad:tag")
    assert os.listdir(store.layers_dir) == []
