"""The sweep: prepare, evolve, measure, fit and evaluate every (setting, time) point.

Two ways to obtain the counts of the ``3^(2M)`` tomography bases of one point:

- ``method = "circuits"``: run the preparation, evolution and basis-change circuits
  on the Aer simulator, measuring the system qubits only (what hardware runs);
- ``method = "state"``: take the reduced state of the same circuits (statevector of the
  preparation, operator of the evolution) and draw each basis' counts from its exact
  outcome distribution. For an ideal simulator this is statistically the same
  experiment.

Every point is also evaluated on the exact reduced states (the ``_exact`` values). The
reference for the differences is the tomography of the ``t = 0`` point of the same
correlation setting, measured like every other point.

States are fitted by ``[run] fitter``. With ``[run] bootstrap = n > 0`` every measured
quantity also gets ``_err``, ``_lo`` and ``_hi`` columns from ``n`` parametric bootstrap
replicates (:mod:`qcflow.bootstrap`), drawn from the point's own generator; ``flow`` is
then decided by the interval of ``dN_A`` and may be ``undetermined``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcflow.bootstrap import bootstrap_states, flow_from_interval, interval_columns
from qcflow.config import Config
from qcflow.evolution import evolution_circuit, trotter_steps
from qcflow.model import Correlation
from qcflow.preparation import preparation_circuit
from qcflow.quantities import (
    LEVELS,
    QUANTITIES,
    Observables,
    batch_quantities,
    flow_direction,
)
from qcflow.tomography import basis_probabilities, fit_state, sample_counts

#: Tolerance on ``(mu_a - mu_b) dN_A`` below which an exact flow is ``none``.
EXACT_FLOW_TOL = 1e-12
#: Last word of the bootstrap generator's seed (the counts' generator has none).
BOOTSTRAP_STREAM = 1


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
    #: Readout calibration counts ``(n, 2, 2)`` of a device backend (see
    #: :mod:`qcflow.mitigation`), stored with the raw counts.
    readout: np.ndarray | None = None


def sweep_points(config: Config) -> list[Point]:
    """All points in run order: each setting's ``t = 0`` reference comes first."""
    times = config.measured_times()
    out: list[Point] = []
    for s, corr in enumerate(config.settings()):
        for i, t in enumerate(times):
            out.append(Point(len(out), s, i, corr, t))
    return out


def point_rng(config: Config, point: Point) -> np.random.Generator:
    """The point's own generator: a function of the seed and the point's position."""
    return np.random.default_rng(
        [config.run.seed, point.setting_index, point.time_index]
    )


def bootstrap_rng(config: Config, point: Point) -> np.random.Generator:
    """The point's bootstrap generator, independent of the one that drew its counts."""
    return np.random.default_rng(
        [config.run.seed, point.setting_index, point.time_index, BOOTSTRAP_STREAM]
    )


