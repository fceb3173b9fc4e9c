"""What ``%dock stats NAME --interval 0.1`` costs: CPU of the notebook's process and of the daemon.

    sudo python3 benchmarks/bench_stats_sampling.py [--seconds 10] [--interval 0.1]

The magic runs in a real IPython shell (as in a kernel) against an nbdock
daemon started for the run, sampling one running container for
``--seconds``; the CPU time both processes spent meanwhile is reported as a
percentage of one core, with the number of samples the frame holds (at 10
Hz over 10 s: about 100).  The goal is under 2 % of one core in all.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import Engines  # noqa: E402


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    from IPython.testing.globalipapp import get_ipython

    with Engines(only=("nbdock",)) as engines:
        engines.docker("run", "-d", "--name", "sampled", "busybox", "sleep", "3600", engine="nbdock")
        shell = get_ipython()
        shell.run_line_magic("load_ext", "nbdock")
        shell.run_line_magic("config", f'NbdockMagics.host = "{engines.hosts["nbdock"]}"')
        shell.run_line_magic("dock", "ps")  # connect and import everything before measuring
        daemon = engines.pids["nbdock"]
        client_before, daemon_before, began = own_cpu_seconds(), process_cpu_seconds(daemon), time.perf_counter()
        frame = shell.run_line_magic("dock", f"stats sampled --seconds {args.seconds} --interval {args.interval}")
        wall = time.perf_counter() - began
        client = own_cpu_seconds() - client_before
        daemon_cpu = process_cpu_seconds(daemon) - daemon_before
        engines.docker("rm", "-f", "sampled", engine="nbdock")
    print(f"| `%dock stats --interval {args.interval}` for {args.seconds:g} s | CPU, % of one core |")
    print("|---|---:|")
    print(f"| the notebook's process | {100 * client / wall:.2f} % |")
    print(f"| nbdock's daemon | {100 * daemon_cpu / wall:.2f} % |")
    print(f"| both | {100 * (client + daemon_cpu) / wall:.2f} % |")
    print(f"| samples taken | {len(frame)} in {wall:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
