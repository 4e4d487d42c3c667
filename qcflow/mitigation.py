"""Readout mitigation: tensored calibration of the measured qubits and its inversion.

Model: reading out qubit ``q`` flips its outcome independently of the other qubits, with
the assignment matrix

.. math::

    A_q[m, p] = P(\\text{measured } m \\mid \\text{prepared } p),
    \\qquad m, p \\in \\{0, 1\\},

so a basis distribution ``f`` of ``n`` qubits is observed as ``(A_{n-1} \\otimes \\cdots
\\otimes A_0) f``. Two calibration circuits, all measured qubits in ``|0>`` and all
in ``|1>`` (X on each), estimate every ``A_q`` at once from the per-qubit marginals.
They run in the same job as the tomography circuits, on the same physical qubits.

Correction applies ``A_q^{-1}`` on each qubit's axis of every basis distribution. The
result is a quasi-distribution (same total, possibly small negative entries); the
tomography fit is linear in it and its projection onto density matrices absorbs the
negativity. For the at most eight measured qubits of a run the full tensored inverse
costs ``O(n 2^n)`` per basis and is exact, so a subspace method such as mthree's (made
for hundreds of qubits and heavy-tailed outcome lists) would add a dependency and its
own calibration jobs without changing the result.

Orders: ``table[q, prepared, measured]`` and ``A[q]`` are indexed by *logical* qubit
``q`` (clbit ``q``); outcomes are little-endian (``s = sum_q s_q 2^q``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from qiskit.circuit import ClassicalRegister, QuantumCircuit

#: ``P(0|0) + P(1|1) - 1`` at or below this makes a qubit's readout unusable.
MIN_CONTRAST = 0.05


def calibration_circuits(
    num_qubits: int, physical_qubits: Sequence[int]
) -> list[QuantumCircuit]:
    """Prepare ``|0...0>`` and ``|1...1>`` on ``physical_qubits`` and measure them.

    Args:
        num_qubits: width of the device (the circuits act on physical qubits).
        physical_qubits: ``physical_qubits[q]`` is measured into clbit ``q`` of a
            register ``meas``.

    Raises:
        ValueError: if a qubit is repeated or outside ``0 .. num_qubits - 1``.
    """
    phys = [int(p) for p in physical_qubits]
    if len(set(phys)) != len(phys) or not all(0 <= p < num_qubits for p in phys):
        raise ValueError(
            f"physical_qubits = {phys} must be distinct qubits in 0..{num_qubits - 1}"
        )
    out = []
    for prepared in (0, 1):
        register = ClassicalRegister(len(phys), "meas")
        qc = QuantumCircuit(num_qubits, name=f"readout_{prepared}")
        qc.add_register(register)
        if prepared:
            qc.x(phys)
        qc.measure(phys, register)
        out.append(qc)
    return out


def readout_table(
    counts_0: Mapping[str, int], counts_1: Mapping[str, int], n_qubits: int
) -> np.ndarray:
    """Per-qubit calibration counts from the two calibration circuits' count tables.

    Args:
        counts_0, counts_1: counts of the all-``|0>`` and all-``|1>`` circuits, keys
            little-endian bit strings over the ``n_qubits`` measured qubits.
        n_qubits: number of measured qubits.

    Returns:
        ``table[q, prepared, measured]``, shape ``(n_qubits, 2, 2)``.
    """
    table = np.zeros((n_qubits, 2, 2), dtype=np.int64)
    for prepared, counts in enumerate((counts_0, counts_1)):
        for key, value in counts.items():
            bits = key.replace(" ", "")[::-1]  # bits[q] is qubit q's outcome
            for q in range(n_qubits):
                table[q, prepared, int(bits[q])] += value
    return table


def assignment_matrices(table: np.ndarray) -> np.ndarray:
    """Assignment matrices ``A[q, measured, prepared]`` from calibration counts
    ``table[q, prepared, measured]``.

    Raises:
        ValueError: if a calibration circuit has no shots, or a qubit's contrast
            ``P(0|0) + P(1|1) - 1`` is at most :data:`MIN_CONTRAST` (its readout
            carries too little information to invert).
    """
    table = np.asarray(table, dtype=float)
    shots = table.sum(axis=-1, keepdims=True)
    if np.any(shots <= 0):
        raise ValueError("every readout calibration circuit needs at least one shot")
    a = np.swapaxes(table / shots, -1, -2)
    contrast = a[:, 0, 0] + a[:, 1, 1] - 1
    bad = np.flatnonzero(contrast <= MIN_CONTRAST)
    if bad.size:
        q = int(bad[0])
        raise ValueError(
            f"readout of measured qubit {q} has contrast {contrast[q]:.3f}; "
            f"allowed: above {MIN_CONTRAST}"
        )
    return a


def mitigate_counts(counts: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Counts with the tensored readout inverse applied to every basis distribution.

    Args:
        counts: shape ``(..., 2^n)``, little-endian outcomes over ``n`` qubits.
        table: calibration counts ``(n, 2, 2)`` as from :func:`readout_table`.

    Returns:
        Real quasi-counts of the same shape and the same total per distribution.

    Raises:
        ValueError: if the shapes disagree, or as :func:`assignment_matrices`.
    """
    counts = np.asarray(counts, dtype=float)
    inverse = np.linalg.inv(assignment_matrices(table))
    n = inverse.shape[0]
    if counts.shape[-1] != 2**n:
        raise ValueError(
            f"counts have {counts.shape[-1]} outcomes; expected 2^{n} = {2**n} for "
            f"{n} calibrated qubits"
        )
    batch = counts.shape[:-1]
    x = counts.reshape(batch + (2,) * n)
    for q in range(n):
        axis = len(batch) + n - 1 - q  # the most significant bit comes first
        x = np.moveaxis(np.tensordot(inverse[q], x, axes=([1], [axis])), 0, axis)
    return x.reshape(counts.shape)


def corrected_counts(counts: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Readout-corrected counts that every fitter and the bootstrap can take.

    Each basis' quasi-distribution from :func:`mitigate_counts` is replaced by the
    nearest probability distribution (Euclidean projection onto the simplex, as in the
    fit's projection onto density matrices) and rounded to whole counts that keep the
    basis' number of shots (largest remainders round up). The rounding moves less than
    one count per outcome, far below the shot noise.

    Args:
        counts: raw counts ``(..., 3^n, 2^n)`` (or any ``(..., 2^n)``).
        table: calibration counts ``(n, 2, 2)``.

    Returns:
        Integer counts of the same shape and the same shots per distribution.
    """
    from qcflow.tomography import project_simplex

    counts = np.asarray(counts)
    shots = counts.sum(axis=-1, keepdims=True)
    p = project_simplex(mitigate_counts(counts, table) / np.maximum(shots, 1))
    exact = p * shots
    out = np.floor(exact).astype(np.int64)
    missing = (shots[..., 0] - out.sum(axis=-1)).astype(np.int64)
    order = np.argsort(out - exact, axis=-1)  # largest remainder first
    ranks = np.argsort(order, axis=-1)
    out += ranks < missing[..., None]
    return out
