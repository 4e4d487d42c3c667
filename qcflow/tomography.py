"""Pauli-basis state tomography of the system qubits: circuits, sampling and the fitter.

Conventions, all little-endian as in Qiskit:

- a measurement basis of ``n`` qubits is an index ``b = sum_q b_q 3^q`` with
  ``b_q = 0, 1, 2`` for X, Y, Z on qubit q; its label (``basis_labels``) is written
  like a Pauli label, qubit 0 rightmost (``"XZ"`` measures qubit 0 in Z, qubit 1 in X);
- an outcome is the integer ``s = sum_q s_q 2^q`` of the count key, ``s_q = 0`` for the
  +1 eigenvalue;
- counts and probabilities are arrays of shape ``(..., 3^n, 2^n)``.

The linear-inversion estimator with equal weight on every basis is

.. math::

    \\hat\\rho = 3^{-n} \\sum_{b,s} f_b(s) \\bigotimes_q \\tfrac12 (I + 3 (-1)^{s_q}
    \\sigma_{b_q}),

a fixed linear map applied qubit by qubit (cost ``O(n 6^n)``, no dense ``4^n x 6^n``
matrix). It is followed by the projection onto the nearest density matrix in the
Frobenius norm (Smolin, Gambetta, Smith, PRL 108, 070502 (2012)), which acts on the
eigenvalues as the Euclidean projection onto the probability simplex.
"""

from __future__ import annotations

import itertools

import numpy as np
from qiskit.circuit import ClassicalRegister, QuantumCircuit

PAULI_BASES = "XYZ"
_PAULI = {
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0 + 0j, -1.0]),
}


def _projectors() -> np.ndarray:
    """``P[b, s] = (I + (-1)^s sigma_b) / 2``, shape (3, 2, 2, 2)."""
    out = np.empty((3, 2, 2, 2), dtype=complex)
    for b, name in enumerate(PAULI_BASES):
        for s in (0, 1):
            out[b, s] = (np.eye(2) + (-1) ** s * _PAULI[name]) / 2
    return out


_PROJ = _projectors()
# Dual frame: sum_{b,s} p_b(s) DUAL[b, s] / 3 = rho for one qubit.
_DUAL = (3 * _PROJ - np.eye(2)) / 3
# Maps: (i, j) of one qubit's matrix <-> (b, s) of one qubit's measurement.
_FIT_MAP = _DUAL.reshape(6, 4)  # (b s) -> (i j)
_PROB_MAP = _PROJ.transpose(0, 1, 3, 2).reshape(6, 4).T  # (i j) -> (b s), Tr(rho P)


def n_bases(n_qubits: int) -> int:
    """The number of Pauli product bases, ``3^n``."""
    return 3**n_qubits


def basis_labels(n_qubits: int) -> list[str]:
    """Labels of all bases in index order; qubit 0 is the rightmost character."""
    labels = []
    for digits in itertools.product(range(3), repeat=n_qubits):
        # itertools varies the last digit fastest: that digit is qubit 0.
        labels.append("".join(PAULI_BASES[d] for d in digits))
    return labels


def measurement_circuit(label: str) -> QuantumCircuit:
    """Rotate each qubit into its basis and measure it into the clbit of the same index.

    ``X``: H; ``Y``: S^dag then H; ``Z``: nothing. The result of measuring qubit q lands
    on clbit q, so the count keys are little-endian over the measured qubits.
    """
    n = len(label)
    qc = QuantumCircuit(n, name=f"measure_{label}")
    qc.add_register(ClassicalRegister(n, "meas"))
    for q, basis in enumerate(reversed(label)):
        if basis == "Y":
            qc.sdg(q)
        if basis in "XY":
            qc.h(q)
        elif basis != "Z":
            raise ValueError(f"basis {basis!r} in {label!r}; allowed: X, Y, Z")
    qc.measure(range(n), range(n))
    return qc


def tomography_circuits(base: QuantumCircuit, n_system: int) -> list[QuantumCircuit]:
    """One circuit per basis: ``base``, then the basis change and measurement of qubits
    ``0 .. n_system - 1`` into a register ``meas``; other qubits are never measured.

    Returned in basis-index order (:func:`basis_labels`).
    """
    out = []
    for label in basis_labels(n_system):
        qc = QuantumCircuit(
            *base.qregs, ClassicalRegister(n_system, "meas"), name=label
        )
        qc.compose(base, base.qubits, inplace=True)
        qc.compose(
            measurement_circuit(label), range(n_system), range(n_system), inplace=True
        )
        out.append(qc)
    return out


def _apply_each_axis(x: np.ndarray, mat: np.ndarray, n: int) -> np.ndarray:
    """Apply ``mat`` (shape (k, l)) to each of the last ``n`` axes of ``x``."""
    first = x.ndim - n
    for _ in range(n):
        # einsum's own loop, not BLAS: a threaded GEMM of this (many x 6) @ (6 x 4)
        # shape costs several times more CPU than it saves.
        x = np.einsum("i...,ij->...j", np.moveaxis(x, first, 0), mat)
    return x


def _pairs_to_interleaved(x: np.ndarray, n: int, left: int, right: int) -> np.ndarray:
    """``(..., L^n, R^n)`` -> ``(..., (L R)^n)`` with one axis of size L*R per qubit."""
    batch = x.shape[:-2]
    nb = len(batch)
    x = x.reshape(batch + (left,) * n + (right,) * n)
    order = list(range(nb)) + [nb + k + off for k in range(n) for off in (0, n)]
    return x.transpose(order).reshape(batch + (left * right,) * n)