def system_state(prepared: np.ndarray, n_modes: int) -> np.ndarray:
    """Reduced state of the system qubits from a statevector (ancillas high)."""
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
    """Runs the points of one configuration; exact states are computed once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.points = sweep_points(config)
        self._unitaries: dict[float, np.ndarray] = {}
        self._initial: dict[int, np.ndarray] = {}
        self._reference: dict[int, np.ndarray] = {}
        self._reference_counts: dict[int, np.ndarray] = {}
        self._reference_replicates: dict[int, np.ndarray] = {}
        self._observables = Observables.of(config.initial_state(Correlation()))
        self._runner: Any = None
        #: Device backends: readout calibration and compiled-circuit columns by point.
        self.readout: dict[int, np.ndarray] = {}
        self.device_rows: dict[int, dict[str, Any]] = {}

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
        """Counts from measurement circuits on the backend's simulator (``"circuits"``).

        On a device backend (``fake_<device>``) the readout calibration and the
        compiled circuit's columns are kept in :attr:`readout` and :attr:`device_rows`.
        """
        from qcflow.devices import DeviceRunner, make_runner

        if self._runner is None:
            self._runner = make_runner(self.config)
        circuit = full_circuit(self.config, point.correlation, point.time)
        seed = int(point_rng(self.config, point).integers(2**31))
        n_system = self.config.model.n_qubits
        if isinstance(self._runner, DeviceRunner):
            measured = self._runner.measure(circuit, n_system, seed)
            self.readout[point.index] = measured.readout
            self.device_rows[point.index] = measured.compiled.row()
            return measured.counts
        return self._runner.run([circuit], n_system, [seed])[0]

    def measure(self, point: Point) -> np.ndarray:
        if self.config.run.method == "state":
            return self.sample(point)
        return self.simulate(point)

    # Fits ---------------------------------------------------------------------------

    def fit(self, counts: np.ndarray) -> np.ndarray:
        """The state fitted to ``counts`` by ``[run] fitter`` (batched)."""
        return fit_state(counts, fitter=self.config.run.fitter)

    def corrected(self, point: Point, counts: np.ndarray) -> np.ndarray:
        """The counts that the fit sees: readout-mitigated when the point has a
        calibration and ``[run] readout_mitigation`` is on, else ``counts`` itself."""
        table = self.readout.get(point.index)
        if table is None or not self.config.run.readout_mitigation:
            return counts
        from qcflow.mitigation import corrected_counts

        return corrected_counts(counts, table)

    def replicates(
        self, point: Point, counts: np.ndarray, fitted: np.ndarray
    ) -> np.ndarray:
        """``[run] bootstrap`` replicate states of the point, from its own generator."""
        return bootstrap_states(
            counts,
            self.fit,
            self.config.run.bootstrap,
            rng=bootstrap_rng(self.config, point),
            fitted=fitted,
        )

    def _set_reference(self, point: Point, counts: np.ndarray, fitted: np.ndarray):
        self._reference[point.setting_index] = fitted
        self._reference_counts[point.setting_index] = counts
        self._reference_replicates.pop(point.setting_index, None)

    def reference_replicates(self, point: Point) -> np.ndarray:
        """Bootstrap replicates of the reference of the point's setting (cached)."""
        s = point.setting_index
        if s not in self._reference_replicates:
            first = point.index - point.time_index
            reference = Point(first, s, 0, point.correlation, 0.0)
            self._reference_replicates[s] = self.replicates(
                reference, self._reference_counts[s], self._reference[s]
            )
        return self._reference_replicates[s]

    # Evaluation ---------------------------------------------------------------------

    def evaluate(self, point: Point, counts: np.ndarray) -> PointResult:
        """Fit the counts and compute measured and exact quantities of the point.

        The setting's ``t = 0`` point must have been evaluated first.
        """
        raw, counts = counts, self.corrected(point, counts)
        config = self.config
        state = config.initial_state(point.correlation)
        fitted = self.fit(counts)
        if point.time_index == 0:
            self._set_reference(point, counts, fitted)
        reference = self._reference[point.setting_index]
        columns = QUANTITIES + LEVELS
        values = batch_quantities(fitted, reference, state, self._observables)
        measured = {name: float(values[name]) for name in columns}
        values = batch_quantities(
            self.exact_state(point),
            self.exact_initial(point),
            state,
            self._observables,
            gibbs_reference=True,
        )
        exact = {name: float(values[name]) for name in columns}
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
        if config.run.bootstrap > 0:
            reference_replicates = self.reference_replicates(point)
            replicates = (
                reference_replicates
                if point.time_index == 0
                else self.replicates(point, counts, fitted)
            )
            values = batch_quantities(
                replicates, reference_replicates, state, self._observables
            )
            row.update(interval_columns(measured, values))
            row["flow"] = flow_from_interval(row["dN_A_lo"], row["dN_A_hi"], mu_a, mu_b)
        else:
            row["flow"] = flow_direction(measured["dN_A"], mu_a, mu_b)
        row.update({f"{k}_exact": exact[k] for k in QUANTITIES + LEVELS})
        row["flow_exact"] = flow_direction(
            exact["dN_A"], mu_a, mu_b, tol=EXACT_FLOW_TOL
        )
        row.update(self.device_rows.get(point.index, {}))
        return PointResult(point, raw, row, self.readout.get(point.index))

    def run(
        self, done: Mapping[int, np.ndarray] | None = None
    ) -> Iterator[PointResult]:
        """Measure and evaluate every point, in sweep order.

        Args:
            done: counts of points already measured, by point index; those points are
                not measured again (a ``t = 0`` one is refitted as the reference, with
                its readout calibration from :attr:`readout` on a device backend).
        """
        done = done or {}
        for point in self.points:
            if point.index in done:
                if point.time_index == 0:
                    counts = self.corrected(point, done[point.index])
                    self._set_reference(point, counts, self.fit(counts))
                continue
            yield self.evaluate(point, self.measure(point))
