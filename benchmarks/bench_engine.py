"""nbdock against Docker, side by side, through the same docker CLI.

    sudo python3 benchmarks/bench_engine.py [--repeat 15]

For each operation the two engines take turns (so a noisy machine slows
both alike), and the table shows the median wall-clock time of each and
their ratio (nbdock / Docker: below 1 means nbdock is faster).

* run:   ``docker run --rm busybox true`` -- create, attach, start, wait, remove
* exec:  ``docker exec C true`` in a running container
* stats: ``docker stats --no-stream C`` -- one sample (two reads of the cgroup, to compute CPU%)
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import Engines, median  # noqa: E402

import time  # noqa: E402


def measure(engines: Engines, repeat: int) -> list[tuple[str, float, float]]:
    names = {engine: f"bench-{engine}" for engine in engines.hosts}
    for engine, name in names.items():
        engines.docker("rm", "-f", name, engine=engine, check=False)
        engines.docker("run", "-d", "--name", name, "busybox", "sleep", "3600", engine=engine)
    operations = {
        "run --rm busybox true": lambda engine: engines.docker("run", "--rm", "busybox", "true", engine=engine),
        "exec true": lambda engine: engines.docker("exec", names[engine], "true", engine=engine),
        "stats --no-stream": lambda engine: engines.docker("stats", "--no-stream", names[engine], engine=engine),
    }
    rows = []
    try:
        for label, operation in operations.items():
            samples: dict[str, list[float]] = {engine: [] for engine in engines.hosts}
            for engine in engines.hosts:
                operation(engine)  # warm up: first use loads caches, layers, code paths
            for _ in range(repeat):
                for engine in engines.hosts:
                    start = time.perf_counter()
                    operation(engine)
                    samples[engine].append(time.perf_counter() - start)
            rows.append((label, median(samples["docker"]), median(samples["nbdock"])))
    finally:
        for engine, name in names.items():
            engines.docker("rm", "-f", name, engine=engine, check=False)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with Engines() as engines:
        rows = measure(engines, args.repeat)
    print("| operation | Docker 20.10 | nbdock | ratio |")
    print("|---|---:|---:|---:|")
    for label, docker, nbdock in rows:
        print(f"| `{label}` | {docker * 1000:.0f} ms | {nbdock * 1000:.0f} ms | {nbdock / docker:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