def _interleaved_to_pairs(x: np.ndarray, n: int, left: int, right: int) -> np.ndarray:
    """Inverse of :func:`_pairs_to_interleaved`."""
    batch = x.shape[:-n]
    nb = len(batch)
    x = x.reshape(batch + (left, right) * n)
    order = (
        list(range(nb))
        + [nb + 2 * k for k in range(n)]
        + [nb + 2 * k + 1 for k in range(n)]
    )
    return x.transpose(order).reshape((*batch, left**n, right**n))


def basis_probabilities(rho: np.ndarray) -> np.ndarray:
    """Exact outcome distributions ``p[..., b, s] = Tr(rho P_{b,s})`` of every basis."""
    n = round(np.log2(rho.shape[-1]))
    x = _pairs_to_interleaved(np.asarray(rho, dtype=complex), n, 2, 2)
    x = _apply_each_axis(x, _PROB_MAP, n)
    return np.clip(_interleaved_to_pairs(x, n, 3, 2).real, 0.0, None)


def measurement_adjoint(weights: np.ndarray) -> np.ndarray:
    """``sum_{b,s} w[..., b, s] P_{b,s}``, the adjoint of :func:`basis_probabilities`.

    Args:
        weights: shape ``(..., 3^n, 2^n)``, real.

    Returns:
        Matrices of shape ``(..., 2^n, 2^n)``, Hermitian for real weights.
    """
    weights = np.asarray(weights)
    n = weights.shape[-1].bit_length() - 1
    x = _pairs_to_interleaved(weights.astype(complex), n, 3, 2)
    x = _apply_each_axis(x, _PROJ.reshape(6, 4), n)
    return _interleaved_to_pairs(x, n, 2, 2)


def sample_counts(
    probabilities: np.ndarray, shots: int, *, rng: np.random.Generator
) -> np.ndarray:
    """Multinomial counts of ``shots`` per basis, shape as ``probabilities``."""
    p = probabilities / probabilities.sum(axis=-1, keepdims=True)
    return rng.multinomial(shots, p)


def linear_inversion(counts: np.ndarray) -> np.ndarray:
    """The linear-inversion estimate (Hermitian, unit trace, not necessarily positive).

    Args:
        counts: shape ``(..., 3^n, 2^n)``; each basis is normalised by its own shots.

    Raises:
        ValueError: if the shape is not ``(..., 3^n, 2^n)`` or a basis has no shots.
    """
    counts = np.asarray(counts, dtype=float)
    n = round(np.log2(counts.shape[-1]))
    if counts.ndim < 2 or counts.shape[-2:] != (3**n, 2**n):
        raise ValueError(f"counts have shape {counts.shape}; expected (..., 3^n, 2^n)")
    shots = counts.sum(axis=-1, keepdims=True)
    if np.any(shots <= 0):
        raise ValueError("every measurement basis needs at least one shot")
    x = _pairs_to_interleaved(counts / shots, n, 3, 2)
    x = _apply_each_axis(x.astype(complex), _FIT_MAP, n)
    rho = _interleaved_to_pairs(x, n, 2, 2)
    return (rho + np.swapaxes(rho, -1, -2).conj()) / 2


def project_simplex(values: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``values`` onto the probability simplex."""
    u = np.sort(values, axis=-1)[..., ::-1]
    css = np.cumsum(u, axis=-1) - 1.0
    idx = np.arange(1, values.shape[-1] + 1)
    k = np.sum(u - css / idx > 0, axis=-1, keepdims=True)
    shift = np.take_along_axis(css, k - 1, axis=-1) / k
    return np.maximum(values - shift, 0.0)


def project_to_density(rho: np.ndarray) -> np.ndarray:
    """The nearest density matrix (positive, unit trace) in Frobenius norm, batched."""
    rho = (rho + np.swapaxes(rho, -1, -2).conj()) / 2
    values, vectors = np.linalg.eigh(rho)
    values = project_simplex(values)
    return (vectors * values[..., None, :]) @ np.swapaxes(vectors, -1, -2).conj()


def fit_state(counts: np.ndarray, *, fitter: str = "linear") -> np.ndarray:
    """The fitted state of ``counts`` (``(..., 3^n, 2^n)``, batched) by one fitter.

    Args:
        counts: counts of every basis.
        fitter: ``"linear"``: linear inversion followed by the projection onto physical
            states; ``"mle"``: maximum likelihood (:mod:`qcflow.mle`); ``"symmetric"``
            and ``"symmetric_mle"``: the same restricted to states that commute with
            the total particle number (:mod:`qcflow.symmetric`).

    Raises:
        ValueError: if ``fitter`` is not one of these.
    """
    if fitter == "linear":
        return project_to_density(linear_inversion(counts))
    if fitter == "symmetric":
        from qcflow.symmetric import fit_symmetric

        return fit_symmetric(counts)
    if fitter in ("mle", "symmetric_mle"):
        from qcflow.mle import fit_mle

        return fit_mle(counts, symmetric=fitter == "symmetric_mle")
    raise ValueError(
        f"fitter = {fitter!r} is not known; allowed: linear, mle, symmetric, "
        "symmetric_mle"
    )
