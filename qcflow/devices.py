"""Device backends: backend names, fake devices, compilation and a noisy Aer runner.

Backend names, in ``[run] backend`` and ``--backend``:

- ``aer``: the ideal Aer simulator (:class:`qcflow.backends.AerRunner`);
- ``fake_<device>`` (``fake_torino``, ``fake_sherbrooke``, ``fake_fez``, ...): Aer with
  the noise model, basis gates and coupling map of that device's calibration snapshot
  from ``qiskit_ibm_runtime.fake_provider`` (:class:`DeviceRunner`);
- ``ibm:<backend>`` (``ibm:ibm_torino``): a real IBM Quantum backend, reached through
  :mod:`qcflow.ibm` (submit, status, fetch).

Compilation for a device (:class:`DeviceCompiler`): every float angle of the logical
prepare-and-evolve circuit (system qubits ``0 .. 2M-1`` first, ancillas after) becomes a
circuit parameter, so circuits that differ only in angles share one *structure*. Each
structure is transpiled once with the preset pass manager (seeded, with one initial
layout for the whole sweep), the point's angles are bound afterwards, and the bound
circuit goes through the preset optimization stage again at the fixed layout (so gates
whose angles became trivial still simplify). The physical qubit holding logical
system qubit ``q`` at the end of the circuit is ``physical_qubits[q]``, read from the
transpiled layout; only those qubits are measured, ancillas never are. Count keys stay
little-endian over the logical system qubits: clbit ``q`` holds the outcome of
``physical_qubits[q]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit.circuit import ClassicalRegister, Parameter, QuantumCircuit

from qcflow.backends import counts_array
from qcflow.mitigation import calibration_circuits, readout_table
from qcflow.tomography import basis_labels, measurement_circuit

if TYPE_CHECKING:
    from qcflow.config import Config

logger = logging.getLogger(__name__)

IBM_PREFIX = "ibm:"
FAKE_PREFIX = "fake_"
BACKEND_FORMS = (
    "aer (ideal simulator), fake_<device> (noisy simulator of a device snapshot, "
    "e.g. fake_torino), ibm:<backend> (IBM Quantum, e.g. ibm:ibm_torino)"
)
INSTALL_HINT = 'install it from the qcflow checkout with: pip install -e ".[ibm]"'
DEFAULT_OPTIMIZATION_LEVEL = 3
_IBM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class DeviceError(ValueError):
    """A backend name is unknown, or a device backend cannot be used."""


def require_runtime() -> ModuleType:
    """The ``qiskit_ibm_runtime`` module, or a one-line error on how to install it."""
    try:
        import qiskit_ibm_runtime
    except ImportError as exc:
        message = f"qiskit-ibm-runtime is not installed; {INSTALL_HINT}"
        raise DeviceError(message) from exc
    return qiskit_ibm_runtime


@cache
def _fake_classes() -> dict[str, type]:
    require_runtime()
    from qiskit_ibm_runtime.fake_provider import backends
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    classes: dict[str, type] = {}
    for cls in vars(backends).values():
        if isinstance(cls, type) and issubclass(cls, FakeBackendV2):
            name = getattr(cls, "backend_name", None)
            if name:
                classes[name] = cls
    return classes


def fake_backend_names() -> list[str]:
    """Names of the device snapshots in ``qiskit_ibm_runtime.fake_provider``, sorted."""
    return sorted(_fake_classes())


def backend_kind(name: str) -> str:
    """``"aer"``, ``"fake"`` or ``"ibm"`` for a valid backend name.

    Raises:
        DeviceError: if the name has none of the forms ``aer``, ``fake_<device>``
            (a device that the fake provider has) or ``ibm:<backend>``.
    """
    if name == "aer":
        return "aer"
    if name.startswith(IBM_PREFIX):
        if not _IBM_NAME.fullmatch(name[len(IBM_PREFIX) :]):
            raise DeviceError(
                f"backend {name!r} has no valid IBM backend name after 'ibm:'; "
                f"allowed: {BACKEND_FORMS}"
            )
        return "ibm"
    if name.startswith(FAKE_PREFIX):
        if name not in _fake_classes():
            raise DeviceError(
                f"backend {name!r} is not a device snapshot of qiskit-ibm-runtime; "
                f"allowed fake devices: {', '.join(fake_backend_names())}"
            )
        return "fake"
    raise DeviceError(f"backend {name!r} is not known; allowed: {BACKEND_FORMS}")


def fake_backend(name: str) -> Any:
    """A new instance of the fake device ``name`` (``fake_torino``, ...)."""
    if backend_kind(name) != "fake":
        raise DeviceError(f"backend {name!r} is not of the form fake_<device>")
    return _fake_classes()[name]()


# Compilation --------------------------------------------------------------------------


def parametrize(
    circuit: QuantumCircuit,
) -> tuple[QuantumCircuit, dict[str, float], Hashable]:
    """Replace every real gate angle by a parameter named after its position.

    Returns:
        ``(template, values, structure)``: the template circuit, the angle of each
        parameter by name (``_a0``, ``_a1``, ... in gate order), and a hashable key
        equal for circuits that differ only in angles (whose templates then have the
        same parameter names).
    """
    template = circuit.copy_empty_like()
    values: dict[str, float] = {}
    structure: list[Hashable] = []
    for instruction in circuit.data:
        op = instruction.operation
        if op.params and all(isinstance(p, int | float) for p in op.params):
            op = op.copy()
            names = [f"_a{len(values) + i}" for i in range(len(op.params))]
            values.update(zip(names, map(float, op.params), strict=True))
            op.params = [Parameter(name) for name in names]
            params: Hashable = len(names)
        else:
            params = tuple(map(repr, op.params))
        template.append(op, instruction.qubits, instruction.clbits)
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        structure.append((op.name, qubits, params))
    return template, values, tuple(structure)


@dataclass(frozen=True)
class Compiled:
    """A prepare-and-evolve circuit compiled for a device.

    Attributes:
        circuit: the ISA circuit on all device qubits, angles bound, no measurement.
        physical_qubits: ``physical_qubits[q]`` holds logical system qubit ``q`` (mode
            ``q`` in Jordan-Wigner order) at the end of ``circuit``.
        two_qubit_gates: number of two-qubit gates of ``circuit``.
        depth: depth of ``circuit``.
    """

    circuit: QuantumCircuit
    physical_qubits: tuple[int, ...]
    two_qubit_gates: int
    depth: int

    def row(self) -> dict[str, Any]:
        """Result-row columns: two-qubit gate count, depth, measured physical qubits."""
        return device_row(self.physical_qubits, self.two_qubit_gates, self.depth)


def device_row(
    physical_qubits: Sequence[int], two_qubit_gates: int, depth: int
) -> dict[str, Any]:
    """The result-row columns of a compiled circuit; ``physical_qubits`` is a string
    ``"p0 p1 ..."`` with the physical qubit of logical system qubit ``q`` at place q."""
    return {
        "two_qubit_gates": two_qubit_gates,
        "depth": depth,
        "physical_qubits": " ".join(map(str, physical_qubits)),
    }


class DeviceCompiler:
    """Compiles logical circuits for one device, once per circuit structure.

    Args:
        backend: the device (a fake backend or an IBM backend), read for its target.
        optimization_level: preset pass manager level, 0..3.
        seed: transpiler seed.
        layout_circuit: a circuit of the sweep with every kind of interaction (the
            longest evolution); its layout is the initial layout of every structure, so
            all points use the same physical qubits. Without it, the first circuit
            compiled fixes the layout.

    Raises:
        DeviceError: if ``optimization_level`` is not in 0..3.
    """

    def __init__(
        self,
        backend: Any,
        *,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        seed: int,
        layout_circuit: QuantumCircuit | None = None,
    ) -> None:
        if optimization_level not in (0, 1, 2, 3):
            raise DeviceError(
                f"optimization_level = {optimization_level!r} is out of range; "
                "allowed: 0..3"
            )
        self.backend = backend
        self.target = backend.target
        self.optimization_level = optimization_level
        self.seed = seed
        self._layout_circuit = layout_circuit
        self._pass_manager: Any = None
        self._templates: dict[Hashable, QuantumCircuit] = {}

    def _preset(self, initial_layout: list[int] | None = None) -> Any:
        from qiskit.transpiler import generate_preset_pass_manager

        return generate_preset_pass_manager(
            optimization_level=self.optimization_level,
            target=self.target,
            initial_layout=initial_layout,
            seed_transpiler=self.seed,
        )

    def _pass_manager_for(self, circuit: QuantumCircuit) -> Any:
        if self._pass_manager is None:
            reference = self._layout_circuit or circuit
            layout = (
                self._preset()
                .run(reference)
                .layout.initial_index_layout(filter_ancillas=True)
            )
            logger.info("%s: initial layout %s", self.backend.name, layout)
            self._pass_manager = self._preset(layout)
        return self._pass_manager

    def compile(self, circuit: QuantumCircuit, n_system: int) -> Compiled:
        """Compile a prepare-and-evolve circuit (system qubits ``0 .. n_system-1``)."""
        template, values, structure = parametrize(circuit)
        pass_manager = self._pass_manager_for(circuit)
        if structure not in self._templates:
            self._templates[structure] = pass_manager.run(template)
        compiled = self._templates[structure]
        bound = compiled.assign_parameters(
            {p: values[p.name] for p in compiled.parameters}, inplace=False
        )
        if pass_manager.optimization is not None:
            bound = pass_manager.optimization.run(bound)
        physical = compiled.layout.final_index_layout(filter_ancillas=True)[:n_system]
        return Compiled(
            bound, tuple(physical), bound.num_nonlocal_gates(), bound.depth()
        )

    def translate(self, circuits: list[QuantumCircuit]) -> list[QuantumCircuit]:
        """Rewrite single-qubit gates (basis changes, X) in the device's basis."""
        from qiskit.transpiler import PassManager
        from qiskit.transpiler.passes import Optimize1qGatesDecomposition

        return PassManager([Optimize1qGatesDecomposition(target=self.target)]).run(
            circuits
        )

    def tomography_circuits(self, compiled: Compiled) -> list[QuantumCircuit]:
        """One ISA circuit per Pauli basis, in :func:`~qcflow.tomography.basis_labels`
        order.

        Basis ``label`` rotates and measures ``physical_qubits[q]`` into clbit ``q`` of
        a register ``meas``; no other qubit is measured.
        """
        phys = list(compiled.physical_qubits)
        out = []
        for label in basis_labels(len(phys)):
            qc = compiled.circuit.copy(name=label)
            register = ClassicalRegister(len(phys), "meas")
            qc.add_register(register)
            qc.compose(measurement_circuit(label), phys, list(register), inplace=True)
            out.append(qc)
        return self.translate(out)

    def calibration_circuits(
        self, physical_qubits: Sequence[int]
    ) -> list[QuantumCircuit]:
        """The two readout-calibration circuits of ``physical_qubits``, in ISA form."""
        return self.translate(
            calibration_circuits(self.target.num_qubits, physical_qubits)
        )


