"""Differential checks against the reference Docker engine: archives both ways, and `docker diff`."""

import io
import json
import os
import subprocess
import uuid

import pytest

from nbdock.image import archive, busybox, layers

pytestmark = [pytest.mark.root, pytest.mark.docker]


@pytest.fixture
def docker(ref_docker_host):
    """docker(*args, input=None) -> CompletedProcess against the reference engine; removes what it made."""
    env = dict(os.environ, DOCKER_HOST=ref_docker_host, DOCKER_BUILDKIT="0")
    made = {"images": [], "containers": []}

    def run(*args, input=None, check=True):
        return subprocess.run(["docker", *args], input=input, env=env, capture_output=True, check=check, timeout=120)

    run.made = made
    yield run
    for container in made["containers"]:
        run("rm", "-f", container, check=False)
    for image in made["images"]:
        run("rmi", "-f", image, check=False)


def unique(prefix: str) -> str:
    return f"nbdock-test-{prefix}-{uuid.uuid4().hex[:8]}"


def test_docker_loads_and_runs_what_nbdock_saves(store, docker, host_busybox):
    image_id, _ = busybox.ensure_busybox(store, host_busybox)
    tag = unique("saved") + ":v1"
    store.tag(image_id, tag)
    out = io.BytesIO()
    archive.save(store, [tag], out)
    docker.made["images"].append(tag)
    loaded = docker("load", input=out.getvalue())
    assert loaded.stdout.decode().strip() == f"Loaded image: {tag}"
    assert docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.decode().strip() == image_id
    ran = docker("run", "--rm", tag, "sh", "-c", "echo hello from $(cat /etc/passwd | head -1 | cut -d: -f1)")
    assert ran.stdout.decode() == "hello from root\n"


# (Docker adds /etc/hosts and friends to a running container: compare the rest of /etc by name.)
BUILT_TREE_SCRIPT = "cd / && find d keep -print | sort; for f in group passwd; do [ -e etc/$f ] && echo has-$f || echo no-$f; done"


def test_nbdock_loads_what_docker_saves_with_whiteouts_and_opaque_dirs(store, docker, mount_overlay):
    tag = unique("built") + ":1"
    dockerfile = (
        "FROM busybox\n"
        "RUN mkdir -p /d/sub /keep && echo a > /d/sub/f && echo x > /d/old && echo k > /keep/k\n"
        "RUN rm -rf /etc/group /d && mkdir /d && echo n > /d/new\n"
        'CMD ["sh"]\n'
    )
    docker.made["images"].append(tag)
    docker("build", "-q", "-t", tag, "-", input=dockerfile.encode())
    expected = docker("run", "--rm", tag, "sh", "-c", BUILT_TREE_SCRIPT).stdout.decode().split()
    saved = docker("save", tag).stdout

    assert archive.load(store, io.BytesIO(saved)) == [f"Loaded image: {tag}"]
    image = store.get(tag)
    assert image.id == docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.decode().strip()
    top = store.layer_dir(image.diff_ids[-1])
    assert layers.is_whiteout(os.lstat(os.path.join(top, "etc/group")))
    assert layers.is_opaque(os.path.join(top, "d"))
    with mount_overlay(store.lowerdirs(image.id)) as (merged, _):
        found = subprocess.run(["chroot", merged, "/bin/sh", "-c", BUILT_TREE_SCRIPT],
                               capture_output=True, text=True, check=True).stdout.split()
    assert found == expected
    assert "no-group" in found and "has-passwd" in found and "d/sub" not in found and "d/new" in found
    docker_history = json.loads(docker("image", "history", "--format", "{{json .}}", "--no-trunc", tag).stdout.decode().splitlines()[0])
    assert store.history(image.id)[0]["CreatedBy"] == docker_history["CreatedBy"]


def test_changes_from_upper_agree_with_docker_diff(docker):
    """Read the reference container's own overlay directories and compare with `docker diff`."""
    name = unique("diff")
    docker.made["containers"].append(name)
    script = ("echo x >> /etc/passwd; rm /bin/ls; rm -rf /home; mkdir -p /new/sub; touch /new/sub/f; "
              "mkdir /var/spool; rm -rf /var/spool; rm -rf /tmp && mkdir /tmp && echo t > /tmp/t")
    docker("run", "--name", name, "busybox", "sh", "-c", script)
    graph = json.loads(docker("inspect", "-f", "{{json .GraphDriver.Data}}", name).stdout)
    lowerdirs = graph["LowerDir"].split(":")
    ours = layers.changes_from_upper(graph["UpperDir"], lowerdirs)
    theirs = [line.split(" ", 1) for line in docker("diff", name).stdout.decode().splitlines()]
    assert sorted(ours) == sorted((path, kind) for kind, path in theirs)
