"""Figures of a run directory, their exact curves, and ``qcflow plot`` errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qcflow.cli import main
from qcflow.config import config_from_dict
from qcflow.model import Correlation
from qcflow.quantities import Observables, batch_quantities
from qcflow.reference import (
    evolution_matrix,
    hamiltonian_matrices,
    initial_density_matrix,
)
from qcflow.results import read_rows

pytest.importorskip("matplotlib")

from qcflow.plotting import (
    exact_curves,
    exact_phase_curve,
    flow_figure,
    margin_figure,
    phase_figure,
    plot_run,
)

ATOL = 1e-10

SWEEP = """
[system]
n_modes = 1
energy = 1.0
hopping = 0.0

[state]
beta = 1.0
mu_a = 1.5
mu_b = 0.5
coherence = 0.8
phase_deg = [-90.0, 0.0, 90.0]

[exchange]
coupling = 1.0
times = [0.0, 0.2, 0.4]
trotter_dt = 0.1

[run]
shots = 500
bootstrap = 20
"""


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    (root / "sweep.toml").write_text(SWEEP)
    out = root / "run"
    assert main(["run", str(root / "sweep.toml"), "--out", str(out), "--quiet"]) == 0
    return out


def test_writes_png_and_pdf_of_every_figure(sweep_run: Path, capsys) -> None:
    out = sweep_run / "elsewhere"
    assert main(["plot", str(sweep_run), "--out", str(out), "--time", "0.4"]) == 0
    assert f"8 figure files written to {out}" in capsys.readouterr().out
    written = list(out.iterdir())
    names = sorted(p.name for p in written)
    assert names == sorted(
        f"{k}.{f}"
        for k in ("flow", "margin", "settings", "phase")
        for f in ("png", "pdf")
    )
    for path in written:
        data = path.read_bytes()
        assert data[:4] == (b"\x89PNG" if path.suffix == ".png" else b"%PDF")
        assert 5_000 < len(data) < 400_000


def test_default_folder_and_no_phase_figure_without_a_phase_sweep(
    tmp_path: Path,
) -> None:
    config = tmp_path / "one.toml"
    config.write_text(SWEEP.replace("[-90.0, 0.0, 90.0]", "-90.0").replace("20", "0"))
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    written = plot_run(out, formats=("png",))
    assert {p.parent for p in written} == {out / "figures"}
    assert sorted(p.name for p in written) == ["flow.png", "margin.png"]


def test_axes_are_labelled_with_units(sweep_run: Path) -> None:
    config = config_from_dict(_toml(sweep_run))
    rows = read_rows(sweep_run)
    labels = []
    for fig in (
        flow_figure(config, rows, "x"),
        margin_figure(config, rows, "x"),
        phase_figure(config, rows, "x"),
    ):
        labels += [ax.get_ylabel() + "|" + ax.get_xlabel() for ax in fig.axes]
    text = " ".join(labels)
    assert "[nats]" in text and "[particles]" in text and "[degrees]" in text
    assert "energy unit" in text


def _toml(run_dir: Path) -> dict:
    import tomllib

    return tomllib.loads((run_dir / "config.toml").read_text())


def test_exact_curves_match_the_run_and_the_closed_form(sweep_run: Path) -> None:
    """U = 0: the Trotter circuit is exact, so the run's _exact columns must agree."""
    config = config_from_dict(_toml(sweep_run))
    rows = read_rows(sweep_run)
    for phase in (-90.0, 0.0, 90.0):
        group = [r for r in rows if r["phase_deg"] == phase]
        times = [r["time"] for r in group]
        curves = exact_curves(config, Correlation(0.8, phase, 0.0), times)
        for name in ("dN_A", "dI_AB", "margin", "D_A", "I_AB"):
            np.testing.assert_allclose(
                curves[name], [r[f"{name}_exact"] for r in group], atol=ATOL
            )
        state = config.initial_state(Correlation(0.8, phase, 0.0))
        np.testing.assert_allclose(
            curves["dN_A"], [state.dn_a_closed_form(t) for t in times], atol=ATOL
        )


def test_exact_phase_curve_is_the_closed_form(sweep_run: Path) -> None:
    config = config_from_dict(_toml(sweep_run))
    phases = np.linspace(-180.0, 180.0, 13)
    want = [
        config.initial_state(Correlation(0.8, p, 0.0)).dn_a_closed_form(0.3)
        for p in phases
    ]
    np.testing.assert_allclose(
        exact_phase_curve(config, 0.8, 0.0, 0.3, phases), want, atol=ATOL
    )


def test_exact_curves_with_interaction_use_the_matrix_exponential() -> None:
    data = {
        "system": {"n_modes": 2, "energy": 1.0, "hopping": 0.5},
        "state": {"beta": 1.0, "mu_a": 1.5, "mu_b": 0.5, "coherence": [0.6]},
        "exchange": {
            "coupling": 1.0,
            "interaction": 1.5,
            "times": [0.0, 0.7],
            "trotter_dt": 0.1,
        },
    }
    config = config_from_dict(data)
    corr = Correlation(0.6, -90.0, 0.0)
    state = config.initial_state(corr)
    rho_0 = initial_density_matrix(state)
    parts = hamiltonian_matrices(config.model)
    u = evolution_matrix(parts["H_A"] + parts["H_B"] + parts["H_I"], 0.7)
    want = batch_quantities(u @ rho_0 @ u.conj().T, rho_0, state, Observables.of(state))
    got = exact_curves(config, corr, [0.7])
    for name, value in want.items():
        assert got[name][0] == pytest.approx(float(value), abs=ATOL), name


def test_phase_figure_refuses_an_unmeasured_time(sweep_run: Path) -> None:
    config = config_from_dict(_toml(sweep_run))
    with pytest.raises(
        ValueError, match=r"time = 0\.3 was not measured; allowed: 0\.2, 0\.4"
    ):
        phase_figure(config, read_rows(sweep_run), "x", time=0.3)


def test_cli_plot_of_an_unmeasured_time(sweep_run: Path, capsys) -> None:
    assert main(["plot", str(sweep_run), "--time", "0.3"]) == 2
    err = capsys.readouterr().err
    assert "time = 0.3 was not measured" in err and err.count("\n") == 1


def test_cli_plot_of_a_missing_run(tmp_path: Path, capsys) -> None:
    assert main(["plot", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qcflow: error: ") and err.count("\n") == 1
    assert "config.toml" in err


def test_cli_plot_without_matplotlib(sweep_run: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    assert main(["plot", str(sweep_run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert 'pip install -e ".[plot]"' in err
