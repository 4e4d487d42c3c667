"""Entropies and the quantities of one point, from ``rho_AB(0)`` and ``rho_AB(t)``.

All entropies are in nats. Matrices are in Qiskit's little-endian order on the ``2M``
system qubits, A on qubits ``0 .. M-1`` (the low bits) and B on ``M .. 2M-1``.
Functions accept stacks of matrices (leading batch axes) where it is cheap to do so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcflow.model import InitialState

#: Eigenvalues at or below this are treated as zero in entropies and supports.
EIGEN_TOL = 1e-12

#: Quantities of a point, in output order. ``flow`` follows them.
QUANTITIES = (
    "dN_A",
    "dE_A",
    "dS_A",
    "dS_B",
    "dS_AB",
    "dI_AB",
    "D_A",
    "D_B",
    "bound",
    "margin",
    "N_drift",
)

#: Quantities that are values at time ``t``, not differences; they follow QUANTITIES.
LEVELS = ("I_AB",)


def partial_traces(rho_ab: np.ndarray, n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rho_A, rho_B)``: trace out B (high qubits) and A (low qubits)."""
    d = 2**n_modes
    r = rho_ab.reshape((*rho_ab.shape[:-2], d, d, d, d))  # (b, a, b', a')
    return np.einsum("...iaib->...ab", r), np.einsum("...aibi->...ab", r)


def entropy(rho: np.ndarray, *, tol: float = EIGEN_TOL) -> np.ndarray:
    """Von Neumann entropy ``-Tr rho ln rho`` in nats; eigenvalues ``<= tol`` are 0."""
    values = np.linalg.eigvalsh(rho)
    safe = np.where(values > tol, values, 1.0)
    return -np.sum(np.where(values > tol, values * np.log(safe), 0.0), axis=-1)


def relative_entropy(
    rho: np.ndarray, sigma: np.ndarray, *, tol: float = EIGEN_TOL
) -> float:
    """``D(rho || sigma) = Tr rho (ln rho - ln sigma)`` in nats.

    Returns ``inf`` when ``rho`` has weight above ``tol`` outside the support of
    ``sigma`` (eigenvalues of ``sigma`` above ``tol``). Never NaN for density matrices.
    """
    return float(relative_entropies(rho, sigma, tol=tol))


@dataclass(frozen=True)
class Observables:
    """Dense observables on one subsystem's ``M`` qubits (the same matrices serve B).

    Attributes:
        number: ``N`` on ``M`` qubits, diagonal.
        energy: ``H_X = sum_ij h_ij c_i^dag c_j`` on ``M`` qubits.
    """

    number: np.ndarray
    energy: np.ndarray

    @classmethod
    def of(cls, state: InitialState) -> Observables:
        from qcflow.encoding import number_op, quadratic_op

        m = state.model.n_modes
        modes = list(range(m))
        return cls(
            number=number_op(modes, m).to_matrix(),
            energy=quadratic_op(state.model.single_particle(), modes, m).to_matrix(),
        )


def gibbs_log(observables: Observables, beta: float, mu: float) -> np.ndarray:
    """``ln exp(-beta (H - mu N)) / Z`` on one subsystem, from the Hamiltonian.

    Stable at any ``beta``: the smallest Gibbs weights may underflow to zero as matrix
    elements, but their logarithms stay finite.
    """
    values, vectors = np.linalg.eigh(observables.energy - mu * observables.number)
    exponent = -beta * values
    log_weights = exponent - np.logaddexp.reduce(exponent)
    return (vectors * log_weights) @ vectors.conj().T


