"""The committed ``circuits/``: up to date, and equal to the builders' circuits."""

from __future__ import annotations

from pathlib import Path

import pytest
from qiskit import qasm3
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import Operator

from qcflow.cli import main
from qcflow.config import load_config
from qcflow.export import basis_label, export_circuits, reference_circuits

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = "experiments/anomalous_flow.toml"
COMMITTED = ROOT / "circuits"


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / HEADLINE)


def test_committed_circuits_are_up_to_date(config, tmp_path):
    export_circuits(config, tmp_path, source=HEADLINE)
    fresh = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in COMMITTED.iterdir() if p.is_file()}
    stale = sorted(
        n for n in fresh.keys() | committed.keys() if fresh.get(n) != committed.get(n)
    )
    assert not stale, (
        f"circuits/ is stale ({', '.join(stale)}); regenerate it with: "
        f"qcflow export {HEADLINE} --out circuits"
    )


def without_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name != "measure":
            out.append(instruction)
    return out


def measure_map(circuit: QuantumCircuit) -> list[tuple[int, int]]:
    return [
        (circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
        for i in circuit.data
        if i.operation.name == "measure"
    ]


@pytest.mark.parametrize("name", ["prepare.qasm", "evolve.qasm", "measure_XZYX.qasm"])
def test_each_file_loads_back_to_the_builders_circuit(config, name):
    built = reference_circuits(config)[name]
    loaded = qasm3.loads((COMMITTED / name).read_text(encoding="utf-8"))
    assert loaded.num_qubits == built.num_qubits
    assert [(r.name, r.size) for r in loaded.qregs] == [
        (r.name, r.size) for r in built.qregs
    ]
    assert Operator(without_measurements(loaded)).equiv(
        Operator(without_measurements(built))
    )
    assert measure_map(loaded) == measure_map(built)


def test_the_exported_basis_measures_qubit_q_into_clbit_q(config):
    label = basis_label(config.model.n_qubits)
    assert label == "XZYX"  # qubit 0: X, 1: Y, 2: Z, 3: X
    circuit = reference_circuits(config)[f"measure_{label}.qasm"]
    assert measure_map(circuit) == [(q, q) for q in range(4)]


def test_readme_names_every_file_and_register(config):
    text = (COMMITTED / "README.md").read_text(encoding="utf-8")
    for name in reference_circuits(config):
        assert f"`{name}`" in text
    for register in ("`a`", "`b`", "`anc`"):
        assert register in text


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "circuits"
    assert main(["export", str(ROOT / HEADLINE), "--out", str(out)]) == 0
    assert "4 files written" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "prepare.qasm", "evolve.qasm", "measure_XZYX.qasm"]
    )
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    assert main(["export", str(ROOT / HEADLINE), "--out", str(blocked)]) == 2
    assert "cannot write" in capsys.readouterr().err
