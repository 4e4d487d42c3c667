"""Number-symmetric tomography: states block-diagonal in the total particle number.

Every exact state of the experiment commutes with ``N = N_A + N_B`` (the preparation
and the exchange conserve it), and so with the fermion parity ``(-1)^N``. With
Jordan-Wigner, qubit ``q`` holds one mode and ``|1>`` is occupied, so ``N`` is diagonal
and its value on the basis state ``|s>`` (``s`` little-endian over the ``2M`` system
qubits) is the number of ones in ``s``. A state commutes with ``N`` exactly when it is
block-diagonal in these sectors:

.. math::

    \\rho = \\bigoplus_{k=0}^{n} \\rho_k, \\qquad
    \\rho_k = \\Pi_k \\rho \\Pi_k, \\qquad
    \\Pi_k = \\sum_{|s| = k} |s\\rangle\\langle s|.

For ``n`` qubits this leaves ``sum_k C(n, k)^2 - 1`` real parameters instead of
``4^n - 1`` (69 instead of 255 for ``M = 2``). The map ``rho -> sum_k Pi_k rho Pi_k``
(the twirl over ``exp(i phi N)``) is the orthogonal projection in the Frobenius norm
onto that subspace; it keeps trace and hermiticity, and the nearest density matrix to a
block-diagonal matrix is block-diagonal, so the projection onto physical symmetric
states is: zero the elements between sectors, diagonalise each block, project all
eigenvalues together onto the probability simplex.

Noise that does not conserve ``N`` still shows: the weights ``Tr rho_k`` of the sectors
are free, so ``N_drift`` is measured; only coherences between sectors are dropped.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from qcflow.tomography import linear_inversion, project_simplex


@cache
def sectors(n_qubits: int) -> tuple[np.ndarray, ...]:
    """Basis indices of each total-number sector, ``k = 0 .. n_qubits``, ascending.

    Index ``s`` belongs to sector ``k`` when ``s`` has ``k`` bits set (qubit ``q`` is
    bit ``q``, little-endian); the order inside a sector is ascending ``s``.

    Raises:
        ValueError: if ``n_qubits`` is not a positive integer.
    """
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"n_qubits = {n_qubits!r} is out of range; allowed: >= 1")
    counts = np.array([bin(s).count("1") for s in range(2**n_qubits)])
    out = tuple(np.flatnonzero(counts == k) for k in range(n_qubits + 1))
    for block in out:
        block.setflags(write=False)
    return out


@cache
def sector_mask(n_qubits: int) -> np.ndarray:
    """Boolean ``(2^n, 2^n)`` mask, true where row and column have the same number."""
    counts = np.array([bin(s).count("1") for s in range(2**n_qubits)])
    mask = counts[:, None] == counts[None, :]
    mask.setflags(write=False)
    return mask


def n_parameters(n_qubits: int) -> int:
    """Real parameters of a symmetric density matrix, ``sum_k C(n, k)^2 - 1``."""
    return sum(len(block) ** 2 for block in sectors(n_qubits)) - 1


def _n_qubits(dim: int) -> int:
    n = dim.bit_length() - 1
    if n < 1 or 2**n != dim:
        raise ValueError(f"matrix dimension {dim} is not a power of two >= 2")
    return n


def symmetrize(rho: np.ndarray) -> np.ndarray:
    """``sum_k Pi_k rho Pi_k``: zero every element between different number sectors.

    Accepts leading batch axes. Hermiticity and trace are kept.
    """
    rho = np.asarray(rho)
    return np.where(sector_mask(_n_qubits(rho.shape[-1])), rho, 0)


def is_symmetric(rho: np.ndarray, *, atol: float = 1e-10) -> bool:
    """Whether every element between different number sectors is below ``atol``."""
    rho = np.asarray(rho)
    mask = sector_mask(_n_qubits(rho.shape[-1]))
    return bool(np.all(np.abs(np.where(mask, 0, rho)) <= atol))


def project_symmetric(rho: np.ndarray) -> np.ndarray:
    """The nearest symmetric density matrix in the Frobenius norm, batched.

    Equal to :func:`qcflow.tomography.project_to_density` of
    :func:`symmetrize` ``(rho)``, computed block by block (``C(n, k)``-sized
    eigendecompositions instead of one of size ``2^n``).
    """
    rho = np.asarray(rho, dtype=complex)
    rho = (rho + np.swapaxes(rho, -1, -2).conj()) / 2
    blocks = sectors(_n_qubits(rho.shape[-1]))
    decomposed = [np.linalg.eigh(rho[..., b[:, None], b[None, :]]) for b in blocks]
    values = project_simplex(np.concatenate([v for v, _ in decomposed], axis=-1))
    out = np.zeros_like(rho)
    start = 0
    for b, (_, vectors) in zip(blocks, decomposed, strict=True):
        lam = values[..., start : start + len(b)]
        start += len(b)
        out[..., b[:, None], b[None, :]] = (vectors * lam[..., None, :]) @ np.swapaxes(
            vectors, -1, -2
        ).conj()
    return out


def fit_symmetric(counts: np.ndarray) -> np.ndarray:
    """Linear inversion, symmetrised, then projected onto symmetric density matrices.

    Args:
        counts: shape ``(..., 3^n, 2^n)`` as for
            :func:`qcflow.tomography.linear_inversion`.
    """
    return project_symmetric(linear_inversion(counts))
