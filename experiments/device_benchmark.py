"""The headline configuration on a fake device: cost, noise and readout mitigation.

Runs ``experiments/anomalous_flow.toml`` on ``fake_torino`` (or ``--backend``) exactly
as ``qcflow run --backend fake_torino`` does, then reports:

- the two-qubit gate count and depth of prepare + evolve at ``t = 0.2`` and the
  measured physical qubits;
- the wall time of the whole noisy run (of this invocation: a resumed run is faster);
- whether the anomalous sign of ``dN_A`` at ``t = 0.2`` survives the noise;
- the trace distance of the fitted ``rho_AB(0)`` to the exact state, with and without
  readout mitigation, from the same stored counts and calibration, at the headline's
  shots and again, from a run of the ``t = 0`` points alone, at ``--t0-shots``; beside
  them the shot-noise floor, the mean distance of fits to ideal samples of the exact
  state with as many shots (10 seeds);
- the noise diagnostics ``max |dS_AB|`` and ``max |N_drift|`` (both 0 when exact).

Usage: ``python experiments/device_benchmark.py [--backend fake_torino] [--out DIR]
[--t0-shots 40000]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from qcflow.cli import main as qcflow
from qcflow.config import Config, config_from_dict, load_config
from qcflow.experiment import Experiment
from qcflow.results import RunDirectory, read_rows
from qcflow.tomography import basis_probabilities, sample_counts

HEADLINE = Path(__file__).with_name("anomalous_flow.toml")
TIME = 0.2


def trace_distance(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(np.linalg.eigvalsh(a - b)).sum())


def t0_distances(config: Config, out: Path) -> None:
    """Print the t = 0 trace distances of a finished run, raw and mitigated."""
    experiment = Experiment(config)
    directory = RunDirectory(out, config)
    counts = directory.finished()
    experiment.readout.update(directory.readouts)
    for point in experiment.points:
        if point.time_index != 0:
            continue
        exact = experiment.exact_state(point)
        raw = experiment.fit(counts[point.index])
        mitigated = experiment.fit(experiment.corrected(point, counts[point.index]))
        probabilities = basis_probabilities(exact)
        floor = np.mean(
            [
                trace_distance(
                    experiment.fit(
                        sample_counts(
                            probabilities,
                            config.run.shots,
                            rng=np.random.default_rng([seed, point.setting_index]),
                        )
                    ),
                    exact,
                )
                for seed in range(10)
            ]
        )
        print(
            f"coherence {point.correlation.coherence}, {config.run.shots} shots: "
            f"t = 0 trace distance of rho_AB to exact: "
            f"{trace_distance(raw, exact):.4f} raw, "
            f"{trace_distance(mitigated, exact):.4f} readout-mitigated "
            f"(shot-noise floor {floor:.4f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="fake_torino")
    parser.add_argument("--out", type=Path, help="default: runs/<backend>")
    parser.add_argument("--t0-shots", type=int, default=40_000)
    args = parser.parse_args()
    out = args.out or Path("runs") / args.backend

    start = time.perf_counter()
    code = qcflow(
        ["run", str(HEADLINE), "--backend", args.backend, "--out", str(out), "--quiet"]
    )
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(code)

    config = load_config(out / "config.toml")
    rows = read_rows(out)
    print(f"\n## {args.backend}, seed {config.run.seed}, {config.run.shots} shots")
    print(f"wall time of the run: {wall:.0f} s")
    for row in rows:
        if abs(row["time"] - TIME) < 1e-12:
            print(
                f"coherence {row['coherence']}: t = {TIME}: two-qubit gates "
                f"{row['two_qubit_gates']}, depth {row['depth']}, physical qubits "
                f"{row['physical_qubits']}; dN_A = {row['dN_A']:.4f} (exact "
                f"{row['dN_A_exact']:.4f}), flow {row['flow']} (exact "
                f"{row['flow_exact']})"
            )

    d_s = max(abs(r["dS_AB"]) for r in rows)
    drift = max(abs(r["N_drift"]) for r in rows)
    print(f"max |dS_AB| = {d_s:.4f}, max |N_drift| = {drift:.4f}")
    t0_distances(config, out)

    data = config.to_dict()
    data["exchange"]["times"] = [0.0]
    data["run"]["shots"] = args.t0_shots
    t0_config = config_from_dict(data)
    t0_out = out.with_name(f"{out.name}_t0_{args.t0_shots}")
    (t0_out).mkdir(parents=True, exist_ok=True)
    t0_file = t0_out / "t0.toml"
    t0_file.write_text(t0_config.to_toml(), encoding="utf-8")
    code = qcflow(["run", str(t0_file), "--out", str(t0_out), "--quiet"])
    if code != 0:
        raise SystemExit(code)
    t0_distances(t0_config, t0_out)


if __name__ == "__main__":
    main()
