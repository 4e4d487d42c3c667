"""Jordan-Wigner encoding of the modes of A and B on ``2 n_modes`` qubits.

Mode order ``a_0 .. a_{M-1}, b_0 .. b_{M-1}`` maps to qubits ``0 .. 2M-1``:

.. math::

    c_j = Z_0 \\cdots Z_{j-1} \\, (X_j + i Y_j) / 2,

so ``|1>`` is an occupied mode. Qiskit is little-endian: qubit 0 is the rightmost
character of a Pauli label and of a count key. Because each subsystem is a contiguous
block, the qubit partial trace over B equals the fermionic partial trace for every
parity-even state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from qcflow.model import Model


@cache
def annihilation_op(mode: int, n_qubits: int) -> SparsePauliOp:
    """The Jordan-Wigner image of the annihilation operator ``c_mode``.

    Args:
        mode: mode index, equal to its qubit index.
        n_qubits: total number of qubits (modes).

    Raises:
        ValueError: if ``mode`` is not in ``0 .. n_qubits - 1``.
    """
    if not 0 <= mode < n_qubits:
        raise ValueError(f"mode = {mode} is out of range; allowed: 0..{n_qubits - 1}")
    z_string = "Z" * mode
    pad = "I" * (n_qubits - mode - 1)
    # Labels are little-endian: qubit 0 is the last character.
    return SparsePauliOp(
        [pad + "X" + z_string, pad + "Y" + z_string], coeffs=[0.5, 0.5j]
    )


def creation_op(mode: int, n_qubits: int) -> SparsePauliOp:
    """The Jordan-Wigner image of ``c_mode^dag``."""
    return annihilation_op(mode, n_qubits).adjoint()


def hopping_op(i: int, j: int, n_qubits: int) -> SparsePauliOp:
    """``c_i^dag c_j + c_j^dag c_i`` (with the Jordan-Wigner string between i and j)."""
    term = creation_op(i, n_qubits) @ annihilation_op(j, n_qubits)
    return (term + term.adjoint()).simplify()


def number_op(modes: range | list[int], n_qubits: int) -> SparsePauliOp:
    """``sum_j c_j^dag c_j`` over ``modes``; each term is ``(I - Z_j) / 2``."""
    terms: list[tuple[str, list[int], float]] = [("", [], 0.0)]
    for j in modes:
        terms += [("", [], 0.5), ("Z", [j], -0.5)]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n_qubits).simplify()


@dataclass(frozen=True)
class Operators:
    """The observables and Hamiltonians of the model on the ``2M`` system qubits.

    Attributes:
        n_a, n_b: particle numbers of A (qubits 0..M-1) and B (qubits M..2M-1).
        h_a, h_b: ``sum_ij h_ij a_i^dag a_j`` and its twin on the b modes.
        h_i: ``g sum_j (a_j^dag b_j + h.c.) + U N_A N_B``.
    """

    n_a: SparsePauliOp
    n_b: SparsePauliOp
    h_a: SparsePauliOp
    h_b: SparsePauliOp
    h_i: SparsePauliOp

    @property
    def hamiltonian(self) -> SparsePauliOp:
        """The total Hamiltonian ``H_A + H_B + H_I``."""
        return (self.h_a + self.h_b + self.h_i).simplify()


def quadratic_op(h: np.ndarray, modes: list[int], n_qubits: int) -> SparsePauliOp:
    """``sum_ij h[i, j] c_{modes[i]}^dag c_{modes[j]}`` for a real symmetric ``h``."""
    out = SparsePauliOp("I" * n_qubits, 0.0)
    m = len(modes)
    for i in range(m):
        if h[i, i] != 0:
            out += float(h[i, i]) * number_op([modes[i]], n_qubits)
        for j in range(i + 1, m):
            if h[i, j] != 0:
                out += float(h[i, j]) * hopping_op(modes[i], modes[j], n_qubits)
    return out.simplify()


def operators(model: Model) -> Operators:
    """Build ``N_A``, ``N_B``, ``H_A``, ``H_B`` and ``H_I`` as ``SparsePauliOp``."""
    m, n = model.n_modes, model.n_qubits
    a_modes, b_modes = list(range(m)), list(range(m, 2 * m))
    h = model.single_particle()
    n_a, n_b = number_op(a_modes, n), number_op(b_modes, n)
    h_i = SparsePauliOp("I" * n, 0.0)
    for j in range(m):
        h_i += model.coupling * hopping_op(a_modes[j], b_modes[j], n)
    h_i += model.interaction * (n_a @ n_b)
    return Operators(
        n_a=n_a,
        n_b=n_b,
        h_a=quadratic_op(h, a_modes, n),
        h_b=quadratic_op(h, b_modes, n),
        h_i=h_i.simplify(),
    )
