"""Whether a --blkio-weight has a file to go to: the I/O schedulers of the host's disks, without root."""

from nbdock.runtime import cgroups


def fake_host(tmp_path, schedulers, root_files=()):
    for index, line in enumerate(schedulers):
        queue = tmp_path / "block" / f"sd{chr(97 + index)}" / "queue"
        queue.mkdir(parents=True)
        (queue / "scheduler").write_text(line + "\n")
    for name in root_files:
        path = tmp_path / "cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (tmp_path / "cgroup").mkdir(exist_ok=True)
    return str(tmp_path / "cgroup"), str(tmp_path / "block")


def test_bfq_on_any_disk_gives_every_cgroup_its_weight_file(tmp_path):
    root, block = fake_host(tmp_path, ["[mq-deadline] kyber none", "mq-deadline kyber [bfq] none"])
    assert cgroups.supports_blkio_weight(root, block, version=1)
    assert cgroups.supports_blkio_weight(root, block, version=2)


def test_no_scheduler_with_groups_means_no_weight(tmp_path):
    root, block = fake_host(tmp_path, ["[none] mq-deadline kyber"])
    assert not cgroups.supports_blkio_weight(root, block, version=1)
    assert not cgroups.supports_blkio_weight(root, block, version=2)


def test_cfq_on_v1_and_iocost_on_v2_hold_a_weight_too(tmp_path):
    root, block = fake_host(tmp_path, ["[none]"], root_files=["blkio/blkio.weight", "io.cost.qos"])
    assert cgroups.supports_blkio_weight(root, block, version=1)
    assert cgroups.supports_blkio_weight(root, block, version=2)
