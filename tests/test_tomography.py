"""Pauli-basis tomography: conventions, exact inversion, projection, shot noise."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_density, random_unitary
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import DensityMatrix, Statevector, partial_trace
from qiskit_aer import AerSimulator

from qcflow.backends import AerRunner, counts_array
from qcflow.model import Correlation, InitialState, Model
from qcflow.preparation import preparation_circuit
from qcflow.tomography import (
    basis_labels,
    basis_probabilities,
    fit_state,
    linear_inversion,
    measurement_circuit,
    n_bases,
    project_simplex,
    project_to_density,
    sample_counts,
    tomography_circuits,
)

ATOL = 1e-12

# Shot-noise tolerances, in standard errors. With equal weight on all 3^n bases, a
# Pauli expectation of weight w is averaged over 3^(n-w) bases of `shots` each, so the
# mean squared Frobenius error of linear inversion is at most (5/3)^n / shots; the
# projection onto states can only bring the estimate closer to a true state.
K_SIGMA = 4.0


def frobenius_tolerance(n_qubits: int, shots: int) -> float:
    return K_SIGMA * np.sqrt((5 / 3) ** n_qubits / shots)


def trace_distance(x: np.ndarray, y: np.ndarray) -> float:
    return 0.5 * float(np.abs(np.linalg.eigvalsh(x - y)).sum())


def z_expectation(rho: np.ndarray, qubit: int) -> float:
    n = int(np.log2(rho.shape[0]))
    others = [q for q in range(n) if q != qubit]
    reduced = partial_trace(DensityMatrix(rho), others).data
    return float((reduced[0, 0] - reduced[1, 1]).real)


def assert_recovered(fitted: np.ndarray, rho: np.ndarray, shots: int) -> None:
    n = int(np.log2(rho.shape[0]))
    tol = frobenius_tolerance(n, shots)
    assert np.linalg.norm(fitted - rho) <= tol
    # 1/2 ||X||_1 <= 1/2 sqrt(d) ||X||_F.
    assert trace_distance(fitted, rho) <= 0.5 * np.sqrt(2**n) * tol
    assert np.trace(fitted).real == pytest.approx(1.0, abs=1e-10)
    assert np.linalg.eigvalsh(fitted).min() >= -1e-10


# Conventions --------------------------------------------------------------------------


@pytest.mark.parametrize("n_qubits", range(1, 5))
def test_basis_labels_follow_the_index_convention(n_qubits: int) -> None:
    labels = basis_labels(n_qubits)
    assert len(labels) == n_bases(n_qubits) == 3**n_qubits
    for index, label in enumerate(labels):
        assert len(label) == n_qubits
        for q in range(n_qubits):
            digit = index // 3**q % 3  # X = 0, Y = 1, Z = 2
            assert label[n_qubits - 1 - q] == "XYZ"[digit], (index, label, q)


@pytest.mark.parametrize("label", ["XQ", "xz", "ZZI"])
def test_measurement_circuit_rejects_unknown_basis(label: str) -> None:
    with pytest.raises(ValueError, match=r"allowed: X, Y, Z"):
        measurement_circuit(label)


@pytest.mark.parametrize("n_qubits", [1, 2, 3])
def test_probabilities_match_qiskit_measurement(n_qubits: int) -> None:
    rng = np.random.default_rng(10 + n_qubits)
    d = 2**n_qubits
    states = [random_density(rng, d), random_density(rng, d, rank=1)]
    probabilities = basis_probabilities(np.stack(states))
    assert probabilities.shape == (2, 3**n_qubits, d)
    for rho, p in zip(states, probabilities, strict=True):
        for b, label in enumerate(basis_labels(n_qubits)):
            qc = measurement_circuit(label)
            assert qc.num_clbits == n_qubits
            qc.remove_final_measurements()
            expected = DensityMatrix(rho).evolve(qc).probabilities()
            np.testing.assert_allclose(p[b], expected, atol=ATOL, err_msg=label)


@pytest.mark.parametrize("n_qubits", [1, 2, 3])
def test_measurement_circuit_puts_qubit_q_on_clbit_q(n_qubits: int) -> None:
    sim = AerSimulator(method="statevector")
    for flipped in range(n_qubits):
        qc = QuantumCircuit(n_qubits)
        qc.x(flipped)
        qc.compose(measurement_circuit("Z" * n_qubits), inplace=True)
        counts = sim.run(qc, shots=10, seed_simulator=1).result().get_counts()
        assert counts_array([counts], n_qubits)[0, 1 << flipped] == 10


# Exact inversion and projection -------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, None])
@pytest.mark.parametrize("n_qubits", [1, 2, 3, 4])
def test_linear_inversion_of_exact_probabilities(n_qubits: int, rank: int) -> None:
    rng = np.random.default_rng(100 * n_qubits + (rank or 0))
    rho = random_density(rng, 2**n_qubits, rank=rank)
    np.testing.assert_allclose(
        linear_inversion(basis_probabilities(rho)), rho, atol=ATOL
    )
    np.testing.assert_allclose(fit_state(basis_probabilities(rho)), rho, atol=1e-10)


def test_linear_inversion_is_batched() -> None:
    rng = np.random.default_rng(7)
    states = np.stack(
        [np.stack([random_density(rng, 4) for _ in range(3)]) for _ in range(2)]
    )
    probabilities = basis_probabilities(states)
    assert probabilities.shape == (2, 3, 9, 4)
    batched = linear_inversion(probabilities)
    assert batched.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(batched, states, atol=ATOL)
    np.testing.assert_allclose(fit_state(probabilities), states, atol=1e-10)
    for index in np.ndindex(2, 3):
        np.testing.assert_allclose(
            basis_probabilities(states[index]), probabilities[index], atol=ATOL
        )


def test_linear_inversion_normalises_each_basis_by_its_own_shots() -> None:
    rng = np.random.default_rng(8)
    rho = random_density(rng, 4)
    p = basis_probabilities(rho)
    weights = rng.integers(1, 50, size=(9, 1))
    np.testing.assert_allclose(linear_inversion(p * weights), rho, atol=ATOL)


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        (np.ones((3, 4)), r"expected \(\.\.\., 3\^n, 2\^n\)"),
        (np.ones((9, 3)), r"expected \(\.\.\., 3\^n, 2\^n\)"),
        (np.vstack([np.zeros((1, 4)), np.ones((8, 4))]), "at least one shot"),
    ],
)
def test_linear_inversion_rejects_bad_counts(counts: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        linear_inversion(counts)


def smolin_gambetta_smith(values: np.ndarray) -> np.ndarray:
    """The loop of Smolin, Gambetta and Smith on eigenvalues summing to one."""
    order = np.argsort(values)[::-1]
    mu = values[order]
    lam = np.zeros_like(mu)
    i = len(mu)
    a = 0.0
    while i > 0 and mu[i - 1] + a / i < 0:
        a += mu[i - 1]
        i -= 1
    for j in range(i):
        lam[j] = mu[j] + a / i
    out = np.empty_like(lam)
    out[order] = lam
    return out


def unit_trace_hermitian(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A Hermitian matrix of unit trace with several negative eigenvalues."""
    values = rng.normal(size=dim) * 0.6
    values += (1.0 - values.sum()) / dim
    u = random_unitary(rng, dim)
    return (u * values) @ u.conj().T


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dim", [2, 4, 8])
def test_projection_matches_smolin_gambetta_smith(seed: int, dim: int) -> None:
    rng = np.random.default_rng(seed)
    sigma = unit_trace_hermitian(rng, dim)
    values, vectors = np.linalg.eigh(sigma)
    expected_values = smolin_gambetta_smith(values)
    np.testing.assert_allclose(project_simplex(values), expected_values, atol=ATOL)
    expected = (vectors * expected_values) @ vectors.conj().T
    np.testing.assert_allclose(project_to_density(sigma), expected, atol=ATOL)


