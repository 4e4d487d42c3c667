"""Calibration of the bootstrap error bars: coverage of the 95% intervals.

Runs one configuration with many independent seeds (each seed draws new counts and new
bootstrap replicates) and counts how often the 95% interval of ``dN_A`` and of ``dI_AB``
contains the exact value, over every point with ``t > 0`` (at ``t = 0`` both are zero by
construction). Every combination of the resampling scheme (``fitted``: parametric, from
the fitted state; ``observed``: from the observed frequencies) and the interval
(``basic``, ``percentile``) is measured on the same counts; the combination that
``qcflow run`` uses is marked.

    python experiments/coverage.py experiments/anomalous_flow.toml --seeds 200

A well calibrated interval covers about 95% of the time; with ``S`` seeds x ``P`` points
the binomial standard error of a coverage near 0.95 is ``sqrt(0.95 * 0.05 / (S P))``.
Points of one seed share their reference, so that error is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from qcflow.bootstrap import (
    INTERVALS,
    RESAMPLES,
    bootstrap_states,
    interval,
)
from qcflow.config import load_config
from qcflow.experiment import Experiment, bootstrap_rng
from qcflow.quantities import batch_quantities, point_quantities

NAMES = ("dN_A", "dI_AB")
PRODUCT = ("fitted", "basic")  # what qcflow.experiment uses


def run_seed(config_path: Path, seed: int, n_boot: int, fitter: str) -> dict:
    """Hits of every (resample, interval, quantity) for one seed, and the errors."""
    config = load_config(config_path).with_run(
        seed=seed, bootstrap=n_boot, fitter=fitter
    )
    ex = Experiment(config)
    hits = {(r, i, q): 0 for r in RESAMPLES for i in INTERVALS for q in NAMES}
    widths = {(r, i, q): 0.0 for r in RESAMPLES for i in INTERVALS for q in NAMES}
    errors: dict[str, list[float]] = {q: [] for q in NAMES}
    n = 0
    references: dict[tuple[int, str], np.ndarray] = {}
    fitted_reference: dict[int, np.ndarray] = {}
    for point in ex.points:
        state = config.initial_state(point.correlation)
        counts = ex.sample(point)
        fitted = ex.fit(counts)
        if point.time_index == 0:
            fitted_reference[point.setting_index] = fitted
        exact = point_quantities(
            ex.exact_state(point), ex.exact_initial(point), state, ex._observables
        )
        measured = point_quantities(
            fitted, fitted_reference[point.setting_index], state, ex._observables
        )
        for resample in RESAMPLES:
            replicas = bootstrap_states(
                counts,
                ex.fit,
                n_boot,
                rng=bootstrap_rng(config, point),
                fitted=fitted,
                resample=resample,  # type: ignore[arg-type]
            )
            key = (point.setting_index, resample)
            if point.time_index == 0:
                references[key] = replicas
                continue
            values = batch_quantities(replicas, references[key], state, ex._observables)
            for method in INTERVALS:
                for q in NAMES:
                    _, lo, hi = interval(
                        measured[q],
                        values[q],
                        method=method,  # type: ignore[arg-type]
                    )
                    hits[(resample, method, q)] += int(lo <= exact[q] <= hi)
                    widths[(resample, method, q)] += hi - lo
        if point.time_index > 0:
            n += 1
            for q in NAMES:
                errors[q].append(measured[q] - exact[q])
    return {"hits": hits, "widths": widths, "points": n, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "config",
        type=Path,
        nargs="?",
        default=Path(__file__).with_name("anomalous_flow.toml"),
    )
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--fitter", default="linear")
    parser.add_argument("--json", type=Path, help="write the summary here")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    totals: dict = {}
    widths: dict = {}
    n_points = 0
    errors: dict[str, list[float]] = {q: [] for q in NAMES}
    for i in range(args.seeds):
        out = run_seed(args.config, args.first_seed + i, args.bootstrap, args.fitter)
        for key, value in out["hits"].items():
            totals[key] = totals.get(key, 0) + value
            widths[key] = widths.get(key, 0.0) + out["widths"][key]
        n_points += out["points"]
        for q in NAMES:
            errors[q] += out["errors"][q]
        print(f"\rseed {i + 1}/{args.seeds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    se = math.sqrt(0.95 * 0.05 / n_points)
    print(
        f"{args.config.name}: fitter {args.fitter}, {args.seeds} seeds x "
        f"{n_points // args.seeds} points (t > 0), {args.bootstrap} resamples, "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(f"coverage of the 95% intervals (binomial s.e. >= {se:.3f}):")
    print(
        f"{'resample':>9} {'interval':>10} {'quantity':>8} {'coverage':>9} {'width':>8}"
    )
    summary = []
    for (resample, method, q), hits in totals.items():
        mark = "  <- qcflow run" if (resample, method) == PRODUCT else ""
        cover = hits / n_points
        width = widths[(resample, method, q)] / n_points
        print(f"{resample:>9} {method:>10} {q:>8} {cover:>9.3f} {width:>8.4f}{mark}")
        summary.append(
            {
                "resample": resample,
                "interval": method,
                "quantity": q,
                "coverage": cover,
                "mean_width": width,
            }
        )
    for q in NAMES:
        e = np.asarray(errors[q])
        print(
            f"{q}: mean error {e.mean():+.5f}, rms error {np.sqrt((e**2).mean()):.5f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "config": str(args.config),
                    "fitter": args.fitter,
                    "seeds": args.seeds,
                    "points_per_seed": n_points // args.seeds,
                    "bootstrap": args.bootstrap,
                    "results": summary,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
