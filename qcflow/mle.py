"""Maximum-likelihood state tomography by accelerated projected gradient descent.

The estimate maximises the multinomial log-likelihood of all counts over the density
matrices (or, with ``symmetric=True``, over those that commute with ``N_A + N_B``, see
:mod:`qcflow.symmetric`):

.. math::

    \\hat\\rho = \\arg\\min_{\\rho \\ge 0, \\mathrm{Tr}\\rho = 1} L(\\rho), \\qquad
    L(\\rho) = -\\frac{1}{N} \\sum_{b,s} n_b(s) \\ln \\mathrm{Tr}(\\rho P_{b,s}),

with ``N`` all shots. Its gradient is ``-R(rho)``,
``R(rho) = N^{-1} sum n_b(s) / p_b(s) P_{b,s}``; ``rho`` is optimal exactly when
``R(rho) rho = rho`` and ``R(rho) <= 1`` (for the symmetric fit, with ``R`` replaced by
its symmetric part), which :func:`optimality_residual` measures.

The minimiser is accelerated projected gradient with backtracking and adaptive restart
(Bolduc, Knee, Gauger, Leach, npj Quantum Inf. 3, 44 (2017)): a gradient step, the
Frobenius projection onto the feasible set, Nesterov momentum, and a restart of the
momentum when it points uphill (O'Donoghue, Candes 2015). Step lengths are found by
backtracking on the likelihood, or on its gradient once likelihood differences drop
below rounding, so the fit converges to ~1e-12. It starts from the projected
linear-inversion estimate, mixed with a little of the maximally mixed state so that no
observed outcome has probability zero, and runs every matrix of a batch at once, each
with its own step size, until each has converged. Cost: about 60-150 iterations, some
15 ms per 16 x 16 state, against 0.1 ms for linear inversion.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from qcflow.tomography import (
    basis_probabilities,
    linear_inversion,
    measurement_adjoint,
    project_to_density,
)

#: Up to this many qubits, the measurement map is one dense real matrix product.
DENSE_MAX_QUBITS = 4
#: Probabilities below this count as this in the log-likelihood (no log of zero).
PROB_FLOOR = 1e-300
#: Weight of the maximally mixed state in the starting point.
START_MIXING = 1e-3
#: Below this change of ``L``, steps are judged by gradients, not by ``L``.
LOSS_RESOLUTION = 1e-9

_PAULIS = (
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]]),
    np.diag([1.0 + 0j, -1.0]),
)
# (I + (-1)^s sigma_b) / 2, indexed [b, s, i, j] with b = 0, 1, 2 for X, Y, Z.
_QUBIT_PROJECTORS = np.array(
    [[(np.eye(2) + sign * pauli) / 2 for sign in (1, -1)] for pauli in _PAULIS]
)


@cache
def projector_stack(n_qubits: int) -> np.ndarray:
    """Dense ``P[b, s] = (x)_q (I + (-1)^{s_q} sigma_{b_q}) / 2``, ``(3^n, 2^n, d, d)``.

    Little-endian as everywhere: digit ``q`` of ``b`` (base 3), bit ``q`` of ``s`` and
    bit ``q`` of the matrix indices all belong to qubit ``q``.
    """
    out = np.ones((1, 1, 1, 1), dtype=complex)
    for q in range(n_qubits):
        # The new qubit is the most significant digit / bit of every index.
        out = np.einsum("xyij,abkl->axbykilj", out, _QUBIT_PROJECTORS).reshape(
            3 ** (q + 1), 2 ** (q + 1), 2 ** (q + 1), 2 ** (q + 1)
        )
    out.setflags(write=False)
    return out


@cache
def _dense_maps(n_qubits: int) -> tuple[np.ndarray, np.ndarray]:
    """Real matrices for ``p = [Re rho, Im rho] @ forward`` and
    ``[Re M, Im M] = w @ backward`` with flattened matrices."""
    proj = projector_stack(n_qubits)
    flat = proj.reshape(proj.shape[0] * proj.shape[1], -1)  # ((b s), (i j))
    # Tr(rho P) = sum_ij rho_ij P_ji = Re sum_ij rho_ij conj(P_ij) for Hermitian P.
    forward = np.concatenate([flat.real.T, flat.imag.T], axis=0)
    backward = np.concatenate([flat.real, flat.imag], axis=1)
    return np.ascontiguousarray(forward), np.ascontiguousarray(backward)


def probabilities(rho: np.ndarray) -> np.ndarray:
    """``p[..., b, s] = Tr(rho P_{b,s})`` (not clipped), fast for small ``n``."""
    d = rho.shape[-1]
    n = d.bit_length() - 1
    if n > DENSE_MAX_QUBITS:
        return basis_probabilities(rho)
    forward, _ = _dense_maps(n)
    flat = rho.reshape((*rho.shape[:-2], d * d))
    p = np.concatenate([flat.real, flat.imag], axis=-1) @ forward
    return p.reshape((*rho.shape[:-2], 3**n, 2**n))


def adjoint(weights: np.ndarray) -> np.ndarray:
    """``sum_{b,s} w[..., b, s] P_{b,s}``, fast for small ``n``."""
    n = weights.shape[-1].bit_length() - 1
    if n > DENSE_MAX_QUBITS:
        return measurement_adjoint(weights)
    _, backward = _dense_maps(n)
    d2 = 4**n
    flat = weights.reshape((*weights.shape[:-2], -1)) @ backward
    out = flat[..., :d2] + 1j * flat[..., d2:]
    return out.reshape((*weights.shape[:-2], 2**n, 2**n))


def neg_log_likelihood(rho: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``L(rho) = -(1/N) sum n_b(s) ln p_b(s)`` for a batch (``N``: all shots)."""
    weights = counts / counts.sum(axis=(-1, -2), keepdims=True)
    p = np.maximum(probabilities(rho), PROB_FLOOR)
    return -np.sum(weights * np.log(p), axis=(-1, -2))


