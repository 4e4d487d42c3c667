"""Executing tomography circuits: logical circuits in, count arrays out.

A runner receives, per point, the logical prepare-and-evolve circuit (system qubits
``0 .. 2M-1`` first, ancillas after) and returns the counts of every Pauli basis of the
system qubits as an array ``(3^(2M), 2^(2M))`` in logical, little-endian order. How the
circuits are compiled and which physical qubits are measured is the runner's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit

from qcflow.tomography import tomography_circuits


def counts_array(counts: Sequence[dict[str, int]], n_qubits: int) -> np.ndarray:
    """Qiskit count dictionaries (one per basis) as an array ``(n_bases, 2^n)``.

    Keys are little-endian bit strings over the measured qubits (spaces between
    registers are ignored).
    """
    out = np.zeros((len(counts), 2**n_qubits), dtype=np.int64)
    for b, table in enumerate(counts):
        for key, value in table.items():
            out[b, int(key.replace(" ", ""), 2)] += value
    return out


class AerRunner:
    """The ideal Aer statevector simulator, measuring the logical system qubits.

    Circuits of one call run in one simulator job, with experiments in parallel on all
    cores; every point's circuits share the point's seed.
    """

    name = "aer"

    def __init__(self, *, shots: int) -> None:
        from qiskit_aer import AerSimulator

        self.shots = shots
        # Tomography circuits are small: run them side by side rather than
        # parallelising inside one statevector.
        self.simulator: Any = AerSimulator(
            method="statevector", max_parallel_experiments=0
        )

    def run(
        self, circuits: Sequence[QuantumCircuit], n_system: int, seeds: Sequence[int]
    ) -> list[np.ndarray]:
        """Counts of every basis for each logical circuit.

        Args:
            circuits: prepare-and-evolve circuits, system qubits first.
            n_system: number of system qubits to measure.
            seeds: one simulator seed per circuit.
        """
        from qiskit import transpile

        batch: list[QuantumCircuit] = []
        for circuit in circuits:
            compiled = transpile(circuit, self.simulator, optimization_level=1)
            batch += tomography_circuits(compiled, n_system)
        n_bases = 3**n_system
        out = []
        for i, seed in enumerate(seeds):
            # One job per point keeps each point's counts a function of its own seed.
            job = self.simulator.run(
                batch[i * n_bases : (i + 1) * n_bases],
                shots=self.shots,
                seed_simulator=seed,
            )
            result = job.result()
            out.append(
                counts_array([result.get_counts(b) for b in range(n_bases)], n_system)
            )
        return out
