"""Device backends: names, configuration, compilation, layout, and the noisy runner."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import Operator, Statevector

from qcflow.cli import main
from qcflow.config import ConfigError, config_from_dict
from qcflow.devices import (
    DeviceCompiler,
    DeviceError,
    DeviceRunner,
    backend_kind,
    fake_backend,
    fake_backend_names,
    layout_circuit,
    parametrize,
    require_runtime,
)
from qcflow.evolution import trotter_steps
from qcflow.experiment import Experiment, full_circuit, sweep_points

#: Exact comparisons of states of compiled circuits.
ATOL = 1e-10


def config_data(n_modes: int = 1, **run: Any) -> dict[str, Any]:
    return {
        "system": {"n_modes": n_modes, "energy": 1.0, "hopping": 0.5},
        "state": {
            "beta": 1.0,
            "mu_a": 1.5,
            "mu_b": 0.5,
            "coherence": [0.0, 0.9],
            "phase_deg": -90.0,
        },
        "exchange": {"coupling": 1.0, "times": [0.0, 0.2, 0.3], "trotter_dt": 0.1},
        "run": {"shots": 2000, "seed": 5, "bootstrap": 0} | run,
    }


def make_config(n_modes: int = 1, **run: Any):
    return config_from_dict(config_data(n_modes, **run))


# Names and configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        ("aer", "aer"),
        ("fake_manila", "fake"),
        ("fake_torino", "fake"),
        ("fake_sherbrooke", "fake"),
        ("fake_fez", "fake"),
        ("ibm:ibm_torino", "ibm"),
    ],
)
def test_backend_kinds(name, kind):
    assert backend_kind(name) == kind


@pytest.mark.parametrize(
    "name, match",
    [
        ("fake_nowhere", "fake_nowhere.*allowed fake devices: .*fake_torino"),
        ("nowhere", "aer .*fake_<device>.*ibm:<backend>"),
        ("ibm:", "aer .*fake_<device>.*ibm:<backend>"),
        ("ibm:two words", "ibm:<backend>"),
        ("Aer", "allowed: aer"),
    ],
)
def test_unknown_backends_list_the_valid_forms_in_one_line(name, match):
    with pytest.raises(DeviceError, match=match) as info:
        backend_kind(name)
    assert "\n" not in str(info.value)


def test_fake_backend_names_come_from_the_fake_provider():
    names = fake_backend_names()
    assert {"fake_torino", "fake_sherbrooke", "fake_fez", "fake_manila"} <= set(names)
    assert fake_backend("fake_manila").num_qubits == 5


def test_missing_runtime_gives_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime", None)
    with pytest.raises(DeviceError, match=r'pip install -e "\.\[ibm\]"'):
        require_runtime()


@pytest.mark.parametrize("backend", ["fake_manila", "ibm:ibm_torino"])
def test_device_backends_always_run_circuits(backend):
    config = make_config(backend=backend, method="state")
    assert config.run.method == "circuits"
    assert config.run.optimization_level == 3
    assert config.run.readout_mitigation is True
    assert make_config().run.method == "state"


@pytest.mark.parametrize(
    "run, match",
    [
        ({"backend": "fake_nowhere"}, "\\[run\\] backend 'fake_nowhere'"),
        ({"backend": 3}, "\\[run\\] backend = 3 is not a string"),
        ({"optimization_level": 4}, "optimization_level = 4 is out of range.*0..3"),
        ({"readout_mitigation": 1}, "readout_mitigation = 1 is not a boolean"),
    ],
)
def test_bad_device_settings_are_config_errors(run, match):
    with pytest.raises(ConfigError, match=match):
        make_config(**run)


SECRET = "s3cr3t-value-that-must-not-leak"


@pytest.mark.parametrize(
    "where",
    [
        ("run", "token"),
        ("run", "api_key"),
        ("run", "IBM_TOKEN"),
        ("system", "password"),
        (None, "token"),
    ],
)
def test_credentials_in_a_configuration_are_refused_without_echo(where):
    section, key = where
    data = config_data()
    if section is None:
        data[key] = SECRET
    else:
        data[section][key] = SECRET
    with pytest.raises(ConfigError, match="credentials do not belong") as info:
        config_from_dict(data)
    assert SECRET not in str(info.value)
    assert "save_account" in str(info.value)


# Compilation --------------------------------------------------------------------------


def test_parametrize_keeps_the_circuit_and_shares_structures():
    config = make_config(n_modes=2)
    points = sweep_points(config)
    keys = {}
    for point in points:
        circuit = full_circuit(config, point.correlation, point.time)
        template, values, key = parametrize(circuit)
        bound = template.assign_parameters(
            {p: values[p.name] for p in template.parameters}
        )
        assert Operator(bound).equiv(Operator(circuit))
        keys.setdefault(key, set()).add(trotter_steps(point.time, 0.1))
    # One structure per number of Trotter steps, shared by both settings.
    assert sorted(len(v) for v in keys.values()) == [1, 1, 1]
    assert len(keys) == len(config.measured_times())


def reduced_state(circuit: QuantumCircuit, qubits: tuple[int, ...]) -> np.ndarray:
    """Density matrix of ``qubits`` (``qubits[q]`` as logical qubit q), others out.

    Idle device qubits stay in |0> and are dropped before the statevector is taken.
    """
    active = sorted(
        {circuit.find_bit(q).index for i in circuit.data for q in i.qubits}
        | set(qubits)
    )
    index = {p: k for k, p in enumerate(active)}
    compact = QuantumCircuit(len(active), global_phase=circuit.global_phase)
    for instruction in circuit.data:
        compact.append(
            instruction.operation,
            [index[circuit.find_bit(q).index] for q in instruction.qubits],
        )
    n = len(active)
    psi = Statevector(compact).data.reshape((2,) * n)  # axis k is qubit n-1-k
    keep = [n - 1 - index[p] for p in reversed(qubits)]
    rest = [k for k in range(n) if k not in keep]
    m = np.transpose(psi, keep + rest).reshape(2 ** len(qubits), -1)
    return m @ m.conj().T


@pytest.fixture(scope="module")
def guadalupe_compiler():
    config = make_config(n_modes=2)
    compiler = DeviceCompiler(
        fake_backend("fake_guadalupe"), seed=11, layout_circuit=layout_circuit(config)
    )
    return config, compiler


def test_measured_qubits_hold_the_logical_system_in_order(guadalupe_compiler):
    config, compiler = guadalupe_compiler
    experiment = Experiment(config)
    physical = set()
    for point in experiment.points:
        circuit = full_circuit(config, point.correlation, point.time)
        compiled = compiler.compile(circuit, config.model.n_qubits)
        physical.add(compiled.physical_qubits)
        np.testing.assert_allclose(
            reduced_state(compiled.circuit, compiled.physical_qubits),
            experiment.exact_state(point),
            atol=ATOL,
        )
        assert compiled.two_qubit_gates == compiled.circuit.num_nonlocal_gates()
    assert len(physical) == 1  # one layout for the whole sweep
    assert len(compiler._templates) == len(config.measured_times())


def isa_violations(circuit: QuantumCircuit, target: Any) -> list[tuple[str, tuple]]:
    out = []
    for instruction in circuit.data:
        qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if not target.instruction_supported(instruction.operation.name, qargs):
            out.append((instruction.operation.name, qargs))
    return out


def test_tomography_measures_only_the_system_qubits(guadalupe_compiler):
    config, compiler = guadalupe_compiler
    point = sweep_points(config)[-1]
    compiled = compiler.compile(
        full_circuit(config, point.correlation, point.time), config.model.n_qubits
    )
    circuits = compiler.tomography_circuits(compiled)
    circuits += compiler.calibration_circuits(compiled.physical_qubits)
    assert len(circuits) == 3**4 + 2
    for circuit in circuits:
        measured = [
            (circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
            for i in circuit.data
            if i.operation.name == "measure"
        ]
        assert measured == [(p, q) for q, p in enumerate(compiled.physical_qubits)]
        assert isa_violations(circuit, compiler.target) == []


@pytest.mark.parametrize("level", [0, 1, 3])
def test_directional_devices_get_isa_circuits(level):
    """ECR is directional on fake_sherbrooke; rebinding must keep valid directions."""
    config = make_config()
    compiler = DeviceCompiler(
        fake_backend("fake_sherbrooke"), optimization_level=level, seed=2
    )
    for point in sweep_points(config)[::2]:
        compiled = compiler.compile(
            full_circuit(config, point.correlation, point.time), 2
        )
        assert isa_violations(compiled.circuit, compiler.target) == []


def test_bad_optimization_level_is_refused():
    with pytest.raises(DeviceError, match=r"optimization_level = 5.*0\.\.3"):
        DeviceCompiler(fake_backend("fake_manila"), optimization_level=5, seed=1)


# The noisy runner ---------------------------------------------------------------------


def test_device_runner_counts_and_calibrates_reproducibly():
    config = make_config()
    circuit = full_circuit(config, config.settings()[-1], 0.2)

    def measure():
        runner = DeviceRunner(fake_backend("fake_manila"), shots=500, seed=3)
        return runner.measure(circuit, 2, seed=17)

    first, second = measure(), measure()
    assert first.counts.shape == (9, 4)
    np.testing.assert_array_equal(first.counts.sum(axis=1), 500)
    assert first.readout.shape == (2, 2, 2)
    np.testing.assert_array_equal(first.readout.sum(axis=2), 500)
    np.testing.assert_array_equal(first.counts, second.counts)
    np.testing.assert_array_equal(first.readout, second.readout)
    assert first.compiled.physical_qubits == second.compiled.physical_qubits


def trace_distance(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(np.linalg.eigvalsh(a - b)).sum())


def test_noisy_run_records_device_columns_and_mitigates():
    config = make_config(shots=4000, backend="fake_manila")
    experiment = Experiment(config)
    results = list(experiment.run())
    for result in results:
        row = result.row
        assert row["two_qubit_gates"] > 0 and row["depth"] > 0
        assert len(row["physical_qubits"].split()) == 2
        assert result.readout is not None and result.readout.shape == (2, 2, 2)
    reference = results[3]  # t = 0 of the correlated setting
    exact = experiment.exact_state(reference.point)
    raw = trace_distance(experiment.fit(reference.counts), exact)
    mitigated = trace_distance(
        experiment.fit(experiment.corrected(reference.point, reference.counts)), exact
    )
    assert mitigated < raw


def write_config(path: Path, **run: Any) -> Path:
    import json

    data = config_data(**run)
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_runs_a_fake_device_and_resumes_with_its_calibration(tmp_path, capsys):
    config = write_config(tmp_path / "small.toml", shots=300)
    out = tmp_path / "run"
    assert (
        main(["run", str(config), "--backend", "fake_manila", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "noise: max |dS_AB|" in printed
    from qcflow.results import read_rows

    rows = read_rows(out)
    assert {"two_qubit_gates", "depth", "physical_qubits"} <= set(rows[0])
    with np.load(out / "counts" / "point_0000.npz") as data:
        assert data["readout"].shape == (2, 2, 2)

    # Resuming after losing the last point refits the reference with its calibration.
    (out / "points" / "point_0005.json").unlink()
    assert (
        main(
            [
                "run",
                str(config),
                "--backend",
                "fake_manila",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert read_rows(out) == rows


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--backend", "fake_nowhere"], "fake_nowhere"),
        (["--backend", "fake_manila", "--method", "state"], "--method state"),
        (["--backend", "fake_manila", "--optimization-level", "7"], "0..3"),
    ],
)
def test_cli_device_errors_are_one_line(tmp_path, capsys, argv, match):
    config = write_config(tmp_path / "small.toml")
    code = main(["run", str(config), "--out", str(tmp_path / "run"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and err.count("\n") == 1 and "Traceback" not in err
