"""Maximum likelihood: fast maps, known optima, optimality, a slow reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from conftest import random_density

from qcflow.mle import (
    adjoint,
    fit_mle,
    maximize_likelihood,
    neg_log_likelihood,
    optimality_residual,
    probabilities,
    projector_stack,
)
from qcflow.symmetric import is_symmetric, sectors
from qcflow.tomography import (
    basis_probabilities,
    fit_state,
    measurement_adjoint,
    sample_counts,
)

ATOL = 1e-10
#: Stationarity and dominance residual reached with the default tolerance.
RESIDUAL = 1e-6


def symmetric_density(rng: np.random.Generator, n: int) -> np.ndarray:
    rho = np.zeros((2**n, 2**n), dtype=complex)
    for block in sectors(n):
        rho[np.ix_(block, block)] = random_density(rng, len(block)) * rng.uniform(
            0.2, 1
        )
    return rho / np.trace(rho).real


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_dense_maps_equal_the_per_qubit_maps(n: int) -> None:
    rng = np.random.default_rng(n)
    rho = np.stack([random_density(rng, 2**n) for _ in range(3)])
    np.testing.assert_allclose(probabilities(rho), basis_probabilities(rho), atol=ATOL)
    weights = rng.normal(size=(3, 3**n, 2**n))
    np.testing.assert_allclose(
        adjoint(weights), measurement_adjoint(weights), atol=ATOL
    )


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adjoint_is_the_adjoint(n: int) -> None:
    rng = np.random.default_rng(10 + n)
    rho = random_density(rng, 2**n)
    weights = rng.normal(size=(3**n, 2**n))
    lhs = np.einsum("ij,ji->", adjoint(weights), rho).real
    assert lhs == pytest.approx(float(np.sum(weights * probabilities(rho))), abs=ATOL)


def test_projector_stack_is_little_endian() -> None:
    # Basis 6 = 0 + 2 * 3: X on qubit 0, Z on qubit 1 (label "ZX"); outcome 2: qubit 0
    # in |+>, qubit 1 in |1>. Qubit 0 is the right factor of the Kronecker product.
    plus = np.full((2, 2), 0.5)
    one = np.diag([0.0, 1.0])
    np.testing.assert_allclose(projector_stack(2)[6, 2], np.kron(one, plus), atol=ATOL)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("rank", ["full", "pure"])
def test_exact_frequencies_give_the_state_back(n: int, rank: str) -> None:
    """Frequencies of a state are the unique optimum: the fit must return it."""
    rng = np.random.default_rng([n, len(rank)])
    rho = random_density(rng, 2**n, None if rank == "full" else 1)
    result = maximize_likelihood(1e4 * basis_probabilities(rho), tol=1e-13)
    assert result.converged
    np.testing.assert_allclose(result.rho, rho, atol=ATOL)


def test_symmetric_exact_frequencies_give_the_state_back() -> None:
    rho = symmetric_density(np.random.default_rng(4), 4)
    result = maximize_likelihood(
        1e4 * basis_probabilities(rho), symmetric=True, tol=1e-13
    )
    np.testing.assert_allclose(result.rho, rho, atol=ATOL)


@pytest.mark.parametrize("symmetric", [False, True])
def test_fits_of_shot_data_meet_the_optimality_conditions(symmetric: bool) -> None:
    rng = np.random.default_rng(21)
    truth = np.stack([symmetric_density(rng, 4) for _ in range(3)])
    counts = sample_counts(basis_probabilities(truth), 200, rng=rng)
    result = maximize_likelihood(counts, symmetric=symmetric)
    assert result.converged.all()
    assert optimality_residual(result.rho, counts, symmetric=symmetric).max() < RESIDUAL
    np.testing.assert_allclose(np.trace(result.rho, axis1=-2, axis2=-1), 1, atol=ATOL)
    assert np.linalg.eigvalsh(result.rho).min() > -ATOL
    if symmetric:
        assert is_symmetric(result.rho)
    # Higher likelihood than the projected linear inversion of the same counts.
    fitter = "symmetric" if symmetric else "linear"
    linear = fit_state(counts, fitter=fitter)
    assert np.all(
        neg_log_likelihood(result.rho, counts)
        <= neg_log_likelihood(linear, counts) + 1e-12
    )


def _cholesky_state(x: np.ndarray, d: int) -> np.ndarray:
    t = np.zeros((d, d), dtype=complex)
    t[np.tril_indices(d)] = x[: d * (d + 1) // 2]
    t[np.tril_indices(d, -1)] += 1j * x[d * (d + 1) // 2 :]
    rho = t @ t.conj().T
    return rho / np.trace(rho).real


@pytest.mark.parametrize("n", [1, 2])
def test_agrees_with_a_slow_unconstrained_optimiser(n: int) -> None:
    """Independent reference: BFGS over rho = T T^dag / Tr with T lower triangular."""
    rng = np.random.default_rng(30 + n)
    d = 2**n
    truth = random_density(rng, d)
    counts = sample_counts(basis_probabilities(truth), 100, rng=rng)

    def loss(x: np.ndarray) -> float:
        rho = _cholesky_state(x, d)
        return float(neg_log_likelihood(rho, counts))

    start = np.linalg.cholesky(truth)
    x0 = np.concatenate(
        [start[np.tril_indices(d)].real, start[np.tril_indices(d, -1)].imag]
    )
    slow = scipy.optimize.minimize(loss, x0, method="BFGS", options={"gtol": 1e-10})
    fast = maximize_likelihood(counts, tol=1e-12)
    assert float(fast.neg_log_likelihood) <= slow.fun + 1e-12
    np.testing.assert_allclose(fast.rho, _cholesky_state(slow.x, d), atol=1e-5)


def test_batch_equals_one_by_one() -> None:
    rng = np.random.default_rng(40)
    truth = np.stack([random_density(rng, 4) for _ in range(4)])
    counts = sample_counts(basis_probabilities(truth), 300, rng=rng)
    batch = fit_mle(counts)
    for i in range(len(counts)):
        np.testing.assert_allclose(batch[i], fit_mle(counts[i]), atol=1e-7)


def test_unconverged_fit_warns_and_returns_a_state() -> None:
    rng = np.random.default_rng(41)
    counts = sample_counts(basis_probabilities(random_density(rng, 4)), 300, rng=rng)
    with pytest.warns(RuntimeWarning, match="did not converge for 1 of 1"):
        rho = fit_mle(counts, max_iter=1)
    assert np.linalg.eigvalsh(rho).min() > -ATOL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"tol": 0.0}, "tol = 0.0"), ({"max_iter": 0}, "max_iter = 0")],
)
def test_bad_knobs(kwargs: dict, message: str) -> None:
    counts = np.ones((9, 4))
    with pytest.raises(ValueError, match=message):
        maximize_likelihood(counts, **kwargs)


def test_empty_basis_is_refused() -> None:
    counts = np.ones((9, 4))
    counts[3] = 0
    with pytest.raises(ValueError, match="at least one shot"):
        maximize_likelihood(counts)
