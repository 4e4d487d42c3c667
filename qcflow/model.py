"""The physical model: two identical fermionic chains A and B and their initial state.

Each subsystem holds ``n_modes`` (M) modes with the single-particle matrix

.. math::

    h_{jj} = \\epsilon, \\qquad h_{j,j+1} = h_{j+1,j} = J,

so ``H_A = sum_ij h_ij a_i^dag a_j`` and ``H_B`` the same on the b modes. The exchange
is ``H_I = g sum_j (a_j^dag b_j + h.c.) + U N_A N_B``.

The initial state is a product over normal-mode pairs ``(at_k, bt_k)``, where
``h = V diag(e_k) V^dag`` and ``at_k = sum_j conj(V_jk) a_j``. In the basis
``|n_A n_B>`` of one pair,

.. math::

    \\rho_k = \\mathrm{diag}(p_{00} + c, p_{01} - c, p_{10} - c, p_{11} + c)
      + \\alpha |10\\rangle\\langle 01| + \\bar\\alpha |01\\rangle\\langle 10|,

with thermal populations ``p_ab`` of the occupations ``f_A``, ``f_B``. Both corrections
have zero partial traces, so each marginal is exactly grand-canonical thermal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_MODES = 4


@dataclass(frozen=True)
class Model:
    """Hamiltonian parameters shared by both subsystems and the exchange.

    Attributes:
        n_modes: modes per subsystem (M), 1..4.
        energy: on-site energy epsilon, the same in A and B.
        hopping: nearest-neighbour hopping J inside each subsystem.
        coupling: exchange amplitude g between ``a_j`` and ``b_j``.
        interaction: density-density coupling U of the ``N_A N_B`` term.
    """

    n_modes: int
    energy: float = 1.0
    hopping: float = 0.0
    coupling: float = 1.0
    interaction: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.n_modes, bool) or not isinstance(self.n_modes, int):
            raise ValueError(f"n_modes must be an integer, got {self.n_modes!r}")
        if not 1 <= self.n_modes <= MAX_MODES:
            raise ValueError(
                f"n_modes = {self.n_modes} is out of range; allowed: 1..{MAX_MODES}"
            )
        for name in ("energy", "hopping", "coupling", "interaction"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} = {value} must be a finite number")

    @property
    def n_qubits(self) -> int:
        """Number of system qubits, ``2 n_modes`` (A block, then B block)."""
        return 2 * self.n_modes

    def single_particle(self) -> np.ndarray:
        """The M x M single-particle matrix h of one subsystem."""
        m = self.n_modes
        h = np.diag(np.full(m, float(self.energy)))
        for j in range(m - 1):
            h[j, j + 1] = h[j + 1, j] = self.hopping
        return h

    def normal_modes(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigen-decomposition ``h = V diag(e) V^T`` with ascending energies.

        Returns:
            ``(energies, V)``; V is real orthogonal and ``V = 1`` when ``hopping == 0``,
            so that the normal modes are then the site modes themselves.
        """
        h = self.single_particle()
        if self.hopping == 0:
            return np.diag(h).copy(), np.eye(self.n_modes)
        energies, v = np.linalg.eigh(h)
        return energies, v


def fermi(energies: np.ndarray, beta: float, mu: float) -> np.ndarray:
    """Fermi-Dirac occupations ``1 / (1 + exp(beta (e - mu)))``, overflow-safe."""
    x = beta * (np.asarray(energies, dtype=float) - mu)
    return np.asarray(0.5 * (1.0 - np.tanh(0.5 * x)))


@dataclass(frozen=True)
class Correlation:
    """One correlation setting of the initial state, applied to every normal-mode pair.

    Attributes:
        coherence: ``|alpha|`` as a fraction of its positivity bound, 0..1.
        phase_deg: ``arg(alpha)`` in degrees.
        classical: classical correlation c as a fraction of its range, -1..1
            (positive: of ``min(p01, p10)``; negative: of ``min(p00, p11)``).
    """

    coherence: float = 0.0
    phase_deg: float = 0.0
    classical: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.coherence <= 1.0):
            raise ValueError(
                f"coherence = {self.coherence} is out of range; allowed: 0..1"
            )
        if not math.isfinite(self.phase_deg):
            raise ValueError(f"phase_deg = {self.phase_deg} must be a finite number")
        if not (-1.0 <= self.classical <= 1.0):
            raise ValueError(
                f"classical = {self.classical} is out of range; allowed: -1..1"
            )


@dataclass(frozen=True)
class PairState:
    """The two-mode state of one normal-mode pair ``(at_k, bt_k)``.

    Attributes:
        f_a, f_b: thermal occupations of ``at_k`` and ``bt_k``.
        c: classical correlation (added to p00 and p11, removed from p01 and p10).
        alpha: coherence, the coefficient of ``at_k^dag bt_k``.
    """

    f_a: float
    f_b: float
    c: float
    alpha: complex

    def populations(self) -> np.ndarray:
        """Diagonal ``(p00 + c, p01 - c, p10 - c, p11 + c)`` in ``|n_A n_B>``."""
        fa, fb, c = self.f_a, self.f_b, self.c
        return np.array(
            [
                (1 - fa) * (1 - fb) + c,
                (1 - fa) * fb - c,
                fa * (1 - fb) - c,
                fa * fb + c,
            ]
        )


@dataclass(frozen=True)
class InitialState:
    """Thermal marginals at one temperature, two chemical potentials, and correlations.

    Attributes:
        model: the Hamiltonian (fixes the normal modes and their energies).
        beta: inverse temperature, >= 0.
        mu_a, mu_b: chemical potentials of A and B.
        correlation: the correlation setting applied to every pair.
    """

    model: Model
    beta: float
    mu_a: float
    mu_b: float
    correlation: Correlation = Correlation()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta = {self.beta} is out of range; allowed: beta >= 0")
        for name in ("mu_a", "mu_b"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} = {value} must be a finite number")

    def occupations(self) -> tuple[np.ndarray, np.ndarray]:
        """Normal-mode occupations ``(f_A, f_B)``, each of length M."""
        energies, _ = self.model.normal_modes()
        return fermi(energies, self.beta, self.mu_a), fermi(
            energies, self.beta, self.mu_b
        )

    def pairs(self) -> list[PairState]:
        """The state of every normal-mode pair, in order of ascending energy."""
        corr = self.correlation
        f_a, f_b = self.occupations()
        out = []
        for fa, fb in zip(f_a, f_b, strict=True):
            p00, p01, p10, p11 = (
                (1 - fa) * (1 - fb),
                (1 - fa) * fb,
                fa * (1 - fb),
                fa * fb,
            )
            if corr.classical >= 0:
                c = corr.classical * min(p01, p10)
            else:
                c = corr.classical * min(p00, p11)
            bound = math.sqrt(max((p01 - c) * (p10 - c), 0.0))
            alpha = corr.coherence * bound * np.exp(1j * np.deg2rad(corr.phase_deg))
            out.append(PairState(float(fa), float(fb), float(c), complex(alpha)))
        return out

    def dn_a_closed_form(self, time: float) -> float:
        """Closed form of ``dN_A(t)`` at ``U = 0``, for any hopping.

        ``dN_A(t) = sum_k (f_B - f_A) sin^2(gt) - Im(alpha_k) sin(2gt)``.
        """
        gt = self.model.coupling * time
        return float(
            sum(
                (p.f_b - p.f_a) * math.sin(gt) ** 2 - p.alpha.imag * math.sin(2 * gt)
                for p in self.pairs()
            )
        )
