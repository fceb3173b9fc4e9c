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
