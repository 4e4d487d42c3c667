"""Trotter error of the interacting exchange: circuit against ``exp(-i t H)``.

For a configuration with ``interaction != 0``, compares the exact quantities of the
Trotter circuits (noiseless, no shots) with those of the continuous-time evolution, for
several steps and both orders, and prints the largest deviations over the configured
times and settings:

    python experiments/trotter_error.py experiments/interacting.toml

With ``interaction = 0`` every deviation is at rounding level (the circuit is exact).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from qcflow.config import load_config
from qcflow.experiment import Experiment
from qcflow.plotting import exact_curves
from qcflow.quantities import batch_quantities

NAMES = ("dN_A", "dI_AB")


def deviations(config_path: Path, dt: float, order: int) -> dict[str, float]:
    """Largest ``|Trotter - exact|`` of each name over the sweep."""
    config = load_config(config_path)
    exchange = dataclasses.replace(config.exchange, trotter_dt=dt, trotter_order=order)
    config = dataclasses.replace(config, exchange=exchange)
    ex = Experiment(config)
    worst = dict.fromkeys(NAMES, 0.0)
    for setting in config.settings():
        points = [p for p in ex.points if p.correlation == setting]
        times = [p.time for p in points]
        exact = exact_curves(config, setting, times)
        rho_t = np.array([ex.exact_state(p) for p in points])
        rho_0 = ex.exact_initial(points[0])
        state = config.initial_state(setting)
        trotter = batch_quantities(rho_t, rho_0, state, ex._observables)
        for name in NAMES:
            worst[name] = max(
                worst[name], float(np.abs(trotter[name] - exact[name]).max())
            )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument(
        "--dt", type=float, nargs="+", default=[0.5, 0.25, 0.1, 0.05, 0.025]
    )
    args = parser.parse_args(argv)
    config = load_config(args.config)
    print(
        f"{args.config.name}: U = {config.exchange.interaction:g}, "
        f"g = {config.exchange.coupling:g}, t up to {max(config.exchange.times):g}"
    )
    print(f"{'order':>5} {'dt':>7} {'max |err dN_A|':>15} {'max |err dI_AB|':>16}")
    for order in (1, 2):
        for dt in args.dt:
            worst = deviations(args.config, dt, order)
            print(f"{order:>5} {dt:>7g} {worst['dN_A']:>15.2e} {worst['dI_AB']:>16.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
