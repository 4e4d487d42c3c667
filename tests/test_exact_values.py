"""Exact columns of the sweep: closed form, identity (2), conservation, determinism."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from qcflow.config import Config, config_from_dict
from qcflow.experiment import Experiment

SHOTS = 500  # only the exact columns matter in most tests


def make_config(
    *,
    n_modes: int = 1,
    hopping: float = 0.0,
    coherence: list[float] | None = None,
    phase_deg: list[float] | None = None,
    classical: list[float] | None = None,
    interaction: float = 0.0,
    times: list[float] | None = None,
    trotter_dt: float = 0.1,
    trotter_order: int = 2,
    shots: int = SHOTS,
    seed: int = 1234,
) -> Config:
    return config_from_dict(
        {
            "system": {"n_modes": n_modes, "energy": 0.9, "hopping": hopping},
            "state": {
                "beta": 1.1,
                "mu_a": 1.5,
                "mu_b": 0.4,
                "coherence": coherence or [0.0],
                "phase_deg": phase_deg or [-90.0],
                "classical": classical or [0.0],
            },
            "exchange": {
                "coupling": 0.8,
                "interaction": interaction,
                "times": times or [0.0, 0.35, 0.9],
                "trotter_dt": trotter_dt,
                "trotter_order": trotter_order,
            },
            "run": {"shots": shots, "seed": seed, "method": "state"},
        }
    )


def run_rows(config: Config) -> list[dict[str, Any]]:
    return [result.row for result in Experiment(config).run()]


@pytest.mark.parametrize(
    ("coherence", "phase_deg", "classical"),
    [
        ([0.0, 1.0], [-90.0], [0.0]),
        ([0.7], [-90.0, 35.0, 180.0], [0.0]),
        ([0.5], [60.0], [-1.0, -0.3, 0.6, 1.0]),
    ],
)
@pytest.mark.parametrize(
    ("n_modes", "hopping"), [(1, 0.0), (2, 0.0), (2, 0.6), (3, -0.5)]
)
def test_dn_a_matches_closed_form_without_interaction(
    n_modes: int,
    hopping: float,
    coherence: list[float],
    phase_deg: list[float],
    classical: list[float],
) -> None:
    config = make_config(
        n_modes=n_modes,
        hopping=hopping,
        coherence=coherence,
        phase_deg=phase_deg,
        classical=classical,
        trotter_dt=0.5,
    )
    results = list(Experiment(config).run())
    assert len(results) == len(config.settings()) * len(config.measured_times())
    for result in results:
        state = config.initial_state(result.point.correlation)
        assert result.row["classical"] == result.point.correlation.classical
        assert result.row["dN_A_exact"] == pytest.approx(
            state.dn_a_closed_form(result.point.time), abs=1e-10
        )
    # The closed form is not trivially zero here.
    assert max(abs(r.row["dN_A_exact"]) for r in results) > 1e-2


@pytest.mark.parametrize(
    ("n_modes", "hopping", "interaction", "trotter_order"),
    [
        (1, 0.0, 0.0, 2),
        (2, 0.6, 0.0, 2),
        (1, 0.0, 1.5, 1),
        (2, 0.5, 0.9, 2),
        (3, -0.4, -0.7, 1),
    ],
)
def test_exact_margin_is_the_sum_of_relative_entropies(
    n_modes: int, hopping: float, interaction: float, trotter_order: int
) -> None:
    config = make_config(
        n_modes=n_modes,
        hopping=hopping,
        interaction=interaction,
        coherence=[0.0, 0.8],
        phase_deg=[-90.0, 30.0],
        classical=[0.4],
        trotter_dt=0.2,
        trotter_order=trotter_order,
    )
    rows = run_rows(config)
    for row in rows:
        assert row["margin_exact"] == pytest.approx(
            row["D_A_exact"] + row["D_B_exact"], abs=1e-8
        )
        assert row["margin_exact"] >= -1e-10
        assert row["bound_exact"] == pytest.approx(
            -1.1 * (1.5 - 0.4) * row["dN_A_exact"], abs=1e-12
        )
        assert row["dS_AB_exact"] == pytest.approx(0.0, abs=1e-10)
        assert row["N_drift_exact"] == pytest.approx(0.0, abs=1e-10)
    # The identity is not trivial: the relative entropies grow with time.
    assert max(row["D_A_exact"] for row in rows) > 1e-3


def test_classical_correlations_do_not_change_the_flow_without_interaction() -> None:
    classical = [-1.0, -0.4, 0.0, 0.5, 1.0]
    config = make_config(n_modes=2, hopping=0.6, classical=classical, trotter_dt=1.0)
    rows = run_rows(config)
    by_time: dict[float, list[float]] = {}
    for row in rows:
        by_time.setdefault(row["time"], []).append(row["dN_A_exact"])
    for time, values in by_time.items():
        assert len(values) == len(classical)
        np.testing.assert_allclose(values, values[0], atol=1e-10, err_msg=str(time))
    # ... although the initial states do differ,
    experiment = Experiment(config)
    initial = [experiment.exact_initial(p) for p in experiment.points if p.time == 0]
    assert len(initial) == len(classical)
    assert min(np.abs(x - initial[0]).max() for x in initial[1:]) > 1e-3


def test_classical_correlations_change_the_flow_with_interaction() -> None:
    config = make_config(
        n_modes=2, hopping=0.6, classical=[-1.0, 0.0, 1.0], interaction=1.2
    )
    rows = [row for row in run_rows(config) if row["time"] == 0.9]
    values = [row["dN_A_exact"] for row in rows]
    assert len(values) == 3
    assert max(values) - min(values) > 1e-3


def test_reference_row_has_no_measured_change() -> None:
    config = make_config(n_modes=2, hopping=0.5, coherence=[0.0, 0.9])
    rows = run_rows(config)
    reference_rows = [row for row in rows if row["time"] == 0.0]
    assert len(reference_rows) == 2
    for row in reference_rows:
        assert row["dN_A"] == 0.0
        assert row["dI_AB"] == 0.0
        assert row["dN_A_exact"] == pytest.approx(0.0, abs=1e-12)
        assert row["flow"] == "none"
    assert any(row["dN_A"] != 0.0 for row in rows if row["time"] > 0)


def test_times_without_zero_get_a_reference_row() -> None:
    config = make_config(times=[0.3, 0.6])
    rows = run_rows(config)
    assert [row["time"] for row in rows] == [0.0, 0.3, 0.6]
    assert [row["trotter_steps"] for row in rows] == [0, 3, 6]


def rows_equal(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> bool:
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        if a.keys() != b.keys():
            return False
        for key in a:
            x, y = a[key], b[key]
            both_nan = isinstance(x, float) and math.isnan(x) and math.isnan(y)
            if x != y and not both_nan:
                return False
    return True


def test_same_seed_gives_identical_rows_and_other_seeds_differ() -> None:
    config = make_config(n_modes=2, hopping=0.5, coherence=[0.0, 0.9], seed=7)
    first = run_rows(config)
    again = run_rows(config)
    other = run_rows(config.with_run(seed=8))
    assert rows_equal(first, again)
    assert not rows_equal(first, other)
    for a, b in zip(first, other, strict=True):
        for key in a:
            if key.endswith("_exact"):
                assert a[key] == b[key]
    moved = [a["dN_A"] != b["dN_A"] for a, b in zip(first, other, strict=True)]
    assert any(moved)
    assert not any(
        math.isnan(v) for row in first for v in row.values() if isinstance(v, float)
    )


def test_measured_values_follow_exact_values_within_shot_noise() -> None:
    # One mode per side (2 qubits): dN_A is a difference of two fitted expectations.
    shots = 20000
    config = make_config(coherence=[0.9], times=[0.0, 0.5], shots=shots, seed=3)
    rows = run_rows(config)
    # <N_A> uses the 3 bases with Z on qubit 0: standard error <= 1 / (2 sqrt(3 shots));
    # the difference of two independent points has sqrt(2) times that. Five of them.
    tol = 5 * math.sqrt(2) / (2 * math.sqrt(3 * shots))
    row = rows[-1]
    assert abs(row["dN_A_exact"]) > 3 * tol
    assert row["dN_A"] == pytest.approx(row["dN_A_exact"], abs=tol)


def test_circuit_method_agrees_with_the_state_method() -> None:
    shots = 20000
    config = make_config(coherence=[0.9], times=[0.0, 0.5], shots=shots, seed=5)
    by_state = run_rows(config)
    by_circuits = run_rows(config.with_run(method="circuits"))
    tol = 5 * math.sqrt(2) / (2 * math.sqrt(3 * shots))  # as in the test above
    for a, b in zip(by_state, by_circuits, strict=True):
        for key in a:
            if key.endswith("_exact"):
                assert a[key] == pytest.approx(b[key], abs=1e-12), key
        assert b["dN_A"] == pytest.approx(b["dN_A_exact"], abs=tol)
    assert by_circuits[-1]["dN_A"] != by_state[-1]["dN_A"]


@pytest.mark.parametrize("n_done", [1, 2, 4])
def test_resumed_run_gives_the_rows_of_a_fresh_run(n_done: int) -> None:
    config = make_config(n_modes=2, hopping=0.5, coherence=[0.0, 0.9], seed=11)
    fresh = list(Experiment(config).run())
    done = {r.point.index: r.counts for r in fresh[:n_done]}
    resumed = list(Experiment(config).run(done))
    assert [r.point.index for r in resumed] == [r.point.index for r in fresh[n_done:]]
    assert rows_equal([r.row for r in resumed], [r.row for r in fresh[n_done:]])