def ratio_operator(rho: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``R(rho) = (1/N) sum n_b(s) / p_b(s) P_{b,s}``, minus the gradient of ``L``."""
    weights = counts / counts.sum(axis=(-1, -2), keepdims=True)
    p = np.maximum(probabilities(rho), PROB_FLOOR)
    return adjoint(np.where(weights > 0, weights / p, 0.0))


def optimality_residual(
    rho: np.ndarray, counts: np.ndarray, *, symmetric: bool = False
) -> np.ndarray:
    """How far ``rho`` is from the maximum-likelihood conditions, per batch element.

    ``max(||R rho - rho||_F, lambda_max(R) - 1)`` with ``R`` from :func:`ratio_operator`
    (its symmetric part when ``symmetric``); zero at the optimum.
    """
    r = ratio_operator(rho, np.asarray(counts, dtype=float))
    if symmetric:
        from qcflow.symmetric import symmetrize

        r = symmetrize(r)
    stationarity = np.linalg.norm(r @ rho - rho, axis=(-1, -2))
    dominance = np.linalg.eigvalsh(r)[..., -1] - 1.0
    return np.maximum(stationarity, dominance)


@dataclass(frozen=True)
class MLEResult:
    """The maximum-likelihood estimate of a batch and how the iteration went.

    Attributes:
        rho: estimates, shape ``(..., d, d)``.
        iterations: iterations used by each batch element.
        converged: whether each element met the tolerance within ``max_iter``.
        neg_log_likelihood: ``L`` of each estimate.
    """

    rho: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    neg_log_likelihood: np.ndarray


def _frob_inner(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...ij->...", x.conj(), y).real


def _loss_change(
    weights: np.ndarray, p_old: np.ndarray, p_new: np.ndarray
) -> np.ndarray:
    """``L(new) - L(old)`` from the probabilities, accurate when the change is tiny."""
    ratio = np.log1p((p_new - p_old) / p_old)
    return -np.sum(np.where(weights > 0, weights * ratio, 0.0), axis=(-1, -2))


def _gradient(weights: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -adjoint(np.where(weights > 0, weights / p, 0.0))


def _short_enough(
    trial: np.ndarray,
    base: np.ndarray,
    grad: np.ndarray,
    weights: np.ndarray,
    p_base: np.ndarray,
    step: np.ndarray,
) -> np.ndarray:
    """Whether each step ``base -> trial`` satisfies the descent-lemma bound.

    ``L(trial) <= L(base) + <grad, d> + ||d||^2 / (2 step)`` while that difference of
    likelihoods is above rounding; below it, the equivalent test on gradients
    ``<grad(trial) - grad, d> <= ||d||^2 / step``, which stays accurate to far smaller
    steps (as in TFOCS, Becker, Candes, Grant 2011).
    """
    p_trial = np.maximum(probabilities(trial), PROB_FLOOR)
    d = trial - base
    dd = _frob_inner(d, d)
    linear = _frob_inner(grad, d)
    rise = _loss_change(weights, p_base, p_trial)
    ok = rise <= linear + dd / (2 * step)
    fine = np.abs(linear) < LOSS_RESOLUTION
    if np.any(fine):
        grad_trial = _gradient(weights[fine], p_trial[fine])
        ok[fine] = (
            _frob_inner(grad_trial - grad[fine], d[fine]) <= dd[fine] / step[fine]
        )
    return ok


def maximize_likelihood(
    counts: np.ndarray,
    *,
    symmetric: bool = False,
    initial: np.ndarray | None = None,
    tol: float = 1e-8,
    max_iter: int = 3000,
) -> MLEResult:
    """Maximum-likelihood states of a batch of tomography counts.

    Args:
        counts: shape ``(..., 3^n, 2^n)``.
        symmetric: restrict to states that commute with the total number.
        initial: starting states, shape ``(..., 2^n, 2^n)``; default the projected
            linear-inversion estimate (symmetrised if ``symmetric``).
        tol: stop an element when its gradient mapping
            ``||rho_new - rho|| / step`` falls below ``tol``.
        max_iter: iteration limit.

    Raises:
        ValueError: if ``tol`` or ``max_iter`` is out of range, or the counts have a bad
            shape or an empty basis.
    """
    if not (tol > 0 and np.isfinite(tol)):
        raise ValueError(f"tol = {tol!r} is out of range; allowed: tol > 0")
    if max_iter < 1:
        raise ValueError(f"max_iter = {max_iter!r} is out of range; allowed: >= 1")
    counts = np.asarray(counts, dtype=float)
    start = linear_inversion(counts)  # validates the shape and the shots
    batch = counts.shape[:-2]
    d = start.shape[-1]
    counts = counts.reshape((-1, *counts.shape[-2:]))

    project: Callable[[np.ndarray], np.ndarray]
    if symmetric:
        from qcflow.symmetric import project_symmetric

        project = project_symmetric
    else:
        project = project_to_density
    if initial is None:
        initial = project(start)
    rho = np.array(np.broadcast_to(initial, (*batch, d, d)), dtype=complex)
    rho = rho.reshape((-1, d, d))
    rho = (1 - START_MIXING) * rho + START_MIXING * np.eye(d) / d

    k = rho.shape[0]
    weights = counts / counts.sum(axis=(-1, -2), keepdims=True)
    sigma = rho.copy()
    p_sigma = np.maximum(probabilities(sigma), PROB_FLOOR)
    theta = np.ones(k)
    step = np.full(k, 1.0 / d)
    iterations = np.zeros(k, dtype=int)
    active = np.ones(k, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iterations[idx] += 1
        s, w, p_s = sigma[idx], weights[idx], p_sigma[idx]
        grad = _gradient(w, p_s)
        t = step[idx].copy()
        cand = s.copy()
        todo = np.arange(idx.size)
        for _ in range(60):  # backtracking: halve the step until it is short enough
            trial = project(s[todo] - t[todo, None, None] * grad[todo])
            ok = _short_enough(trial, s[todo], grad[todo], w[todo], p_s[todo], t[todo])
            cand[todo[ok]] = trial[ok]
            todo = todo[~ok]
            if todo.size == 0:
                break
            t[todo] /= 2
        # Elements in ``todo`` keep sigma, which is feasible; they stop on ``mapping``.

        mapping = np.linalg.norm(cand - s, axis=(-1, -2)) / t
        old = rho[idx]
        rho[idx] = cand
        # Gradient restart (O'Donoghue, Candes 2015): drop the momentum when the step
        # and the last move disagree.
        restart = _frob_inner(s - cand, cand - old) > 0
        new_theta = np.where(restart, 1.0, (1 + np.sqrt(1 + 4 * theta[idx] ** 2)) / 2)
        momentum = np.where(restart, 0.0, (theta[idx] - 1) / new_theta)
        ahead = cand + momentum[:, None, None] * (cand - old)
        p_ahead = probabilities(ahead)
        # Momentum can leave the states so far that an observed outcome gets no
        # probability; the likelihood is undefined there, so project those back.
        off = np.any((p_ahead <= PROB_FLOOR) & (w > 0), axis=(-1, -2))
        if np.any(off):
            ahead[off] = project(ahead[off])
            p_ahead[off] = probabilities(ahead[off])
        sigma[idx] = ahead
        p_sigma[idx] = np.maximum(p_ahead, PROB_FLOOR)
        theta[idx] = new_theta
        step[idx] = t * 1.25
        active[idx] = mapping > tol

    return MLEResult(
        rho=rho.reshape((*batch, d, d)),
        iterations=iterations.reshape(batch),
        converged=~active.reshape(batch),
        neg_log_likelihood=neg_log_likelihood(rho, counts).reshape(batch),
    )


def fit_mle(
    counts: np.ndarray,
    *,
    symmetric: bool = False,
    tol: float = 1e-8,
    max_iter: int = 3000,
) -> np.ndarray:
    """Maximum-likelihood states of ``counts`` (``(..., 3^n, 2^n)``), batched.

    Arguments as for :func:`maximize_likelihood`. Warns (``RuntimeWarning``) if an
    element did not converge; its last iterate, a valid density matrix, is returned.
    """
    result = maximize_likelihood(
        counts, symmetric=symmetric, tol=tol, max_iter=max_iter
    )
    missed = int(np.size(result.converged) - np.count_nonzero(result.converged))
    if missed:
        warnings.warn(
            f"maximum likelihood did not converge for {missed} of "
            f"{np.size(result.converged)} states within {max_iter} iterations; "
            "returning the last iterates",
            RuntimeWarning,
            stacklevel=2,
        )
    return result.rho