def relative_entropy_to(rho: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
    """``D(rho || sigma) = -S(rho) - Tr rho ln sigma``, ``sigma`` given by its log
    (batched over ``rho``)."""
    cross = -np.einsum("...ij,ji->...", rho, log_sigma).real
    return np.maximum(cross - entropy(rho), 0.0)


def point_quantities(
    rho_t: np.ndarray,
    rho_0: np.ndarray,
    state: InitialState,
    observables: Observables,
    *,
    gibbs_reference: bool = False,
) -> dict[str, float]:
    """All quantities of one point, differences ``X(t) - X(0)``.

    ``bound = -beta (mu_a - mu_b) dN_A``; ``margin = bound - dI_AB``, which equals
    ``D_A + D_B`` for a noiseless run; ``N_drift = N_total(t) - N_total(0)``, zero
    unless noise breaks number conservation.

    Args:
        gibbs_reference: take ``D_X`` against the Gibbs state of the model
            (:func:`gibbs_log`) instead of the marginal of ``rho_0``. Use it only when
            the marginals of ``rho_0`` are those Gibbs states (the exact initial state):
            it keeps ``D_X`` finite at large ``beta``, where the smallest Gibbs weights
            underflow and the matrix logarithm of ``rho_0`` would give ``inf``.
    """
    values = batch_quantities(
        rho_t, rho_0, state, observables, gibbs_reference=gibbs_reference
    )
    return {name: float(values[name]) for name in QUANTITIES}


def mutual_information(rho_ab: np.ndarray, n_modes: int) -> np.ndarray:
    """``I_AB = S_A + S_B - S_AB`` in nats, batched (a value, not a change)."""
    rho_a, rho_b = partial_traces(rho_ab, n_modes)
    return entropy(rho_a) + entropy(rho_b) - entropy(rho_ab)


def relative_entropies(
    rho: np.ndarray, sigma: np.ndarray, *, tol: float = EIGEN_TOL
) -> np.ndarray:
    """:func:`relative_entropy` of two stacks of matrices, element by element.

    Same definition and support rule: ``inf`` where ``rho`` has weight above ``tol``
    outside the support of ``sigma``.
    """
    s_values, s_vectors = np.linalg.eigh(sigma)
    weights = np.einsum(
        "...ji,...jk,...ki->...i", s_vectors.conj(), rho, s_vectors
    ).real
    outside = s_values <= tol
    log_sigma = np.log(np.where(outside, 1.0, s_values))
    cross = -np.sum(np.where(outside, 0.0, weights * log_sigma), axis=-1)
    value = np.maximum(cross - entropy(rho, tol=tol), 0.0)
    return np.where(np.any(outside & (weights > tol), axis=-1), np.inf, value)


def batch_quantities(
    rho_t: np.ndarray,
    rho_0: np.ndarray,
    state: InitialState,
    observables: Observables,
    *,
    gibbs_reference: bool = False,
) -> dict[str, np.ndarray]:
    """:func:`point_quantities` of stacks ``rho_t[i]``, ``rho_0[i]``, vectorised.

    Args:
        rho_t, rho_0: shape ``(..., 4^M, 4^M)`` with equal leading axes (or ``rho_0``
            broadcastable to ``rho_t``).

    Returns:
        Arrays of the leading shape, one for each name of :data:`QUANTITIES`, then
        ``I_AB`` of ``rho_t`` (:data:`LEVELS`).
    """
    m = state.model.n_modes
    rho_t, rho_0 = np.broadcast_arrays(rho_t, rho_0)
    a_t, b_t = partial_traces(rho_t, m)
    a_0, b_0 = partial_traces(rho_0, m)

    def expect(op: np.ndarray, rho: np.ndarray) -> np.ndarray:
        return np.einsum("ij,...ji->...", op, rho).real

    n_op, h_op = observables.number, observables.energy
    d_n_a = expect(n_op, a_t) - expect(n_op, a_0)
    d_n_b = expect(n_op, b_t) - expect(n_op, b_0)
    s_a_t, s_b_t, s_ab_t = entropy(a_t), entropy(b_t), entropy(rho_t)
    d_s_a = s_a_t - entropy(a_0)
    d_s_b = s_b_t - entropy(b_0)
    d_s_ab = s_ab_t - entropy(rho_0)
    d_i = d_s_a + d_s_b - d_s_ab
    bound = -state.beta * (state.mu_a - state.mu_b) * d_n_a + 0.0  # no -0.0
    if gibbs_reference:
        d_a = relative_entropy_to(a_t, gibbs_log(observables, state.beta, state.mu_a))
        d_b = relative_entropy_to(b_t, gibbs_log(observables, state.beta, state.mu_b))
    else:
        d_a, d_b = relative_entropies(a_t, a_0), relative_entropies(b_t, b_0)
    return {
        "dN_A": d_n_a,
        "dE_A": expect(h_op, a_t) - expect(h_op, a_0),
        "dS_A": d_s_a,
        "dS_B": d_s_b,
        "dS_AB": d_s_ab,
        "dI_AB": d_i,
        "D_A": d_a,
        "D_B": d_b,
        "bound": bound,
        "margin": bound - d_i,
        "N_drift": d_n_a + d_n_b,
        "I_AB": s_a_t + s_b_t - s_ab_t,
    }


def flow_direction(d_n_a: float, mu_a: float, mu_b: float, *, tol: float = 0.0) -> str:
    """``anomalous`` if ``(mu_a - mu_b) dN_A > tol``, ``conventional`` if ``< -tol``.

    Otherwise ``none`` (no flow, or equal chemical potentials).
    """
    x = (mu_a - mu_b) * d_n_a
    if x > tol:
        return "anomalous"
    if x < -tol:
        return "conventional"
    return "none"
