"""One tomography point three ways, timed in the same run on the same machine.

For one point of the headline configuration (n_modes 2, 81 bases, 4000 shots, ideal Aer,
the correlated setting at t = 0.2):

- qcflow's full point (build circuits, simulate, fit, compute every quantity), on the
  sampled path (``method = "state"``) and on the circuit path (``"circuits"``);
- ``qiskit_experiments.library.StateTomography`` on the same prepared-and-evolved
  circuit with ``measurement_indices`` the system qubits, run on Aer and analysed with
  its default fitter and with ``linear_inversion`` (in qiskit-experiments 0.14 the
  default *is* linear inversion with a PSD rescaling; both are timed);
- the exact limit: the reduced state from the circuit's statevector and multinomial
  sampling of the 81 basis distributions, without measurement circuits.

Prints medians over repeats, the ratios, and, as its last line,
``ratio qcflow/qiskit-experiments sampled=X circuit=Y``.

Needs the benchmark extra: ``pip install -e ".[bench]"``.

Usage: ``python benchmarks/bench_tomography.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: imports, caches, simulator start-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from qiskit.quantum_info import Statevector
    from qiskit_aer import AerSimulator
    from qiskit_experiments.library import StateTomography

    from qcflow.config import load_config
    from qcflow.experiment import Experiment, full_circuit, system_state
    from qcflow.tomography import basis_probabilities, sample_counts

    root = Path(__file__).resolve().parents[1]
    headline = load_config(root / "experiments" / "anomalous_flow.toml")
    # The correlated setting at t = 0.2, with its t = 0 reference already measured.
    config = dataclasses.replace(
        headline,
        state=dataclasses.replace(headline.state, coherence=(0.9,)),
        exchange=dataclasses.replace(headline.exchange, times=(0.0, 0.2)),
    )
    n_system = config.model.n_qubits
    reference, point = Experiment(config).points
    reference_counts = Experiment(config).measure(reference)

    def qcflow_point(method: str, bootstrap: int = 0) -> Callable[[], object]:
        def run() -> object:
            # A fresh Experiment each time: circuits, exact states, fit, quantities.
            # Without the bootstrap it delivers what StateTomography does (one fitted
            # state) plus the quantities; the bootstrap's cost is timed on its own.
            experiment = Experiment(config.with_run(method=method, bootstrap=bootstrap))
            (result,) = experiment.run(done={reference.index: reference_counts})
            return result

        return run

    circuit = full_circuit(config, point.correlation, point.time)
    simulator = AerSimulator(seed_simulator=config.run.seed)

    def qiskit_experiments(fitter: str | None) -> Callable[[], object]:
        def run() -> object:
            experiment = StateTomography(circuit, measurement_indices=range(n_system))
            if fitter is not None:
                experiment.analysis.set_options(fitter=fitter)
            data = experiment.run(
                simulator, shots=config.run.shots, seed_simulator=config.run.seed
            ).block_for_results()
            return data.analysis_results("state", dataframe=False).value

        return run

    rng = np.random.default_rng(config.run.seed)

    def exact_limit() -> object:
        psi = Statevector(circuit).data
        rho = system_state(psi, config.system.n_modes)
        return sample_counts(basis_probabilities(rho), config.run.shots, rng=rng)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = {
            "qcflow sampled": median_time(qcflow_point("state"), args.repeats),
            "qcflow circuit": median_time(qcflow_point("circuits"), args.repeats),
            "qcflow sampled, 200 bootstrap refits": median_time(
                qcflow_point("state", 200), args.repeats
            ),
            "qiskit-experiments default": median_time(
                qiskit_experiments(None), args.repeats
            ),
            "qiskit-experiments linear_inversion": median_time(
                qiskit_experiments("linear_inversion"), args.repeats
            ),
            "exact limit": median_time(exact_limit, args.repeats),
        }

    print(
        f"one point: n_modes 2, {3**n_system} bases, {config.run.shots} shots, "
        f"median of {args.repeats}"
    )
    for name, seconds in times.items():
        print(f"  {name:<38} {seconds * 1e3:10.2f} ms")
    qe = times["qiskit-experiments default"]
    exact = times["exact limit"]
    sampled, circuits = times["qcflow sampled"], times["qcflow circuit"]
    print(f"qcflow sampled / exact limit = {sampled / exact:.2f}")
    print(f"qcflow circuit / exact limit = {circuits / exact:.2f}")
    print(
        f"ratio qcflow/qiskit-experiments sampled={sampled / qe:.3f} "
        f"circuit={circuits / qe:.2f}"
    )


if __name__ == "__main__":
    main()