@pytest.mark.parametrize("seed", range(4))
def test_project_simplex_is_batched_and_lands_on_the_simplex(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(5, 6)) * 2
    projected = project_simplex(rows)
    assert projected.min() >= 0
    np.testing.assert_allclose(projected.sum(axis=-1), 1.0, atol=ATOL)
    for row, out in zip(rows, projected, strict=True):
        np.testing.assert_allclose(project_simplex(row), out, atol=ATOL)
        # No point of the simplex is closer: compare with random simplex points.
        others = rng.dirichlet(np.ones(6), size=200)
        assert np.linalg.norm(row - out) <= np.linalg.norm(row - others, axis=1).min()


@pytest.mark.parametrize("rank", [1, 3, None])
def test_projections_are_idempotent_on_valid_states(rank: int) -> None:
    rng = np.random.default_rng(rank or 0)
    rho = random_density(rng, 8, rank=rank)
    np.testing.assert_allclose(project_to_density(rho), rho, atol=ATOL)
    p = rng.dirichlet(np.ones(8))
    np.testing.assert_allclose(project_simplex(p), p, atol=ATOL)
    once = project_to_density(unit_trace_hermitian(rng, 8))
    np.testing.assert_allclose(project_to_density(once), once, atol=ATOL)


# Recovery from sampled counts ---------------------------------------------------------