# The noisy simulator ------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceMeasurement:
    """The counts of one point on a device and what goes with them.

    Attributes:
        counts: ``(3^n, 2^n)`` counts of every basis, little-endian over logical qubits.
        readout: ``(n, 2, 2)`` readout calibration counts in logical order,
            ``readout[q, prepared, measured]`` (see :mod:`qcflow.mitigation`).
        compiled: the compiled prepare-and-evolve circuit.
    """

    counts: np.ndarray
    readout: np.ndarray
    compiled: Compiled


class DeviceRunner:
    """Aer with the noise model and coupling map of a fake device.

    Each point's tomography circuits and the two readout-calibration circuits of its
    measured qubits run in one simulator job, seeded by the point's seed.
    """

    def __init__(
        self,
        backend: Any,
        *,
        shots: int,
        seed: int,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        layout_circuit: QuantumCircuit | None = None,
    ) -> None:
        from qiskit_aer import AerSimulator

        self.name = backend.name
        self.shots = shots
        self.compiler = DeviceCompiler(
            backend,
            optimization_level=optimization_level,
            seed=seed,
            layout_circuit=layout_circuit,
        )
        self.simulator: Any = AerSimulator.from_backend(backend)

    def measure(
        self, circuit: QuantumCircuit, n_system: int, seed: int
    ) -> DeviceMeasurement:
        """Compile, run and count one prepare-and-evolve circuit."""
        compiled = self.compiler.compile(circuit, n_system)
        batch = self.compiler.tomography_circuits(compiled)
        batch += self.compiler.calibration_circuits(compiled.physical_qubits)
        result = self.simulator.run(
            batch, shots=self.shots, seed_simulator=seed, max_parallel_experiments=0
        ).result()
        n_bases = 3**n_system
        counts = counts_array([result.get_counts(b) for b in range(n_bases)], n_system)
        readout = readout_table(
            result.get_counts(n_bases), result.get_counts(n_bases + 1), n_system
        )
        return DeviceMeasurement(counts, readout, compiled)

    def run(
        self, circuits: Sequence[QuantumCircuit], n_system: int, seeds: Sequence[int]
    ) -> list[np.ndarray]:
        """Counts of every basis for each logical circuit, as
        :meth:`qcflow.backends.AerRunner.run`."""
        return [
            self.measure(circuit, n_system, seed).counts
            for circuit, seed in zip(circuits, seeds, strict=True)
        ]


def layout_circuit(config: Config) -> QuantumCircuit:
    """The sweep's circuit with every kind of gate: last setting, longest evolution."""
    from qcflow.experiment import full_circuit

    return full_circuit(config, config.settings()[-1], config.measured_times()[-1])


def make_runner(config: Config) -> Any:
    """The runner of ``[run] backend``: :class:`AerRunner` or :class:`DeviceRunner`.

    Raises:
        DeviceError: for an ``ibm:`` backend, which runs through ``qcflow submit``.
    """
    from qcflow.backends import AerRunner

    run = config.run
    kind = backend_kind(run.backend)
    if kind == "aer":
        return AerRunner(shots=run.shots)
    if kind == "ibm":
        raise DeviceError(
            f"backend {run.backend!r} runs through qcflow submit / status / fetch"
        )
    return DeviceRunner(
        fake_backend(run.backend),
        shots=run.shots,
        seed=run.seed,
        optimization_level=run.optimization_level,
        layout_circuit=layout_circuit(config),
    )
