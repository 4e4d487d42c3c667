"""Number-symmetric tomography: sectors, the blockwise projection, the fit."""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pytest
from conftest import popcount, random_density

from qcflow.config import load_config
from qcflow.experiment import Experiment
from qcflow.reference import hamiltonian_matrices
from qcflow.symmetric import (
    fit_symmetric,
    is_symmetric,
    n_parameters,
    project_symmetric,
    sector_mask,
    sectors,
    symmetrize,
)
from qcflow.tomography import (
    basis_probabilities,
    linear_inversion,
    project_to_density,
    sample_counts,
)

ATOL = 1e-10
HEADLINE = Path(__file__).resolve().parents[1] / "experiments" / "anomalous_flow.toml"


def random_hermitian(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return (x + np.swapaxes(x, -1, -2).conj()) / 2


def random_symmetric_density(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random full-rank density matrix that is block-diagonal in the number."""
    rho = np.zeros((2**n, 2**n), dtype=complex)
    for block in sectors(n):
        rho[np.ix_(block, block)] = random_density(rng, len(block)) * rng.uniform(
            0.2, 1
        )
    return rho / np.trace(rho).real


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_sectors_partition_the_basis_by_popcount(n: int) -> None:
    blocks = sectors(n)
    assert [len(b) for b in blocks] == [comb(n, k) for k in range(n + 1)]
    assert sorted(np.concatenate(blocks).tolist()) == list(range(2**n))
    for k, block in enumerate(blocks):
        assert np.all(popcount(block) == k)
    assert n_parameters(n) == sum(comb(n, k) ** 2 for k in range(n + 1)) - 1


def test_parameter_count_of_two_modes_per_side() -> None:
    assert n_parameters(4) == 69  # against 4^4 - 1 = 255 for a general state


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_sectors_reject_bad_sizes(bad) -> None:
    with pytest.raises(ValueError, match="n_qubits"):
        sectors(bad)


@pytest.mark.parametrize("n", [2, 4])
def test_mask_is_where_the_number_operator_commutes(n: int) -> None:
    # [N, |i><j|] = (n_i - n_j) |i><j|: zero exactly on the mask.
    numbers = popcount(np.arange(2**n))
    assert np.array_equal(sector_mask(n), numbers[:, None] == numbers[None, :])


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_symmetrize_is_the_twirl_over_the_number(n: int) -> None:
    """Slow reference: average of exp(i phi N) rho exp(-i phi N) over n + 1 phases."""
    rng = np.random.default_rng(n)
    rho = random_hermitian(rng, (2**n, 2**n))
    numbers = popcount(np.arange(2**n))
    twirl = np.zeros_like(rho)
    for phi in 2 * np.pi * np.arange(n + 1) / (n + 1):
        u = np.exp(1j * phi * numbers)
        twirl += (u[:, None] * rho * u.conj()[None, :]) / (n + 1)
    np.testing.assert_allclose(symmetrize(rho), twirl, atol=ATOL)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blockwise_projection_equals_dense_projection(n: int, seed: int) -> None:
    rng = np.random.default_rng([n, seed])
    rho = random_hermitian(rng, (5, 2**n, 2**n)) / 2**n
    got = project_symmetric(rho)
    want = project_to_density(symmetrize(rho))
    np.testing.assert_allclose(got, want, atol=ATOL)
    assert is_symmetric(got)
    np.testing.assert_allclose(np.trace(got, axis1=-2, axis2=-1), 1.0, atol=ATOL)
    assert np.linalg.eigvalsh(got).min() >= -ATOL


@pytest.mark.parametrize("seed", range(4))
def test_projection_is_the_nearest_symmetric_state(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = random_hermitian(rng, (16, 16)) / 8
    nearest = project_symmetric(x)
    for _ in range(20):
        other = random_symmetric_density(rng, 4)
        assert np.linalg.norm(nearest - x) <= np.linalg.norm(other - x) + ATOL


def test_symmetric_states_are_fixed_points() -> None:
    rho = random_symmetric_density(np.random.default_rng(3), 4)
    np.testing.assert_allclose(project_symmetric(rho), rho, atol=ATOL)
    np.testing.assert_allclose(
        fit_symmetric(1e6 * basis_probabilities(rho)), rho, atol=ATOL
    )


def test_every_exact_state_of_the_headline_run_is_symmetric() -> None:
    config = load_config(HEADLINE)
    ex = Experiment(config)
    number = sum(hamiltonian_matrices(config.model)[k] for k in ("N_A", "N_B"))
    parity = np.diag(np.exp(1j * np.pi * np.diag(number).real))
    for point in ex.points[::5]:
        rho = ex.exact_state(point)
        assert is_symmetric(rho)
        np.testing.assert_allclose(number @ rho, rho @ number, atol=ATOL)
        np.testing.assert_allclose(parity @ rho, rho @ parity, atol=ATOL)


@pytest.mark.parametrize("seed", range(5))
def test_symmetrising_never_moves_the_estimate_away_from_a_symmetric_truth(
    seed: int,
) -> None:
    """An orthogonal projection onto a subspace holding the truth shortens the error."""
    rng = np.random.default_rng(seed)
    truth = random_symmetric_density(rng, 4)
    counts = sample_counts(basis_probabilities(truth), 300, rng=rng)
    li = linear_inversion(counts)
    assert np.linalg.norm(symmetrize(li) - truth) <= np.linalg.norm(li - truth)
    assert np.linalg.norm(fit_symmetric(counts) - truth) <= np.linalg.norm(li - truth)


def test_noise_that_changes_the_number_stays_visible() -> None:
    """Sector weights are free: a state with too few particles keeps them too few."""
    rng = np.random.default_rng(9)
    rho = random_symmetric_density(rng, 2)
    damped = np.diag([0.7, 0.1, 0.1, 0.1]).astype(complex)  # mostly vacuum
    fitted = fit_symmetric(1e6 * basis_probabilities(0.5 * rho + 0.5 * damped))
    np.testing.assert_allclose(fitted, 0.5 * rho + 0.5 * damped, atol=ATOL)
