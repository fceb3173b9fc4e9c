"""``docker build`` against Docker 20.10's classic builder and nbdock's, side by side.

    sudo python3 benchmarks/bench_build.py [--repeat 5] [--mb 20]

The same docker CLI (``DOCKER_BUILDKIT=0``) builds the same context on both
engines: a 7-step Dockerfile with a ``--mb`` MB COPY and two RUNs.

* cold:   ``docker build --no-cache`` -- every step really runs (goal: at most 1.5x Docker, aim 0.7x)
* cached: the same build again -- every step is a cache hit (goal: at most 1.0x, aim 0.5x)

The engines take turns (a noisy machine slows both alike) and the table
shows the median wall-clock time of each and their ratio (nbdock / Docker).
Exits 1 when a ratio is above its limit.  Every image the builds made is
removed at the end, and the context directory too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import Engines, median  # noqa: E402

DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY data.bin /app/
RUN sha256sum /app/data.bin > /app/data.sha256
RUN echo "built for $APP" > /app/built
CMD ["cat", "/app/data.sha256"]
"""

LIMITS = {"cold": 1.5, "cached": 1.0}


def make_context(megabytes: int) -> str:
    context = tempfile.mkdtemp(prefix="nbdock-bench-build-")
    with open(os.path.join(context, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    with open(os.path.join(context, "data.bin"), "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    return context


def build(engines: Engines, engine: str, context: str, *flags: str) -> tuple[float, list[str]]:
    """Seconds one build took, and the IDs of the images it printed (" ---> 1a2b3c4d5e6f")."""
    start = time.perf_counter()
    result = engines.docker("build", *flags, "-t", "bench-build:latest", context, engine=engine, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the build failed on {engine}:\n{(result.stdout + result.stderr)[-2000:]}")
    return elapsed, re.findall(r"^ ---> ([0-9a-f]{12})$", result.stdout, re.M)


def measure(engines: Engines, context: str, repeat: int) -> dict[str, dict[str, float]]:
    made: dict[str, list[str]] = {engine: [] for engine in engines.hosts}
    base = {engine: engines.docker("images", "-q", "busybox", engine=engine, text=True).stdout.strip()
            for engine in engines.hosts}
    samples = {kind: {engine: [] for engine in engines.hosts} for kind in LIMITS}
    try:
        for engine in engines.hosts:  # warm up: layers unpacked, code paths loaded
            made[engine] += build(engines, engine, context, "--no-cache")[1]
        for _ in range(repeat):
            for engine in engines.hosts:
                elapsed, ids = build(engines, engine, context, "--no-cache")
                samples["cold"][engine].append(elapsed)
                made[engine] += ids
                elapsed, ids = build(engines, engine, context)
                samples["cached"][engine].append(elapsed)
                made[engine] += ids
    finally:
        for engine, ids in made.items():
            engines.docker("rmi", "bench-build:latest", engine=engine, check=False)
            for image in reversed(list(dict.fromkeys(ids))):  # children before their parents
                if not base[engine].startswith(image):
                    engines.docker("rmi", image, engine=engine, check=False)
    return {kind: {engine: median(times) for engine, times in by_engine.items()} for kind, by_engine in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mb", type=int, default=20, help="size of the COPY'd file")
    args = parser.parse_args()
    context = make_context(args.mb)
    try:
        with Engines() as engines:
            results = measure(engines, context, args.repeat)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    print("| build | Docker 20.10 | nbdock | ratio | limit |")
    print("|---|---:|---:|---:|---:|")
    failed = False
    for kind, times in results.items():
        ratio = times["nbdock"] / times["docker"]
        failed |= ratio > LIMITS[kind]
        docker_ms, nbdock_ms = times["docker"] * 1000, times["nbdock"] * 1000
        print(f"| {kind} | {docker_ms:.0f} ms | {nbdock_ms:.0f} ms | {ratio:.2f} | {LIMITS[kind]} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
