"""Shared random objects and small dense helpers for the physics tests."""

from __future__ import annotations

import numpy as np


def random_unitary(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A Haar-random unitary from the QR decomposition of a complex Gaussian matrix."""
    z = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def random_orthogonal(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A random real orthogonal matrix; its determinant is +1 or -1 at random."""
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


def random_density(
    rng: np.random.Generator, dim: int, rank: int | None = None
) -> np.ndarray:
    """A random density matrix of the given rank (full rank by default)."""
    rank = dim if rank is None else rank
    g = rng.normal(size=(dim, rank)) + 1j * rng.normal(size=(dim, rank))
    rho = g @ g.conj().T
    return rho / np.trace(rho).real


def commutator(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x @ y - y @ x


def expectation(op: np.ndarray, rho: np.ndarray) -> complex:
    """``Tr(rho op)``."""
    return complex(np.einsum("ij,ji->", op, rho))


def popcount(values: np.ndarray) -> np.ndarray:
    """Number of set bits of each non-negative integer."""
    values = np.asarray(values)
    out = np.zeros_like(values)
    while np.any(values):
        out += values & 1
        values = values >> 1
    return out
