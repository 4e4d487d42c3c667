"""Readout mitigation: calibration circuits, tables, the tensored inverse, its use."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_density
from qiskit_aer import AerSimulator

from qcflow.mitigation import (
    MIN_CONTRAST,
    assignment_matrices,
    calibration_circuits,
    corrected_counts,
    mitigate_counts,
    readout_table,
)
from qcflow.tomography import basis_probabilities, fit_state, sample_counts

SHOTS = 20_000


def random_assignment(rng: np.random.Generator, n: int) -> np.ndarray:
    """``A[q, measured, prepared]`` with flip probabilities of a few percent."""
    flips = rng.uniform(0.01, 0.12, size=(n, 2))
    a = np.empty((n, 2, 2))
    a[:, 1, 0], a[:, 0, 1] = flips[:, 0], flips[:, 1]
    a[:, 0, 0], a[:, 1, 1] = 1 - flips[:, 0], 1 - flips[:, 1]
    return a


def dense_assignment(a: np.ndarray) -> np.ndarray:
    """``A_{n-1} (x) ... (x) A_0``: the little-endian Kronecker product, built apart."""
    out = np.ones((1, 1))
    for q in range(a.shape[0]):
        out = np.kron(a[q], out)
    return out


def table_of(a: np.ndarray, shots: float = 1.0) -> np.ndarray:
    """Calibration counts ``table[q, prepared, measured]`` of assignment matrices."""
    return np.swapaxes(a, -1, -2) * shots


@pytest.mark.parametrize("qubits", [[3, 1], [0], [4, 2, 0, 1]])
def test_calibration_circuits_measure_qubit_q_into_clbit_q(qubits):
    zeros, ones = calibration_circuits(5, qubits)
    for circuit, prepared in ((zeros, 0), (ones, 1)):
        measures = [
            (circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
            for i in circuit.data
            if i.operation.name == "measure"
        ]
        assert measures == [(p, q) for q, p in enumerate(qubits)]
        flipped = [
            circuit.find_bit(i.qubits[0]).index
            for i in circuit.data
            if i.operation.name == "x"
        ]
        assert flipped == (list(qubits) if prepared else [])
        assert [r.name for r in circuit.cregs] == ["meas"]


@pytest.mark.parametrize(
    "qubits, match", [([1, 1], "distinct"), ([5], "0..4"), ([-1], "0..4")]
)
def test_calibration_circuits_refuse_bad_qubits(qubits, match):
    with pytest.raises(ValueError, match=match):
        calibration_circuits(5, qubits)


def test_readout_table_reads_little_endian_keys():
    # "01": qubit 0 read 1, qubit 1 read 0.
    table = readout_table({"00": 90, "01": 10}, {"11": 70, "01": 30}, 2)
    np.testing.assert_array_equal(table[0], [[90, 10], [0, 100]])
    np.testing.assert_array_equal(table[1], [[100, 0], [30, 70]])


def test_readout_table_of_simulated_calibration():
    """A simulator with no noise reads every calibration perfectly."""
    circuits = calibration_circuits(3, [2, 0])
    result = AerSimulator().run(circuits, shots=50, seed_simulator=1).result()
    table = readout_table(result.get_counts(0), result.get_counts(1), 2)
    np.testing.assert_array_equal(table, [[[50, 0], [0, 50]]] * 2)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_mitigation_inverts_the_tensored_readout_exactly(n):
    rng = np.random.default_rng(100 + n)
    a = random_assignment(rng, n)
    p = basis_probabilities(random_density(rng, 2**n))
    observed = p @ dense_assignment(a).T
    np.testing.assert_allclose(
        mitigate_counts(observed * SHOTS, table_of(a, 1e6)), p * SHOTS, atol=1e-8
    )
    np.testing.assert_allclose(
        mitigate_counts(observed, table_of(a)).sum(axis=-1), 1.0, atol=1e-12
    )


def test_assignment_matrices_normalise_each_prepared_state():
    table = np.array([[[900, 100], [50, 150]]])
    np.testing.assert_allclose(assignment_matrices(table), [[[0.9, 0.25], [0.1, 0.75]]])


@pytest.mark.parametrize(
    "table, match",
    [
        (np.array([[[0, 0], [10, 90]]]), "at least one shot"),
        (np.array([[[50, 50], [50, 50]]]), "qubit 0 has contrast 0.000"),
        (
            np.array([[[99, 1], [1, 99]], [[52, 48], [48, 52]]]),
            f"qubit 1 has contrast 0.040; allowed: above {MIN_CONTRAST}",
        ),
    ],
)
def test_unusable_calibrations_are_refused(table, match):
    with pytest.raises(ValueError, match=match):
        assignment_matrices(table)


def test_mitigation_refuses_counts_of_another_width():
    with pytest.raises(ValueError, match="expected 2\\^2 = 4"):
        mitigate_counts(np.ones((9, 8)), np.array([[[9, 1], [1, 9]]] * 2))


def test_corrected_counts_are_whole_nonnegative_and_keep_the_shots():
    rng = np.random.default_rng(7)
    a = random_assignment(rng, 2)
    counts = rng.multinomial(1000, [0.7, 0.1, 0.15, 0.05], size=9)
    corrected = corrected_counts(counts, table_of(a, 1e5))
    assert corrected.dtype == np.int64
    assert np.all(corrected >= 0)
    np.testing.assert_array_equal(corrected.sum(axis=-1), counts.sum(axis=-1))


def test_corrected_counts_round_a_valid_distribution_by_less_than_one():
    rng = np.random.default_rng(8)
    a = random_assignment(rng, 3)
    p = basis_probabilities(random_density(rng, 8))
    observed = p @ dense_assignment(a).T * SHOTS
    corrected = corrected_counts(np.rint(observed).astype(int), table_of(a, 1e6))
    assert np.abs(corrected - p * SHOTS).max() < 2.0


def test_mitigated_fit_is_closer_to_the_true_state():
    """Readout error biases tomography; the corrected counts remove most of the bias."""
    rng = np.random.default_rng(9)
    n = 2
    a = random_assignment(rng, n)
    rho = random_density(rng, 2**n, rank=1)
    noisy = basis_probabilities(rho) @ dense_assignment(a).T
    counts = sample_counts(noisy, SHOTS, rng=rng)
    table = np.stack([sample_counts(table_of(a)[q], SHOTS, rng=rng) for q in range(n)])

    def distance(sigma: np.ndarray) -> float:
        return 0.5 * np.abs(np.linalg.eigvalsh(sigma - rho)).sum()

    raw = distance(fit_state(counts))
    mitigated = distance(fit_state(corrected_counts(counts, table)))
    assert mitigated < 0.5 * raw
