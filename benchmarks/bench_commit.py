"""Committing a 100 MB container change, against GNU tar writing the same files.

A commit turns a container's overlay upper directory into a layer: it
writes the layer tar (whiteouts translated) into the blob store while
hashing it for its DiffID.  GNU tar does the first half of that work in C,
so it is the yardstick: nbdock's commit should take at most twice as long.

    python3 benchmarks/bench_commit.py [--mb 100] [--runs 5]

Prints both times (best of the runs, alternated, page cache warm for both) and the
ratio; exits 1 when the ratio is above 2.
Everything it creates lives in one temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from nbdock.image.store import ImageStore

SMALL_FILES = 2000  # a real change has many small files besides the big ones: headers cost too


def make_change(upper: str, megabytes: int) -> int:
    """An upper directory with ``megabytes`` of 1 MiB files plus many small ones; returns its bytes."""
    total = 0
    for i in range(megabytes):
        directory = os.path.join(upper, f"dir{i % 10}")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"big{i}"), "wb") as f:
            total += f.write(os.urandom(1 << 20))
    for i in range(SMALL_FILES):
        with open(os.path.join(upper, f"dir{i % 10}", f"small{i}"), "w") as f:
            total += f.write(f"small file {i}\n" * 4)
    return total


def time_gnu_tar(upper: str, scratch: str) -> float:
    out = os.path.join(scratch, "gnu.tar")
    started = time.perf_counter()
    subprocess.run(["tar", "--numeric-owner", "-C", upper, "-cf", out, "."], check=True)
    elapsed = time.perf_counter() - started
    os.unlink(out)
    return elapsed


def time_commit(upper: str, scratch: str) -> float:
    data_root = os.path.join(scratch, "data-root")
    store = ImageStore(data_root)
    started = time.perf_counter()
    store.add_layer_from_dir(upper)
    elapsed = time.perf_counter() - started
    shutil.rmtree(data_root)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="size of the change in MiB (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each; the best counts (default 5)")
    parser.add_argument("--dir", default=None, help="where to work (default: a temporary directory)")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="nbdock-bench-", dir=args.dir)
    try:
        upper = os.path.join(scratch, "upper")
        size = make_change(upper, args.mb)
        time_gnu_tar(upper, scratch)  # warm the page cache for both contenders
        tar_times, commit_times = [], []
        for _ in range(args.runs):  # alternate, so that a busy moment of the machine hits both alike
            tar_times.append(time_gnu_tar(upper, scratch))
            commit_times.append(time_commit(upper, scratch))
    finally:
        shutil.rmtree(scratch)
    tar_best, commit_best = min(tar_times), min(commit_times)
    print(f"change:         {size / 2**20:.1f} MiB in {args.mb + SMALL_FILES} files")
    print(f"GNU tar -cf:    {tar_best:.3f} s (best of {args.runs})")
    print(f"nbdock commit:  {commit_best:.3f} s (best of {args.runs}; tar + sha256 DiffID into the blob store)")
    print(f"ratio:          {commit_best / tar_best:.2f}  (target: at most 2.00)")
    return 0 if commit_best <= 2 * tar_best else 1


if __name__ == "__main__":
    sys.exit(main())