def product_zero_plus() -> np.ndarray:
    """Qubit 1 in |0>, qubit 0 in |+>."""
    psi = np.kron([1.0, 0.0], [1.0, 1.0]) / np.sqrt(2)
    return np.outer(psi, psi)


def bell() -> np.ndarray:
    psi = np.array([1.0, 0.0, 0.0, 1.0]) / np.sqrt(2)
    return np.outer(psi, psi)


KNOWN_STATES = {
    "zero_plus": product_zero_plus(),
    "bell": bell(),
    "mixed_2": random_density(np.random.default_rng(21), 4),
    "mixed_3": random_density(np.random.default_rng(22), 8, rank=3),
    "pure_3": random_density(np.random.default_rng(23), 8, rank=1),
}


@pytest.mark.parametrize("shots", [2000, 20000])
@pytest.mark.parametrize("name", sorted(KNOWN_STATES))
def test_fit_recovers_known_states_from_samples(name: str, shots: int) -> None:
    rho = KNOWN_STATES[name]
    rng = np.random.default_rng(shots)
    counts = sample_counts(basis_probabilities(rho), shots, rng=rng)
    assert counts.shape == (n_bases(int(np.log2(len(rho)))), len(rho))
    np.testing.assert_array_equal(counts.sum(axis=-1), shots)
    n = int(np.log2(len(rho)))
    raw = linear_inversion(counts)
    assert np.linalg.norm(raw - rho) <= frobenius_tolerance(n, shots)
    assert_recovered(fit_state(counts), rho, shots)


