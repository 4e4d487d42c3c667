"""Purification of the initial state, fermionic swaps and orbital rotations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import random_orthogonal
from qiskit import QuantumCircuit
from qiskit.quantum_info import DensityMatrix, Operator, Statevector, partial_trace

from qcflow import reference
from qcflow.gates import (
    FSwapGate,
    givens_decomposition,
    givens_gate,
    interleaving_swaps,
    orbital_rotation,
)
from qcflow.model import Correlation, InitialState, Model
from qcflow.preparation import preparation_circuit

ATOL = 1e-10


def random_initial_state(rng: np.random.Generator) -> InitialState:
    """A random valid configuration; edge values are drawn with finite probability."""
    model = Model(
        n_modes=int(rng.integers(1, 4)),
        energy=float(rng.uniform(-2, 2)),
        hopping=float(rng.choice([0.0, rng.uniform(-1.5, 1.5)])),
        coupling=float(rng.uniform(-1.5, 1.5)),
    )
    correlation = Correlation(
        coherence=float(rng.choice([0.0, 1.0, rng.uniform()])),
        phase_deg=float(rng.uniform(-360, 360)),
        classical=float(rng.choice([-1.0, 0.0, 1.0, rng.uniform(-1, 1)])),
    )
    return InitialState(
        model,
        beta=float(rng.choice([0.0, rng.uniform(0, 3)])),
        mu_a=float(rng.uniform(-2, 2)),
        mu_b=float(rng.uniform(-2, 2)),
        correlation=correlation,
    )


EDGE_STATES = [
    InitialState(Model(1), 1.0, 1.5, 0.5, Correlation(1.0, -90.0, 0.0)),
    InitialState(Model(1), 1.0, 1.5, 0.5, Correlation(1.0, 30.0, 1.0)),
    InitialState(Model(1), 1.0, 1.5, 0.5, Correlation(1.0, 30.0, -1.0)),
    InitialState(Model(1), 0.0, 0.0, 0.0, Correlation(1.0, 45.0, 0.5)),
    InitialState(Model(1), 2.0, 0.5, 1.5, Correlation(0.0, 0.0, 0.0)),
    InitialState(Model(2, hopping=-0.8), 1.3, 2.0, -1.0, Correlation(1.0, 200.0, -1)),
    InitialState(Model(2, hopping=0.5), 0.0, 1.0, -1.0, Correlation(0.7, -90.0, 1.0)),
    InitialState(Model(3, hopping=0.4), 30.0, 1.2, 0.9, Correlation(1.0, 90.0, 0.3)),
    InitialState(Model(3, hopping=-1.1, energy=-0.5), 0.8, 0.1, 0.2, Correlation()),
    InitialState(Model(3), 1.0, -0.5, 1.5, Correlation(0.5, -45.0, -0.5)),
]
RANDOM_STATES = [random_initial_state(np.random.default_rng(s)) for s in range(24)]


def system_state(state: InitialState) -> np.ndarray:
    """Reduced state of qubits ``0 .. 2M-1`` of the preparation, ancillas traced out."""
    m = state.model.n_modes
    psi = Statevector(preparation_circuit(state))
    assert psi.num_qubits == 4 * m
    return partial_trace(psi, list(range(2 * m, 4 * m))).data


@pytest.mark.parametrize("state", EDGE_STATES + RANDOM_STATES)
def test_prepared_state_matches_reference_and_thermal_marginals(
    state: InitialState,
) -> None:
    m = state.model.n_modes
    rho = system_state(state)
    np.testing.assert_allclose(rho, reference.initial_density_matrix(state), atol=ATOL)
    assert np.trace(rho).real == pytest.approx(1.0, abs=ATOL)
    np.testing.assert_allclose(rho, rho.conj().T, atol=ATOL)
    assert np.linalg.eigvalsh(rho).min() >= -ATOL

    ops = reference.hamiltonian_matrices(state.model)
    a_qubits, b_qubits = list(range(m)), list(range(m, 2 * m))
    for h, n, mu, keep, traced in (
        (ops["H_A"], ops["N_A"], state.mu_a, a_qubits, b_qubits),
        (ops["H_B"], ops["N_B"], state.mu_b, b_qubits, a_qubits),
    ):
        gibbs = reference.gibbs_state(h, n, state.beta, mu)
        expected = partial_trace(DensityMatrix(gibbs), traced).data
        marginal = partial_trace(DensityMatrix(rho), traced).data
        np.testing.assert_allclose(marginal, expected, atol=ATOL, err_msg=str(keep))


@pytest.mark.parametrize("state", EDGE_STATES[:4] + RANDOM_STATES[:4])
def test_correlations_are_present_when_requested(state: InitialState) -> None:
    # Guards the marginal check above against a product state that ignores alpha, c.
    m = state.model.n_modes
    rho = system_state(state)
    rho_a = partial_trace(DensityMatrix(rho), list(range(m, 2 * m))).data
    rho_b = partial_trace(DensityMatrix(rho), list(range(m))).data
    correlated = any(abs(p.alpha) > 1e-6 or abs(p.c) > 1e-6 for p in state.pairs())
    distance = np.abs(rho - np.kron(rho_b, rho_a)).max()
    assert (distance > 1e-6) == correlated


def rotation_matrix(m: int, p: int, theta: float) -> np.ndarray:
    r = np.eye(m)
    c, s = np.cos(theta), np.sin(theta)
    r[p : p + 2, p : p + 2] = [[c, -s], [s, c]]
    return r


def assert_transforms_creators(unitary: np.ndarray, v: np.ndarray) -> None:
    """``U c_j^dag U^dag = sum_i V_ij c_i^dag`` for every mode j."""
    m = v.shape[0]
    c = reference.mode_matrices(m)
    for j in range(m):
        expected = sum(v[i, j] * c[i].conj().T for i in range(m))
        np.testing.assert_allclose(
            unitary @ c[j].conj().T @ unitary.conj().T, expected, atol=ATOL
        )


SPECIAL_ORTHOGONAL = [
    np.eye(3),
    -np.eye(2),
    np.diag([1.0, -1.0, -1.0, 1.0]),
    np.eye(3)[::-1],
    np.eye(4)[[1, 3, 0, 2]],
    rotation_matrix(3, 1, np.pi / 2),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("m", [2, 3, 4])
def test_orbital_rotation_of_random_orthogonal_matrix(seed: int, m: int) -> None:
    v = random_orthogonal(np.random.default_rng(seed), m)
    assert_transforms_creators(Operator(orbital_rotation(v)).data, v)


@pytest.mark.parametrize("v", SPECIAL_ORTHOGONAL)
def test_orbital_rotation_of_special_matrices(v: np.ndarray) -> None:
    assert_transforms_creators(Operator(orbital_rotation(v)).data, v)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("m", [2, 3, 4])
def test_givens_decomposition_factors_the_matrix(seed: int, m: int) -> None:
    v = random_orthogonal(np.random.default_rng(seed), m)
    rotations, signs = givens_decomposition(v)
    assert len(rotations) == m * (m - 1) // 2
    np.testing.assert_allclose(np.abs(signs), 1.0, atol=0)
    product = np.eye(m)
    for p, theta in rotations:
        product = product @ rotation_matrix(m, p, theta)
    np.testing.assert_allclose(product @ np.diag(signs), v, atol=ATOL)


@pytest.mark.parametrize("theta", [0.3, -1.2, np.pi / 2, 2.5])
def test_givens_gate_is_the_rotation_of_two_adjacent_modes(theta: float) -> None:
    qc = QuantumCircuit(3)
    qc.append(givens_gate(theta), [1, 2])
    assert_transforms_creators(Operator(qc).data, rotation_matrix(3, 1, theta))


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (np.ones((2, 3)), "expected a real square matrix"),
        (np.eye(2) * 1j, "expected a real square matrix"),
        (np.array([[1.0, 0.1], [0.0, 1.0]]), "not orthogonal"),
    ],
)
def test_givens_decomposition_rejects_bad_matrices(
    matrix: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        givens_decomposition(matrix)


def test_fswap_gate_matrix() -> None:
    expected = np.array(
        [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, -1]], dtype=complex
    )
    np.testing.assert_allclose(Operator(FSwapGate()).data, expected, atol=ATOL)


@pytest.mark.parametrize("p", range(3))
def test_fswap_exchanges_two_adjacent_modes(p: int) -> None:
    n = 4
    qc = QuantumCircuit(n)
    qc.append(FSwapGate(), [p, p + 1])
    permutation = np.eye(n)
    permutation[[p, p + 1]] = permutation[[p + 1, p]]
    assert_transforms_creators(Operator(qc).data, permutation)


@pytest.mark.parametrize("n_modes", range(1, 5))
def test_interleaving_swaps_count_and_order(n_modes: int) -> None:
    swaps = interleaving_swaps(n_modes)
    assert len(swaps) == n_modes * (n_modes - 1) // 2
    # Applying the swaps to the labels of a0 b0 a1 b1 ... sorts them into a0 .. b0 ..
    labels = [(k % 2) * n_modes + k // 2 for k in range(2 * n_modes)]
    for p in swaps:
        assert 0 <= p < 2 * n_modes - 1
        labels[p], labels[p + 1] = labels[p + 1], labels[p]
    assert labels == list(range(2 * n_modes))


@pytest.mark.parametrize("n_modes", [2, 3])
def test_interleaving_swaps_move_fermionic_modes(n_modes: int) -> None:
    m = n_modes
    qc = QuantumCircuit(2 * m)
    for p in interleaving_swaps(m):
        qc.append(FSwapGate(), [p, p + 1])
    # Column = interleaved position of a mode, row = its block position.
    v = np.zeros((2 * m, 2 * m))
    for k in range(m):
        v[k, 2 * k] = 1.0  # a_k
        v[m + k, 2 * k + 1] = 1.0  # b_k
    assert_transforms_creators(Operator(qc).data, v)


TWO_QUBIT_GATES = {"cx", "xx_plus_yy", "fswap"}


@pytest.mark.parametrize(
    "state",
    [s for s in EDGE_STATES if s.model.n_modes > 1]
    + [
        InitialState(Model(4, hopping=0.6), 1.0, 1.5, 0.5, Correlation(0.9, -90, 0.2)),
        InitialState(Model(4), 1.0, 1.5, 0.5, Correlation(0.9, -90, 0.2)),
    ],
)
def test_preparation_two_qubit_gate_counts(state: InitialState) -> None:
    m = state.model.n_modes
    qc = preparation_circuit(state)
    ops = qc.count_ops()
    names = {inst.operation.name for inst in qc.data if inst.operation.num_qubits > 1}
    assert names <= TWO_QUBIT_GATES
    n_pairs = m * (m - 1) // 2
    givens = 2 * n_pairs if state.model.hopping != 0 else 0
    assert ops.get("cx", 0) <= 4 * m
    assert ops.get("xx_plus_yy", 0) <= m + givens
    assert ops.get("fswap", 0) == n_pairs
    # Ancillas only ever interact with system qubits (by the copying CNOTs).
    for inst in qc.data:
        if inst.operation.num_qubits > 1:
            indices = [qc.find_bit(q).index for q in inst.qubits]
            assert min(indices) < 2 * m


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"coherence": 1.5}, r"coherence = 1\.5 is out of range; allowed: 0\.\.1"),
        ({"coherence": -0.1}, r"coherence = -0\.1 is out of range"),
        ({"classical": -1.01}, r"classical = -1\.01 is out of range; allowed: -1"),
        ({"phase_deg": float("nan")}, "phase_deg = nan"),
    ],
)
def test_correlation_out_of_range_is_a_clear_error(
    kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        Correlation(**kwargs)


@pytest.mark.parametrize(
    ("classical", "coherence"), list(itertools.product([-1.0, 0.0, 1.0], [0.0, 1.0]))
)
def test_pair_state_positivity_bounds_are_saturated(
    classical: float, coherence: float
) -> None:
    correlation = Correlation(coherence, 20.0, classical)
    state = InitialState(Model(1), 0.7, 1.1, -0.3, correlation)
    (pair,) = state.pairs()
    p00, p01, p10, p11 = pair.populations()
    assert min(p00, p11) >= -ATOL
    assert abs(pair.alpha) ** 2 <= (p01 * p10) + ATOL
    rho = reference.initial_density_matrix(state)
    values = np.linalg.eigvalsh(rho)
    assert values.min() >= -ATOL
    # At an end of either range the state sits on the boundary of positivity.
    if classical != 0.0 or coherence == 1.0:
        assert values.min() == pytest.approx(0.0, abs=ATOL)
