"""Compare the state fitters on the same counts: accuracy of the state and of ``dI_AB``.

For every point of a configuration and every seed, one set of counts is drawn, and each
fitter (``linear``, ``mle``, ``symmetric``, ``symmetric_mle``) reconstructs every state
from exactly those counts. Reported per shots and fitter:

- ``trace``: mean trace distance ``||rho_fit - rho_exact||_1 / 2`` to the exact state of
  the noiseless circuits, over all points and seeds;
- ``bias dI``: mean of ``dI_AB - dI_AB_exact`` over points with ``t > 0`` and seeds (the
  signed systematic error), and ``|bias| dI``: the mean over points of the absolute
  per-point bias (a bias that changes sign between points does not cancel there);
- ``rmse dI``, ``rmse dN``: root mean square errors of ``dI_AB`` and ``dN_A``;
- ``rmse I``: root mean square error of the mutual information ``I_AB`` itself, over
  all points (``t = 0`` included);
- ``ms/state``: fitting time per state.

Ideal counts are drawn from the exact state (as ``method = "state"``). With
``--noise fake_torino`` the counts come instead from the tomography circuits compiled
for and simulated with the noise model of IBM's ``FakeTorino`` (qiskit-ibm-runtime and a
density-matrix Aer simulator); errors are still taken against the ideal exact values,
and the simulated counts are cached in ``runs/``.

    python experiments/compare_fitters.py --shots 1000 4000 16000 --seeds 20
    python experiments/compare_fitters.py --noise fake_torino --shots 4000 --seeds 4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from qcflow.config import FITTERS, Config, load_config
from qcflow.experiment import Experiment, full_circuit, point_rng
from qcflow.quantities import batch_quantities
from qcflow.tomography import basis_labels, fit_state

HEADLINE = Path(__file__).with_name("anomalous_flow.toml")


def trace_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(np.linalg.eigvalsh(a - b)).sum(axis=-1)


def ideal_counts(config: Config, seeds: list[int]) -> np.ndarray:
    """Counts ``(seeds, points, 3^n, 2^n)`` drawn from the exact states."""
    out = []
    for seed in seeds:
        ex = Experiment(config.with_run(seed=seed))
        out.append([ex.sample(p) for p in ex.points])
    return np.asarray(out)


def _measure(circuit, physical: list[int], label: str):
    """Append the basis change of ``label`` in native gates, and the measurement.

    ``H = Rz(pi/2) SX Rz(pi/2)`` and ``H S^dag = Rz(pi/2) SX`` up to a global phase.
    """
    from qiskit.circuit import ClassicalRegister

    qc = circuit.copy()
    creg = ClassicalRegister(len(physical), "meas")
    qc.add_register(creg)
    for q, basis in enumerate(reversed(label)):
        p = physical[q]
        if basis == "X":
            qc.rz(np.pi / 2, p)
        if basis in "XY":
            qc.sx(p)
            qc.rz(np.pi / 2, p)
    qc.measure(physical, list(creg))
    return qc


def noisy_counts(config: Config, seeds: list[int], cache: Path) -> np.ndarray:
    """Counts ``(seeds, points, 3^n, 2^n)`` from FakeTorino-noise simulations."""
    if cache.exists():
        with np.load(cache) as data:
            if list(data["seeds"]) == seeds:
                return data["counts"]
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeTorino

    from qcflow.backends import counts_array

    backend = FakeTorino()
    simulator = AerSimulator.from_backend(backend, method="density_matrix")
    n = config.model.n_qubits
    labels = basis_labels(n)
    ex = Experiment(config)
    out = np.zeros((len(seeds), len(ex.points), 3**n, 2**n), dtype=np.int64)
    for k, point in enumerate(ex.points):
        logical = full_circuit(config, point.correlation, point.time)
        compiled = transpile(logical, backend, optimization_level=1, seed_transpiler=11)
        physical = compiled.layout.final_index_layout()[:n]
        circuits = [_measure(compiled, physical, label) for label in labels]
        for i, seed in enumerate(seeds):
            rng_seed = int(point_rng(config.with_run(seed=seed), point).integers(2**31))
            result = simulator.run(
                circuits, shots=config.run.shots, seed_simulator=rng_seed
            ).result()
            out[i, k] = counts_array(
                [result.get_counts(j) for j in range(len(circuits))], n
            )
        print(f"\rsimulated {k + 1}/{len(ex.points)} points", end="", file=sys.stderr)
    print(file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, counts=out, seeds=np.asarray(seeds))
    return out


def evaluate(config: Config, counts: np.ndarray, fitter: str) -> dict[str, float]:
    """The metrics of one fitter on counts ``(seeds, points, 3^n, 2^n)``."""
    ex = Experiment(config)
    exact = np.array([ex.exact_state(p) for p in ex.points])
    exact_0 = np.array([ex.exact_initial(p) for p in ex.points])
    reference = [p.index - p.time_index for p in ex.points]

    start = time.perf_counter()
    fitted = fit_state(counts, fitter=fitter)
    seconds = time.perf_counter() - start

    errors: dict[str, list[np.ndarray]] = {"dI_AB": [], "dN_A": [], "I_AB": []}
    for p in ex.points:
        state = config.initial_state(p.correlation)
        got = batch_quantities(
            fitted[:, p.index], fitted[:, reference[p.index]], state, ex._observables
        )
        want = batch_quantities(
            exact[p.index], exact_0[p.index], state, ex._observables
        )
        for name, values in errors.items():
            values.append(got[name] - want[name])
    moving = np.array([p.time_index > 0 for p in ex.points])
    err_i = np.array(errors["dI_AB"])[moving]  # (points, seeds)
    err_n = np.array(errors["dN_A"])[moving]
    err_level = np.array(errors["I_AB"])
    return {
        "trace": float(trace_distance(fitted, exact[None]).mean()),
        "bias_dI": float(err_i.mean()),
        "abs_bias_dI": float(np.abs(err_i.mean(axis=1)).mean()),
        "rmse_dI": float(np.sqrt((err_i**2).mean())),
        "rmse_dN": float(np.sqrt((err_n**2).mean())),
        "rmse_I": float(np.sqrt((err_level**2).mean())),
        "ms_per_state": 1e3 * seconds / (counts.shape[0] * counts.shape[1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, nargs="?", default=HEADLINE)
    parser.add_argument("--shots", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--fitters", nargs="+", default=list(FITTERS), choices=FITTERS)
    parser.add_argument("--noise", choices=("ideal", "fake_torino"), default="ideal")
    parser.add_argument("--json", type=Path, help="append the results here")
    args = parser.parse_args(argv)

    base = load_config(args.config)
    seeds = list(range(1, args.seeds + 1))
    rows = []
    print(
        f"{args.config.name}, {args.noise}, {args.seeds} seeds x "
        f"{len(Experiment(base).points)} points"
    )
    print(
        f"{'shots':>6} {'fitter':>14} {'trace':>7} {'bias dI':>9} {'|bias| dI':>9} "
        f"{'rmse dI':>8} {'rmse dN':>8} {'rmse I':>8} {'ms/state':>8}"
    )
    for shots in args.shots:
        config = base.with_run(shots=shots)
        if args.noise == "ideal":
            counts = ideal_counts(config, seeds)
        else:
            cache = Path("runs") / f"counts_{args.noise}_{args.config.stem}_{shots}.npz"
            counts = noisy_counts(config, seeds, cache)
        for fitter in args.fitters:
            m = evaluate(config, counts, fitter)
            rows.append({"noise": args.noise, "shots": shots, "fitter": fitter, **m})
            print(
                f"{shots:>6} {fitter:>14} {m['trace']:>7.4f} {m['bias_dI']:>+9.5f} "
                f"{m['abs_bias_dI']:>9.5f} {m['rmse_dI']:>8.5f} {m['rmse_dN']:>8.5f} "
                f"{m['rmse_I']:>8.5f} {m['ms_per_state']:>8.2f}",
                flush=True,
            )
    if args.json:
        previous = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(previous + rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