def test_sample_counts_is_reproducible_with_the_seed() -> None:
    p = basis_probabilities(bell())
    first = sample_counts(p, 100, rng=np.random.default_rng(5))
    again = sample_counts(p, 100, rng=np.random.default_rng(5))
    other = sample_counts(p, 100, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


SHOTS_Z = 400
# A Z eigenstate gives deterministic Z outcomes; allow K_SIGMA single-basis errors.
Z_TOL = K_SIGMA / np.sqrt(SHOTS_Z)


def flipped_circuit(flipped: int, n_system: int) -> QuantumCircuit:
    """X on one system qubit; one more qubit, an ancilla, in |+> and never measured."""
    qc = QuantumCircuit(n_system + 1)
    qc.x(flipped)
    qc.h(n_system)
    return qc


def assert_single_flip(fitted: np.ndarray, flipped: int) -> None:
    n = int(np.log2(fitted.shape[0]))
    for q in range(n):
        expected = -1.0 if q == flipped else 1.0
        assert z_expectation(fitted, q) == pytest.approx(expected, abs=Z_TOL), q


@pytest.mark.parametrize("flipped", range(3))
def test_qubit_order_in_sampled_tomography(flipped: int) -> None:
    psi = Statevector(flipped_circuit(flipped, 3))
    rho = partial_trace(psi, [3]).data
    counts = sample_counts(
        basis_probabilities(rho), SHOTS_Z, rng=np.random.default_rng(flipped)
    )
    assert_single_flip(fit_state(counts), flipped)


# Recovery from Aer circuits -----------------------------------------------------------


def run_tomography(base: QuantumCircuit, n_system: int, shots: int) -> np.ndarray:
    sim = AerSimulator(method="statevector")
    circuits = tomography_circuits(transpile(base, sim), n_system)
    assert len(circuits) == 3**n_system
    for qc, label in zip(circuits, basis_labels(n_system), strict=True):
        assert qc.num_clbits == n_system
        assert qc.name == label
    result = sim.run(circuits, shots=shots, seed_simulator=11).result()
    counts = counts_array(
        [result.get_counts(i) for i in range(len(circuits))], n_system
    )
    np.testing.assert_array_equal(counts.sum(axis=-1), shots)
    return fit_state(counts)


def entangled_with_ancillas(rng: np.random.Generator) -> QuantumCircuit:
    """Three system qubits entangled with two ancillas (qubits 3, 4)."""
    qc = QuantumCircuit(5)
    for layer in range(2):
        for q in range(5):
            qc.ry(rng.uniform(0, np.pi), q)
            qc.rz(rng.uniform(0, 2 * np.pi), q)
        for q in range(4):
            qc.cx(q, q + 1) if layer == 0 else qc.cx(q + 1, q)
    return qc


AER_CASES = {
    "prepared_pair": (
        preparation_circuit(
            InitialState(Model(1), 1.0, 1.5, 0.5, Correlation(0.8, -90.0, 0.3))
        ),
        2,
    ),
    "entangled_3": (entangled_with_ancillas(np.random.default_rng(4)), 3),
}


@pytest.mark.parametrize("name", sorted(AER_CASES))
def test_fit_recovers_aer_circuits_with_unmeasured_ancillas(name: str) -> None:
    base, n_system = AER_CASES[name]
    assert base.num_qubits > n_system
    shots = 4000
    ancillas = list(range(n_system, base.num_qubits))
    rho = partial_trace(Statevector(base), ancillas).data
    # The system state is mixed: the ancillas matter.
    assert np.trace(rho @ rho).real < 0.99
    assert_recovered(run_tomography(base, n_system, shots), rho, shots)


@pytest.mark.parametrize("flipped", range(3))
def test_qubit_order_in_aer_tomography(flipped: int) -> None:
    assert_single_flip(run_tomography(flipped_circuit(flipped, 3), 3, SHOTS_Z), flipped)


@pytest.mark.parametrize("flipped", range(3))
def test_qubit_order_through_the_aer_runner(flipped: int) -> None:
    runner = AerRunner(shots=SHOTS_Z)
    (counts,) = runner.run([flipped_circuit(flipped, 3)], 3, [17])
    assert counts.shape == (27, 8)
    assert_single_flip(fit_state(counts), flipped)


def test_aer_runner_recovers_a_state_with_unmeasured_ancillas() -> None:
    base, n_system = AER_CASES["entangled_3"]
    shots = 4000
    rho = partial_trace(Statevector(base), list(range(n_system, 5))).data
    first, second = AerRunner(shots=shots).run([base, base], n_system, [3, 3])
    np.testing.assert_array_equal(first, second)
    assert_recovered(fit_state(first), rho, shots)


@pytest.mark.parametrize(
    ("keys", "n_qubits"),
    [(["001", "100", "110"], 3), (["01", "10"], 2)],
)
def test_counts_array_reads_keys_little_endian(keys: list[str], n_qubits: int) -> None:
    table = {key: 3 + i for i, key in enumerate(keys)}
    out = counts_array([table, {}], n_qubits)
    assert out.shape == (2, 2**n_qubits)
    for key, value in table.items():
        index = sum(int(bit) << q for q, bit in enumerate(reversed(key)))
        assert out[0, index] == value
    assert out.sum() == sum(table.values())


ROTATIONS = {"X": ["h"], "Y": ["sdg", "h"], "Z": []}


def test_tomography_circuits_rotate_and_measure_the_right_qubits() -> None:
    base = QuantumCircuit(3)  # qubit 2 is an ancilla
    for qc, label in zip(tomography_circuits(base, 2), basis_labels(2), strict=True):
        gates: dict[int, list[str]] = {0: [], 1: [], 2: []}
        measured: dict[int, int] = {}
        for inst in qc.data:
            q = qc.find_bit(inst.qubits[0]).index
            if inst.operation.name == "measure":
                measured[q] = qc.find_bit(inst.clbits[0]).index
            else:
                gates[q].append(inst.operation.name)
        assert measured == {0: 0, 1: 1}
        assert gates[0] == ROTATIONS[label[-1]]
        assert gates[1] == ROTATIONS[label[0]]
        assert gates[2] == []
