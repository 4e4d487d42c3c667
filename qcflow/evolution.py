"""Trotterized, number-conserving exchange ``U(t) = exp(-i t (H_A + H_B + H_I))``.

The circuit acts on the ``2M`` system qubits (A block, then B block) and is built from
three groups of terms that each commute at the fermionic level:

- ``H_0 = H_A + H_B``: it commutes with ``H_I`` (equal ``h`` on both sides), so
  ``exp(-i t H_0)`` is split off exactly and applied once, in its normal-mode form
  ``U(V) exp(-i t sum_k e_k n_k) U(V)^dag`` on each block;
- the exchange hoppings ``g sum_j (a_j^dag b_j + h.c.)``: bilinears on disjoint mode
  pairs, mutually commuting; after fermionic swaps to the order ``a0 b0 a1 b1 ...`` each
  pair is adjacent and its XX and YY parts form one ``XXPlusYYGate``;
- ``U N_A N_B``: diagonal, ``M^2`` controlled phases.

Only the last two groups are Trotterized, with ``ceil(t / trotter_dt)`` steps of first
order (``hop, NN`` per step) or second order (``NN/2, hop, NN/2``, with adjacent half
steps merged). With ``interaction = 0`` every factor commutes with every other and
the circuit equals the exact propagator at any step count; with ``interaction != 0``
the error falls as ``dt`` (first order) or ``dt^2`` (second order).
"""

from __future__ import annotations

import math

import numpy as np
from qiskit.circuit import QuantumCircuit, QuantumRegister
from qiskit.circuit.library import XXPlusYYGate

from qcflow.gates import FSwapGate, interleaving_swaps, orbital_rotation
from qcflow.model import Model

TROTTER_ORDERS = (1, 2)


def trotter_steps(time: float, trotter_dt: float) -> int:
    """``ceil(time / trotter_dt)``, robust to rounding (``0.2 / 0.1`` gives 2 steps).

    Raises:
        ValueError: if ``time < 0`` or ``trotter_dt <= 0``.
    """
    if not (math.isfinite(time) and time >= 0):
        raise ValueError(f"time = {time} is out of range; allowed: time >= 0")
    if not (math.isfinite(trotter_dt) and trotter_dt > 0):
        raise ValueError(f"trotter_dt = {trotter_dt} is out of range; allowed: > 0")
    if time == 0:
        return 0
    return max(math.ceil(time / trotter_dt - 1e-9), 1)


def free_evolution(model: Model, time: float) -> QuantumCircuit:
    """``exp(-i t H_X)`` on one block of ``M`` qubits (the same circuit for A and B)."""
    m = model.n_modes
    energies, v = model.normal_modes()
    qc = QuantumCircuit(m, name="free")
    rotation = orbital_rotation(v) if model.hopping != 0 else None
    if rotation is not None:
        qc.compose(rotation.inverse(), inplace=True)
    for k, e in enumerate(energies):
        qc.p(-e * time, k)
    if rotation is not None:
        qc.compose(rotation, inplace=True)
    return qc


def _exchange_layer(qc: QuantumCircuit, model: Model, tau: float) -> None:
    """``exp(-i tau g sum_k (a_k^dag b_k + h.c.))`` in the interleaved order."""
    for k in range(model.n_modes):
        qc.append(XXPlusYYGate(2 * model.coupling * tau, 0.0), [2 * k, 2 * k + 1])


def _interaction_layer(qc: QuantumCircuit, model: Model, tau: float) -> None:
    """``exp(-i tau U N_A N_B)`` in the interleaved order (a even, b odd qubits)."""
    if model.interaction == 0 or tau == 0:
        return
    for i in range(model.n_modes):
        for j in range(model.n_modes):
            qc.cp(-model.interaction * tau, 2 * i, 2 * j + 1)


def evolution_circuit(
    model: Model, time: float, *, trotter_dt: float, trotter_order: int = 2
) -> QuantumCircuit:
    """The Trotterized propagator ``U(t)`` on the ``2M`` system qubits.

    Qubits ``0 .. M-1`` hold ``a_0 .. a_{M-1}`` and ``M .. 2M-1`` hold ``b_0 ..``;
    see the module docstring for the splitting and when it is exact.

    Args:
        model: the Hamiltonian.
        time: evolution time, >= 0.
        trotter_dt: largest Trotter step, > 0; the circuit uses
            ``ceil(time / trotter_dt)`` equal steps.
        trotter_order: 1 or 2.

    Raises:
        ValueError: if ``time``, ``trotter_dt`` or ``trotter_order`` is out of range.
    """
    if trotter_order not in TROTTER_ORDERS:
        raise ValueError(
            f"trotter_order = {trotter_order!r} is out of range; allowed: 1 or 2"
        )
    n_steps = trotter_steps(time, trotter_dt)
    m = model.n_modes
    a, b = QuantumRegister(m, "a"), QuantumRegister(m, "b")
    qc = QuantumCircuit(a, b, name="evolve")
    if n_steps == 0:
        return qc

    free = free_evolution(model, time)
    qc.compose(free, list(a), inplace=True)
    qc.compose(free, list(b), inplace=True)

    swaps = interleaving_swaps(m)
    for p in reversed(swaps):
        qc.append(FSwapGate(), [p, p + 1])
    tau = time / n_steps
    if trotter_order == 1:
        for _ in range(n_steps):
            _exchange_layer(qc, model, tau)
            _interaction_layer(qc, model, tau)
    else:
        _interaction_layer(qc, model, tau / 2)
        for step in range(n_steps):
            _exchange_layer(qc, model, tau)
            _interaction_layer(qc, model, tau if step < n_steps - 1 else tau / 2)
    for p in swaps:
        qc.append(FSwapGate(), [p, p + 1])
    return qc


def number_drift(unitary: np.ndarray, number: np.ndarray) -> float:
    """``max |[U, N]|``: zero when ``U`` conserves the particle number ``N``."""
    return float(np.abs(unitary @ number - number @ unitary).max())
