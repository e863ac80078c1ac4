"""How long the `accessbot` command takes to answer before doing any work.

    python benchmarks/cli_start.py [--runs 10]

Runs `accessbot --help` and `accessbot --version` (this checkout's, in a new interpreter each time, as a shell would)
and prints the median and worst wall time of each, next to a bare `python -c pass` for the interpreter's own share.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "accessbot --help": [sys.executable, "-m", "bot.cli", "--help"],
    "accessbot --version": [sys.executable, "-m", "bot.cli", "--version"],
}


def run(runs: int) -> dict[str, tuple[float, float]]:
    """Per command: (median, worst) seconds over `runs` runs."""
    figures = {}
    for name, command in COMMANDS.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        figures[name] = (statistics.median(times), max(times))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"{'command':<22} {'median s':>9} {'worst s':>8}")
    for name, (median, worst) in run(args.runs).items():
        print(f"{name:<22} {median:>9.2f} {worst:>8.2f}")


if __name__ == "__main__":
    main()
