"""The sweep: prepare, evolve, measure, fit and evaluate every (correlation, time) point.

Two ways to obtain the counts of the ``3^(2M)`` tomography bases of one point:

- ``method = "circuits"``: run the preparation, evolution and basis-change circuits on the
  Aer simulator with measurements of the system qubits only (what hardware runs);
- ``method = "state"``: take the reduced state of the same circuits (statevector of the
  preparation, operator of the evolution) and draw each basis' counts from its exact
  outcome distribution. For an ideal simulator this is statistically the same experiment.

Every point is also evaluated on the exact reduced states (the ``_exact`` values). The
reference for the differences is the tomography of the ``t = 0`` point of the same
correlation setting, measured like every other point.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcflow.config import Config
from qcflow.evolution import evolution_circuit, trotter_steps
from qcflow.model import Correlation
from qcflow.preparation import preparation_circuit
from qcflow.quantities import QUANTITIES, Observables, flow_direction, point_quantities
from qcflow.tomography import basis_probabilities, fit_state, sample_counts

#: Tolerance on ``(mu_a - mu_b) dN_A`` below which an exact flow is ``none``.
EXACT_FLOW_TOL = 1e-12


@dataclass(frozen=True)
class Point:
    """One point of the sweep.

    Attributes:
        index: position in the sweep (settings outer, times inner).
        setting_index, time_index: positions in ``Config.settings()`` and
            ``Config.measured_times()``; ``time_index == 0`` is the ``t = 0`` reference.
        correlation: the initial-state correlation setting.
        time: evolution time.
    """

    index: int
    setting_index: int
    time_index: int
    correlation: Correlation
    time: float

    @property
    def key(self) -> str:
        """A stable file-name key, ``point_0007``."""
        return f"point_{self.index:04d}"


@dataclass(frozen=True)
class PointResult:
    """The counts and the result row of one finished point."""

    point: Point
    counts: np.ndarray
    row: dict[str, Any]


def sweep_points(config: Config) -> list[Point]:
    """All points in run order: each setting's ``t = 0`` reference comes first."""
    times = config.measured_times()
    out = []
    for s, corr in enumerate(config.settings()):
        for i, t in enumerate(times):
            out.append(Point(len(out), s, i, corr, t))
    return out


def point_rng(config: Config, point: Point) -> np.random.Generator:
    """The point's own generator, a function of the seed and the point's position only."""
    return np.random.default_rng([config.run.seed, point.setting_index, point.time_index])


def system_state(prepared: np.ndarray, n_modes: int) -> np.ndarray:
    """Reduced density matrix of the system qubits from the statevector (ancillas high)."""
    d_sys = 2 ** (2 * n_modes)
    psi = np.asarray(prepared).reshape(-1, d_sys)  # (ancilla index, system index)
    return psi.T @ psi.conj()


def full_circuit(config: Config, correlation: Correlation, time: float):
    """Preparation followed by evolution on the system qubits (no measurement)."""
    state = config.initial_state(correlation)
    qc = preparation_circuit(state)
    evolution = evolution_circuit(
        config.model,
        time,
        trotter_dt=config.exchange.trotter_dt,
        trotter_order=config.exchange.trotter_order,
    )
    qc.compose(evolution, range(config.model.n_qubits), inplace=True)
    return qc


