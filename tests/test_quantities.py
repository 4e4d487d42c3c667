"""Entropies, relative entropies, partial traces and the quantities of one point."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from conftest import random_density, random_unitary
from qiskit.quantum_info import DensityMatrix, partial_trace

from qcflow import reference
from qcflow.model import Correlation, InitialState, Model
from qcflow.quantities import (
    QUANTITIES,
    Observables,
    entropy,
    flow_direction,
    partial_traces,
    point_quantities,
    relative_entropy,
)

ATOL = 1e-12


def logm_relative_entropy(rho: np.ndarray, sigma: np.ndarray) -> float:
    return float(
        np.trace(rho @ (scipy.linalg.logm(rho) - scipy.linalg.logm(sigma))).real
    )


@pytest.mark.parametrize("n_qubits", [1, 2, 3])
def test_entropy_of_maximally_mixed_state_is_in_nats(n_qubits: int) -> None:
    d = 2**n_qubits
    assert entropy(np.eye(d) / d) == pytest.approx(math.log(d), abs=ATOL)


@pytest.mark.parametrize("seed", range(4))
def test_entropy_matches_matrix_logarithm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rho = random_density(rng, 4)
    expected = -np.trace(rho @ scipy.linalg.logm(rho)).real
    assert entropy(rho) == pytest.approx(expected, abs=1e-10)


def test_entropy_is_batched() -> None:
    rng = np.random.default_rng(3)
    states = np.stack([random_density(rng, 4, rank=r) for r in (1, 2, 4)])
    values = entropy(states)
    assert values.shape == (3,)
    for rho, value in zip(states, values, strict=True):
        assert entropy(rho) == pytest.approx(value, abs=ATOL)
    assert values[0] == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("negative", [0.0, -1e-15, -1e-13, -1e-17])
def test_entropy_ignores_zero_and_tiny_negative_eigenvalues(negative: float) -> None:
    rng = np.random.default_rng(5)
    u = random_unitary(rng, 4)
    values = np.array([0.6 - negative, 0.4, negative, 0.0])
    rho = (u * values) @ u.conj().T
    result = entropy(rho)
    assert np.isfinite(result)
    p = np.array([0.6 - negative, 0.4])
    assert result == pytest.approx(-np.sum(p * np.log(p)), abs=1e-10)
    pure = np.diag([1.0 - negative, negative])
    assert entropy(pure) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dim", [2, 4, 8])
def test_relative_entropy_matches_matrix_logarithm(seed: int, dim: int) -> None:
    rng = np.random.default_rng(seed)
    rho, sigma = random_density(rng, dim), random_density(rng, dim)
    assert relative_entropy(rho, sigma) == pytest.approx(
        logm_relative_entropy(rho, sigma), abs=1e-10
    )
    assert relative_entropy(rho, sigma) > 0


@pytest.mark.parametrize("rank", [1, 2, None])
def test_relative_entropy_of_equal_states_is_zero(rank: int | None) -> None:
    rho = random_density(np.random.default_rng(9), 4, rank=rank)
    assert relative_entropy(rho, rho) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_relative_entropy_is_infinite_outside_the_support(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u = random_unitary(rng, 4)
    sigma = (u * np.array([0.5, 0.5, 0.0, 0.0])) @ u.conj().T
    rho = random_density(rng, 4)
    assert relative_entropy(rho, sigma) == math.inf
    # A pure state with a small weight outside the support of sigma.
    psi = u[:, 0] * np.sqrt(1 - 1e-6) + u[:, 3] * 1e-3
    assert relative_entropy(np.outer(psi, psi.conj()), sigma) == math.inf


@pytest.mark.parametrize("seed", range(3))
def test_relative_entropy_inside_a_smaller_support(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u = random_unitary(rng, 4)
    block_rho, block_sigma = random_density(rng, 2), random_density(rng, 2)
    embed = u[:, :2]
    rho = embed @ block_rho @ embed.conj().T
    sigma = embed @ block_sigma @ embed.conj().T
    result = relative_entropy(rho, sigma)
    assert np.isfinite(result)
    assert result == pytest.approx(
        logm_relative_entropy(block_rho, block_sigma), abs=1e-10
    )


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("n_modes", [1, 2, 3])
def test_partial_traces_match_qiskit(n_modes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = n_modes
    states = np.stack([random_density(rng, 4**m) for _ in range(2)])
    rho_a, rho_b = partial_traces(states, m)
    assert rho_a.shape == rho_b.shape == (2, 2**m, 2**m)
    for k, rho in enumerate(states):
        expected_a = partial_trace(DensityMatrix(rho), list(range(m, 2 * m))).data
        expected_b = partial_trace(DensityMatrix(rho), list(range(m))).data
        np.testing.assert_allclose(rho_a[k], expected_a, atol=ATOL)
        np.testing.assert_allclose(rho_b[k], expected_b, atol=ATOL)


def test_partial_traces_of_a_product_state() -> None:
    rng = np.random.default_rng(12)
    a, b = random_density(rng, 4), random_density(rng, 4)
    rho_a, rho_b = partial_traces(np.kron(b, a), 2)  # B on the high qubits
    np.testing.assert_allclose(rho_a, a, atol=ATOL)
    np.testing.assert_allclose(rho_b, b, atol=ATOL)


def exact_quantities(state: InitialState, time: float) -> dict[str, float]:
    ops = reference.hamiltonian_matrices(state.model)
    u = reference.evolution_matrix(ops["H_A"] + ops["H_B"] + ops["H_I"], time)
    rho_0 = reference.initial_density_matrix(state)
    rho_t = u @ rho_0 @ u.conj().T
    return point_quantities(rho_t, rho_0, state, Observables.of(state))


WORKED = InitialState(
    Model(n_modes=1, energy=1.0, coupling=1.0), beta=1.0, mu_a=1.5, mu_b=0.5
)


def test_worked_number_of_the_physics_notes() -> None:
    f_a, f_b = WORKED.occupations()
    assert f_a[0] == pytest.approx(0.622459, abs=1e-6)
    assert f_b[0] == pytest.approx(0.377541, abs=1e-6)
    q = exact_quantities(WORKED, 0.5)
    assert q["dN_A"] == pytest.approx(-0.056294, abs=1e-6)
    assert q["dI_AB"] == pytest.approx(0.043037, abs=1e-6)
    assert q["D_A"] == pytest.approx(0.006629, abs=1e-6)
    assert q["D_B"] == pytest.approx(0.006629, abs=1e-6)
    assert q["bound"] == pytest.approx(-WORKED.beta * (1.5 - 0.5) * q["dN_A"])
    assert q["margin"] == pytest.approx(q["D_A"] + q["D_B"], abs=1e-10)
    assert flow_direction(q["dN_A"], WORKED.mu_a, WORKED.mu_b) == "conventional"


STATES = [
    WORKED,
    InitialState(Model(2, hopping=0.5), 1.0, 1.5, 0.5, Correlation(0.9, -90.0, 0.0)),
    InitialState(
        Model(2, hopping=-0.3, interaction=0.8),
        0.7,
        0.2,
        1.1,
        Correlation(0.6, 40.0, -0.4),
    ),
    InitialState(
        Model(3, hopping=0.4, interaction=-0.5),
        1.2,
        1.0,
        -0.3,
        Correlation(0.3, -120.0, 0.5),
    ),
]


@pytest.mark.parametrize("time", [0.0, 0.3, 1.1])
@pytest.mark.parametrize("state", STATES)
def test_point_quantities_identities_on_exact_states(
    state: InitialState, time: float
) -> None:
    q = exact_quantities(state, time)
    assert tuple(q) == QUANTITIES
    assert all(np.isfinite(v) for v in q.values())
    assert q["dS_AB"] == pytest.approx(0.0, abs=1e-10)
    assert q["N_drift"] == pytest.approx(0.0, abs=1e-10)
    assert q["dI_AB"] == pytest.approx(q["dS_A"] + q["dS_B"] - q["dS_AB"], abs=1e-12)
    assert q["margin"] == pytest.approx(q["D_A"] + q["D_B"], abs=1e-10)
    assert q["margin"] >= -1e-12
    if time == 0.0:
        assert all(abs(v) <= 1e-10 for v in q.values())


@pytest.mark.parametrize("state", STATES[:3])
def test_quantities_against_direct_formulas(state: InitialState) -> None:
    m = state.model.n_modes
    ops = reference.hamiltonian_matrices(state.model)
    u = reference.evolution_matrix(ops["H_A"] + ops["H_B"] + ops["H_I"], 0.7)
    rho_0 = reference.initial_density_matrix(state)
    rho_t = u @ rho_0 @ u.conj().T
    q = point_quantities(rho_t, rho_0, state, Observables.of(state))

    def trace(op: np.ndarray, rho: np.ndarray) -> float:
        return float(np.trace(op @ rho).real)

    def reduce(rho: np.ndarray, traced: list[int]) -> np.ndarray:
        return partial_trace(DensityMatrix(rho), traced).data

    b_qubits, a_qubits = list(range(m, 2 * m)), list(range(m))
    assert q["dN_A"] == pytest.approx(trace(ops["N_A"], rho_t - rho_0), abs=1e-10)
    assert q["dE_A"] == pytest.approx(trace(ops["H_A"], rho_t - rho_0), abs=1e-10)
    for name, traced in (("A", b_qubits), ("B", a_qubits)):
        x_t, x_0 = reduce(rho_t, traced), reduce(rho_0, traced)
        s_t = -np.trace(x_t @ scipy.linalg.logm(x_t)).real
        s_0 = -np.trace(x_0 @ scipy.linalg.logm(x_0)).real
        assert q[f"dS_{name}"] == pytest.approx(s_t - s_0, abs=1e-9)
        assert q[f"D_{name}"] == pytest.approx(
            logm_relative_entropy(x_t, x_0), abs=1e-9
        )


@pytest.mark.parametrize(
    ("d_n_a", "mu_a", "mu_b", "tol", "expected"),
    [
        (0.1, 1.5, 0.5, 0.0, "anomalous"),
        (-0.1, 1.5, 0.5, 0.0, "conventional"),
        (0.1, 0.5, 1.5, 0.0, "conventional"),
        (0.1, 1.0, 1.0, 0.0, "none"),
        (0.0, 1.5, 0.5, 0.0, "none"),
        (1e-13, 1.5, 0.5, 1e-12, "none"),
    ],
)
def test_flow_direction(
    d_n_a: float, mu_a: float, mu_b: float, tol: float, expected: str
) -> None:
    assert flow_direction(d_n_a, mu_a, mu_b, tol=tol) == expected
