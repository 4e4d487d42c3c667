"""Purification circuits of the correlated initial state.

Qubit layout of :func:`preparation_circuit` (``M = n_modes``):

- qubits ``0 .. M-1``: register ``a``, modes ``a_0 .. a_{M-1}``;
- qubits ``M .. 2M-1``: register ``b``, modes ``b_0 .. b_{M-1}``;
- qubits ``2M .. 4M-1``: register ``anc``, two ancillas per normal-mode pair.

The circuit has three stages:

1. each normal-mode pair ``(at_k, bt_k)`` is purified on the adjacent system qubits
   ``(2k, 2k+1)`` (Jordan-Wigner order ``at_0 bt_0 at_1 bt_1 ...``) and ancillas
   ``(2M+2k, 2M+2k+1)``: the eigenvalues of ``rho_k`` are loaded as amplitudes of the
   system qubits, copied to the ancillas by two CNOTs, and one ``XXPlusYYGate`` rotates
   the one-particle sector onto the eigenvectors of ``rho_k``;
2. ``M (M - 1) / 2`` fermionic swaps reorder the modes to ``at_0 .. at_{M-1}, bt_0 ..``;
3. for ``hopping != 0``, the orbital rotation ``U(V)`` (Givens rotations) on each block
   turns normal modes into site modes.

Per pair this costs four CNOTs and one ``XXPlusYYGate``; nothing is a generic
state preparation.
"""

from __future__ import annotations

import math

import numpy as np
from qiskit.circuit import QuantumCircuit, QuantumRegister
from qiskit.circuit.library import XXPlusYYGate

from qcflow.gates import FSwapGate, interleaving_swaps, orbital_rotation
from qcflow.model import InitialState, PairState


def pair_purification(pair: PairState) -> QuantumCircuit:
    """Purify one pair on qubits ``(a, b, ancilla_a, ancilla_b) = (0, 1, 2, 3)``.

    The reduced state of qubits 0 and 1 is ``rho_k`` with ``at_k`` on qubit 0. In the
    index basis ``s = n_A + 2 n_B`` the one-particle block of ``rho_k`` is
    ``[[p10 - c, alpha], [conj(alpha), p01 - c]]`` (``at^dag bt = |1><2|``).
    """
    q00, q01, q10, q11 = pair.populations()
    block = np.array([[q10, pair.alpha], [np.conj(pair.alpha), q01]])
    weights, vectors = np.linalg.eigh(block)
    v = vectors[:, 0]
    if abs(v[0]) > 0:
        v = v * np.exp(-1j * np.angle(v[0]))
    theta = 2 * math.atan2(abs(v[1]), v[0].real)
    beta = float(np.angle(1j * v[1])) if abs(v[1]) > 0 else 0.0

    # Probabilities of the system basis states |s>, s = n_A + 2 n_B.
    q = np.clip([q00, weights[0], weights[1], q11], 0.0, None)
    q = q / q.sum()
    amp = np.sqrt(q)
    theta_b = 2 * math.atan2(math.hypot(amp[2], amp[3]), math.hypot(amp[0], amp[1]))
    theta_a0 = 2 * math.atan2(amp[1], amp[0])
    theta_a1 = 2 * math.atan2(amp[3], amp[2])

    qc = QuantumCircuit(4, name="pair")
    qc.ry(theta_b, 1)
    # Uniformly controlled RY on qubit 0: theta_a0 if n_B = 0, theta_a1 if n_B = 1.
    qc.ry((theta_a0 + theta_a1) / 2, 0)
    qc.cx(1, 0)
    qc.ry((theta_a0 - theta_a1) / 2, 0)
    qc.cx(1, 0)
    qc.cx(0, 2)
    qc.cx(1, 3)
    qc.append(XXPlusYYGate(theta, beta), [0, 1])
    return qc


def preparation_circuit(state: InitialState) -> QuantumCircuit:
    """The purification of the initial state: ``2M`` system qubits plus ``2M`` ancillas.

    The reduced state of qubits ``0 .. 2M-1`` is the initial state ``rho_AB(0)``;
    ancillas (qubits ``2M ..``) are never to be measured. See the module docstring for
    the layout and the construction.
    """
    m = state.model.n_modes
    a = QuantumRegister(m, "a")
    b = QuantumRegister(m, "b")
    anc = QuantumRegister(2 * m, "anc")
    qc = QuantumCircuit(a, b, anc, name="prepare")
    system = list(a) + list(b)

    for k, pair in enumerate(state.pairs()):
        qubits = [system[2 * k], system[2 * k + 1], anc[2 * k], anc[2 * k + 1]]
        qc.compose(pair_purification(pair), qubits, inplace=True)
    for p in interleaving_swaps(m):
        qc.append(FSwapGate(), [system[p], system[p + 1]])
    if state.model.hopping != 0:
        _, v = state.model.normal_modes()
        rotation = orbital_rotation(v)
        qc.compose(rotation, list(a), inplace=True)
        qc.compose(rotation, list(b), inplace=True)
    return qc
