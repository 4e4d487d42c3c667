"""Wall time of the whole headline command, start-up included, on both paths.

Runs ``qcflow run experiments/anomalous_flow.toml`` as a fresh process (32 points, 4000
shots per basis, the configuration's bootstrap), ``--repeats`` times per path, and
prints the medians and their ratio. The sampled path (``--method state``) is the default
for ideal Aer; the circuit path (``--method circuits``) runs every measurement circuit.

Usage: ``python benchmarks/bench_headline.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall_time(method: str, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "qcflow.cli",
            "run",
            str(ROOT / "experiments" / "anomalous_flow.toml"),
            "--out",
            str(out),
            "--overwrite",
            "--quiet",
            "--method",
            method,
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--circuit-repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sampled = statistics.median(
            wall_time("state", Path(tmp) / "s") for _ in range(args.repeats)
        )
        circuits = statistics.median(
            wall_time("circuits", Path(tmp) / "c") for _ in range(args.circuit_repeats)
        )
    print("headline command, 32 points, median wall time")
    print(f"  sampled path (--method state)     {sampled:8.2f} s")
    print(f"  circuit path (--method circuits)  {circuits:8.2f} s")
    print(f"ratio sampled/circuits = {sampled / circuits:.3f}")


if __name__ == "__main__":
    main()