class Experiment:
    """Runs the points of one configuration; exact states are computed once and cached."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.points = sweep_points(config)
        self._unitaries: dict[float, np.ndarray] = {}
        self._initial: dict[int, np.ndarray] = {}
        self._reference: dict[int, np.ndarray] = {}
        self._observables = Observables.of(config.initial_state(Correlation()))
        self._runner: Any = None

    # Exact states -------------------------------------------------------------------

    def exact_initial(self, point: Point) -> np.ndarray:
        """``rho_AB(0)`` of the point's setting, from the preparation's statevector."""
        if point.setting_index not in self._initial:
            from qiskit.quantum_info import Statevector

            prep = preparation_circuit(self.config.initial_state(point.correlation))
            psi = Statevector(prep).data
            self._initial[point.setting_index] = system_state(
                psi, self.config.system.n_modes
            )
        return self._initial[point.setting_index]

    def evolution_unitary(self, time: float) -> np.ndarray:
        """The operator of the Trotter circuit at ``time`` (decomposed, not exact)."""
        if time not in self._unitaries:
            from qiskit.quantum_info import Operator

            circuit = evolution_circuit(
                self.config.model,
                time,
                trotter_dt=self.config.exchange.trotter_dt,
                trotter_order=self.config.exchange.trotter_order,
            )
            self._unitaries[time] = Operator(circuit).data
        return self._unitaries[time]

    def exact_state(self, point: Point) -> np.ndarray:
        """``rho_AB(t)`` of the circuits, noiseless and with infinite shots."""
        u = self.evolution_unitary(point.time)
        return u @ self.exact_initial(point) @ u.conj().T

    # Counts -------------------------------------------------------------------------

    def sample(self, point: Point) -> np.ndarray:
        """Counts drawn from the exact outcome distributions (``method = "state"``)."""
        probabilities = basis_probabilities(self.exact_state(point))
        return sample_counts(
            probabilities, self.config.run.shots, rng=point_rng(self.config, point)
        )

    def simulate(self, point: Point) -> np.ndarray:
        """Counts from measurement circuits on the Aer simulator (``"circuits"``)."""
        if self._runner is None:
            from qcflow.backends import AerRunner

            self._runner = AerRunner(shots=self.config.run.shots)
        circuit = full_circuit(self.config, point.correlation, point.time)
        seed = int(point_rng(self.config, point).integers(2**31))
        return self._runner.run([circuit], self.config.model.n_qubits, [seed])[0]

    def measure(self, point: Point) -> np.ndarray:
        if self.config.run.method == "state":
            return self.sample(point)
        return self.simulate(point)

    # Evaluation ---------------------------------------------------------------------

    def evaluate(self, point: Point, counts: np.ndarray) -> PointResult:
        """Fit the counts and compute measured and exact quantities of the point.

        The setting's ``t = 0`` point must have been evaluated first.
        """
        config = self.config
        state = config.initial_state(point.correlation)
        fitted = fit_state(counts)
        if point.time_index == 0:
            self._reference[point.setting_index] = fitted
        reference = self._reference[point.setting_index]
        measured = point_quantities(fitted, reference, state, self._observables)
        exact = point_quantities(
            self.exact_state(point), self.exact_initial(point), state, self._observables
        )
        mu_a, mu_b = config.state.mu_a, config.state.mu_b
        row: dict[str, Any] = {
            "coherence": point.correlation.coherence,
            "phase_deg": point.correlation.phase_deg,
            "classical": point.correlation.classical,
            "time": point.time,
            "trotter_steps": trotter_steps(point.time, config.exchange.trotter_dt),
            "shots": config.run.shots,
        }
        row.update(measured)
        row["flow"] = flow_direction(measured["dN_A"], mu_a, mu_b)
        row.update({f"{k}_exact": exact[k] for k in QUANTITIES})
        row["flow_exact"] = flow_direction(
            exact["dN_A"], mu_a, mu_b, tol=EXACT_FLOW_TOL
        )
        return PointResult(point, counts, row)

    def run(self, done: Mapping[int, np.ndarray] | None = None) -> Iterator[PointResult]:
        """Measure and evaluate every point, in sweep order.

        Args:
            done: counts of points already measured, by point index; those points are
                not measured again (a ``t = 0`` one is refitted as the reference).
        """
        done = done or {}
        for point in self.points:
            if point.index in done:
                if point.time_index == 0:
                    self._reference[point.setting_index] = fit_state(done[point.index])
                continue
            yield self.evaluate(point, self.measure(point))
