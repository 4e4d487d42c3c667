"""Dense reference constructions from explicit fermion algebra.

These are the slow, independent oracles that every fast path is tested against: mode
operators are built here from Kronecker products (not from ``SparsePauliOp``), the
initial state from its defining formula in terms of normal-mode operators, Gibbs states
and time evolution by matrix exponentials. Matrices are in Qiskit's little-endian order
(``kron(op_{n-1}, ..., op_0)``). Sizes grow as ``4**n_qubits``: keep ``n_qubits <= 8``.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import scipy.linalg

from qcflow.model import InitialState, Model

_I = np.eye(2)
_Z = np.diag([1.0, -1.0])
_LOWER = np.array([[0.0, 1.0], [0.0, 0.0]])  # |0><1|: empties an occupied mode


def mode_matrices(n_qubits: int) -> list[np.ndarray]:
    """Annihilation operators ``c_0 .. c_{n-1}`` (Jordan-Wigner, little-endian)."""
    out = []
    for j in range(n_qubits):
        factors = [_I] * (n_qubits - j - 1) + [_LOWER] + [_Z] * j
        out.append(reduce(lambda x, y: np.kron(x, y), factors, np.eye(1)))
    return out


def quadratic_matrix(h: np.ndarray, modes: list[np.ndarray]) -> np.ndarray:
    """``sum_ij h_ij c_i^dag c_j`` for dense mode operators."""
    dim = modes[0].shape[0]
    out = np.zeros((dim, dim), dtype=complex)
    for i, ci in enumerate(modes):
        for j, cj in enumerate(modes):
            out += h[i, j] * ci.conj().T @ cj
    return out


def hamiltonian_matrices(model: Model) -> dict[str, np.ndarray]:
    """Dense ``N_A, N_B, H_A, H_B, H_I`` on the ``2M`` system qubits."""
    m = model.n_modes
    c = mode_matrices(2 * m)
    a, b = c[:m], c[m:]
    h = model.single_particle()
    n_a = quadratic_matrix(np.eye(m), a)
    n_b = quadratic_matrix(np.eye(m), b)
    hop = sum(aj.conj().T @ bj + bj.conj().T @ aj for aj, bj in zip(a, b, strict=True))
    return {
        "N_A": n_a,
        "N_B": n_b,
        "H_A": quadratic_matrix(h, a),
        "H_B": quadratic_matrix(h, b),
        "H_I": model.coupling * hop + model.interaction * n_a @ n_b,
    }


def initial_density_matrix(state: InitialState) -> np.ndarray:
    """The initial state of the system from its definition in normal-mode operators.

    ``rho = prod_k rho_k`` with ``rho_k`` a polynomial in ``at_k = sum_j V_jk a_j``
    (V real) and ``bt_k``, as in the module docstring of :mod:`qcflow.model`.
    """
    m = state.model.n_modes
    _, v = state.model.normal_modes()
    c = mode_matrices(2 * m)
    dim = 2 ** (2 * m)
    rho = np.eye(dim, dtype=complex)
    for k, pair in enumerate(state.pairs()):
        at = sum(np.conj(v[j, k]) * c[j] for j in range(m))
        bt = sum(np.conj(v[j, k]) * c[m + j] for j in range(m))
        na, nb = at.conj().T @ at, bt.conj().T @ bt
        ea, eb = np.eye(dim) - na, np.eye(dim) - nb
        p00, p01, p10, p11 = pair.populations()
        rho_k = (
            p00 * ea @ eb
            + p01 * ea @ nb
            + p10 * na @ eb
            + p11 * na @ nb
            + pair.alpha * at.conj().T @ bt
            + np.conj(pair.alpha) * bt.conj().T @ at
        )
        rho = rho @ rho_k
    return rho


def gibbs_state(hamiltonian: np.ndarray, number: np.ndarray, beta: float, mu: float):
    """``exp(-beta (H - mu N)) / Z`` for dense Hermitian ``H`` and ``N``."""
    g = scipy.linalg.expm(-beta * (hamiltonian - mu * number))
    return g / np.trace(g)


def evolution_matrix(hamiltonian: np.ndarray, time: float) -> np.ndarray:
    """The exact propagator ``exp(-i t H)``."""
    return scipy.linalg.expm(-1j * time * hamiltonian)
