"""Fermionic building blocks: fermionic swaps and orbital rotations by Givens rotations.

For a unitary ``W`` on the single-particle space, ``U(W)`` denotes the Gaussian unitary
with ``U(W) c_j^dag U(W)^dag = sum_i W_ij c_i^dag``; ``U(W1 W2) = U(W1) U(W2)``.
"""

from __future__ import annotations

import math

import numpy as np
from qiskit.circuit import Gate, QuantumCircuit
from qiskit.circuit.library import XXPlusYYGate


class FSwapGate(Gate):
    """Fermionic swap of two adjacent Jordan-Wigner modes: SWAP followed by CZ.

    ``U c_p^dag U^dag = c_{p+1}^dag`` and vice versa; ``|11> -> -|11>``.
    """

    def __init__(self) -> None:
        super().__init__("fswap", 2, [])

    def _define(self) -> None:
        qc = QuantumCircuit(2, name=self.name)
        qc.swap(0, 1)
        qc.cz(0, 1)
        self.definition = qc


def givens_gate(theta: float) -> XXPlusYYGate:
    """``U(R)`` for ``R = [[cos, -sin], [sin, cos]](theta)`` on modes ``(p, p+1)``.

    That is ``exp(theta (c_{p+1}^dag c_p - c_p^dag c_{p+1}))``, with ``c_p`` on the
    gate's first qubit, so ``c_p^dag -> cos(theta) c_p^dag + sin(theta) c_{p+1}^dag``.
    """
    return XXPlusYYGate(2 * theta, math.pi / 2)


def givens_decomposition(v: np.ndarray) -> tuple[list[tuple[int, float]], np.ndarray]:
    """Factor a real orthogonal ``V = R_1 R_2 ... R_L D`` into adjacent rotations.

    Returns:
        ``(rotations, signs)``: ``rotations[l] = (p, theta)`` is the rotation
        :func:`givens_gate` on modes ``(p, p+1)``, and ``D = diag(signs)`` with entries
        +-1. ``U(V)`` applies ``U(D)`` first and ``rotations`` from last to first.

    Raises:
        ValueError: if ``v`` is not a real orthogonal square matrix.
    """
    v = np.asarray(v)
    m = v.shape[0]
    if v.shape != (m, m) or (np.iscomplexobj(v) and np.abs(v.imag).max() > 1e-12):
        raise ValueError(f"expected a real square matrix, got shape {v.shape}")
    w = np.array(v.real, dtype=float)
    if not np.allclose(w.T @ w, np.eye(m), atol=1e-10):
        raise ValueError("the orbital rotation matrix is not orthogonal")
    rotations = []
    for col in range(m - 1):
        for row in range(m - 1, col, -1):
            theta = math.atan2(w[row, col], w[row - 1, col])
            c, s = math.cos(theta), math.sin(theta)
            upper, lower = w[row - 1].copy(), w[row].copy()
            w[row - 1], w[row] = c * upper + s * lower, -s * upper + c * lower
            rotations.append((row - 1, theta))
    return rotations, np.sign(np.diag(w))


def orbital_rotation(v: np.ndarray) -> QuantumCircuit:
    """The circuit of ``U(V)`` for a real orthogonal ``M x M`` matrix on M qubits."""
    rotations, signs = givens_decomposition(v)
    qc = QuantumCircuit(len(signs), name="orbital_rotation")
    for q, sign in enumerate(signs):
        if sign < 0:
            qc.z(q)
    for p, theta in reversed(rotations):
        if abs(theta) > 1e-14:
            qc.append(givens_gate(theta), [p, p + 1])
    return qc


def interleaving_swaps(n_modes: int) -> list[int]:
    """Fermionic swaps from the mode order ``a0 b0 a1 b1 ..`` to ``a0 a1 .. b0 b1 ..``.

    Returns:
        The lower qubit ``p`` of each swap ``(p, p+1)``, in the order applied
        (``n_modes (n_modes - 1) / 2`` of them). Reverse the list for the other way.
    """
    order = [(k % 2) * n_modes + k // 2 for k in range(2 * n_modes)]
    swaps = []
    changed = True
    while changed:
        changed = False
        for p in range(2 * n_modes - 1):
            if order[p] > order[p + 1]:
                order[p], order[p + 1] = order[p + 1], order[p]
                swaps.append(p)
                changed = True
    return swaps
