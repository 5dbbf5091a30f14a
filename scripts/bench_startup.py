"""How fast `svdd` answers before any work: --help and one-line errors for bad overrides (target < 2 s each).

    python scripts/bench_startup.py [--repeats 3]

Prints the median wall time of each command over the repeats and whether torch was imported (it must not be:
validation comes first, heavy imports late).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "svdd --help": ["--help"],
    "svdd run --help": ["run", "--help"],
    "unknown option (sampler=nope)": ["run", "sampler=nope"],
    "unknown setting (nosuch=1)": ["run", "nosuch=1"],
    "bad value (num_samples=ten)": ["run", "num_samples=ten"],
    "unusable run folder": ["run", "hydra.run.dir=/dev/null/run"],
}
PROBE = ("import sys, runpy; sys.argv = ['svdd', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('svdd_cli.cli', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    print("| command | median s | torch imported | target < 2 s |\n|---|---|---|---|")
    for name, args in COMMANDS.items():
        times, torch_loaded = [], False
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
            times.append(time.perf_counter() - started)
            torch_loaded = "NO-TORCH" not in done.stderr
        median = statistics.median(times)
        print(f"| {name} | {median:.2f} | {'yes' if torch_loaded else 'no'} | {'ok' if median < 2 else 'SLOW'} |")


if __name__ == "__main__":
    main()
