"""Time and peak memory of one point at n_modes 1..4, each in a fresh process.

For every ``n_modes`` (system of 2, 4, 6, 8 qubits; 9, 81, 729, 6561 bases) the child
process builds the headline model at that size, measures the ``t = 0`` reference and the
``t = 0.2`` point of the correlated setting (4000 shots per basis), and reports the wall
time of the point by stage and the process's peak resident memory. The same is repeated
on the circuit path up to ``--circuits-max`` modes.

Usage: ``python benchmarks/bench_scale.py [--circuits-max 3]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
from qcflow.config import config_from_dict
from qcflow.experiment import Experiment
from qcflow import tomography

n_modes, method = int(sys.argv[1]), sys.argv[2]
config = config_from_dict({
    "system": {"n_modes": n_modes, "energy": 1.0, "hopping": 0.5},
    "state": {"beta": 1.0, "mu_a": 1.5, "mu_b": 0.5, "coherence": 0.9},
    "exchange": {"coupling": 1.0, "times": [0.0, 0.2], "trotter_dt": 0.1},
    "run": {"shots": 4000, "seed": 1234, "method": method, "bootstrap": 0},
})
experiment = Experiment(config)
reference, point = experiment.points
experiment.evaluate(reference, experiment.measure(reference))

start = time.perf_counter()
counts = experiment.measure(point)
measured = time.perf_counter()
linear = tomography.linear_inversion(counts)
inverted = time.perf_counter()
tomography.project_to_density(linear)
projected = time.perf_counter()
result = experiment.evaluate(point, counts)
evaluated = time.perf_counter()
print(json.dumps({
    "n_modes": n_modes,
    "method": method,
    "bases": counts.shape[0],
    "measure_s": measured - start,
    "linear_inversion_s": inverted - measured,
    "projection_s": projected - inverted,
    "evaluate_s": evaluated - projected,
    "point_s": (measured - start) + (evaluated - projected),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "dN_A": result.row["dN_A"],
    "dN_A_exact": result.row["dN_A_exact"],
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits-max", type=int, default=3)
    args = parser.parse_args()
    cases = [(m, "state") for m in (1, 2, 3, 4)]
    cases += [(m, "circuits") for m in range(1, args.circuits_max + 1)]
    print(
        f"{'n_modes':>7} {'method':>8} {'bases':>6} {'point s':>8} {'measure':>8} "
        f"{'fit+eval':>8} {'peak MB':>8} {'dN_A':>8} {'exact':>8}"
    )
    for n_modes, method in cases:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(n_modes), method],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['n_modes']:>7} {r['method']:>8} {r['bases']:>6} {r['point_s']:>8.3f} "
            f"{r['measure_s']:>8.3f} {r['evaluate_s']:>8.3f} {r['peak_mb']:>8.0f} "
            f"{r['dN_A']:>8.4f} {r['dN_A_exact']:>8.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
