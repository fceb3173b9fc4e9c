"""nbdock's kernel views as terminal tables, and the CLI's run path without pandas."""

import subprocess
import sys

from nbdock.client.kernel_views import CGROUP_HEADERS, common_directory, table


def test_cgroup_v1_files_are_named_in_full_under_one_braced_directory():
    paths = [f"/sys/fs/cgroup/{c}/nbdock/{'a' * 64}/{f}" for c, f in (("cpu", "cpu.cfs_quota_us"), ("memory", "memory.limit_in_bytes"))]
    assert common_directory(paths) == f"/sys/fs/cgroup/{{cpu,memory}}/nbdock/{'a' * 64}"
    assert common_directory(["/sys/fs/cgroup/x/memory.max", "/sys/fs/cgroup/x/pids.max"]) == "/sys/fs/cgroup/x"


def test_a_table_is_docker_s_columns_with_no_newline_in_a_cell():
    text = table(CGROUP_HEADERS, [{"file": "memory.limit_in_bytes", "value": "67108864"}, {"file": "pids.max", "value": "a\nb"}])
    assert text == "FILE                    VALUE\nmemory.limit_in_bytes   67108864\npids.max                a b\n"


def test_the_cli_run_path_imports_no_pandas_matplotlib_or_ipython():
    code = ("import sys, nbdock.cli; from nbdock.client.commands import run_parsed, Session; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'IPython', 'ipywidgets', 'aiohttp') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


class _ClusterConnection:
    def network_map(self):
        return {"node": "a", "store": "etcd://127.0.0.1:2379", "nodes": [{"node": "a"}, {"node": "b"}],
                "networks": [{"name": "ov", "vni": 4097, "subnet": "10.10.0.0/24", "vxlan_here": "vx-ov-a",
                              "endpoints": [{"node": "b", "name": "web", "ip": "10.10.0.3", "vtep": "192.168.1.2",
                                             "mac": "02:42:0a:0a:00:03"},
                                            {"node": "a", "name": "db", "ip": "10.10.0.2", "vtep": "192.168.1.1",
                                             "mac": "02:42:0a:0a:00:02"}]}]}


def test_the_network_map_is_one_set_of_rows_for_the_terminal_and_the_notebook():
    from nbdock.client.kernel_views import network_map_text
    from nbdock.views.netmap import network_map_frame

    text = network_map_text(_ClusterConnection())
    lines = text.splitlines()
    assert lines[0] == "this host: a, cluster store etcd://127.0.0.1:2379, hosts alive: a, b"
    assert lines[1].split() == ["NETWORK", "VNI", "SUBNET", "HOST", "VTEP", "CONTAINER", "IP", "MAC", "VXLAN", "DEVICE"]
    assert lines[2].split()[3:6] == ["a", "192.168.1.1", "db"] and lines[2].split()[-1] == "vx-ov-a"
    assert lines[3].endswith("(VNI 4097 there)")
    frame = network_map_frame(_ClusterConnection())
    assert list(frame["container"]) == ["db", "web"] and frame.attrs["nodes"] == ["a", "b"]
