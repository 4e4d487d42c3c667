"""Numerics at the edges of the parameters: finite or correctly infinite, never NaN."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from qcflow.config import config_from_dict
from qcflow.experiment import Experiment


def run(state: dict[str, Any], n_modes: int = 2) -> list[dict[str, Any]]:
    data = {
        "system": {"n_modes": n_modes, "energy": 1.0, "hopping": 0.5},
        "state": {"beta": 1.0, "mu_a": 1.5, "mu_b": 0.5, "coherence": [0.0, 0.9]}
        | state,
        "exchange": {"coupling": 1.0, "times": [0.0, 0.2, 0.7], "trotter_dt": 0.1},
        "run": {"shots": 400, "seed": 11},
    }
    return [r.row for r in Experiment(config_from_dict(data)).run()]


def numbers(rows: list[dict[str, Any]]) -> np.ndarray:
    return np.array(
        [v for r in rows for v in r.values() if isinstance(v, float)], dtype=float
    )


EDGES = {
    "infinite temperature": {"beta": 0.0},
    "zero temperature": {"beta": 1e6},
    "coherence on the positivity boundary": {"coherence": [1.0]},
    "equal chemical potentials": {"mu_b": 1.5},
    "extreme classical correlation": {"classical": [-1.0, 1.0], "coherence": [1.0]},
}


@pytest.mark.parametrize("n_modes", [1, 2])
@pytest.mark.parametrize("name", list(EDGES))
def test_never_nan(name: str, n_modes: int) -> None:
    rows = run(EDGES[name], n_modes)
    values = numbers(rows)
    assert not np.isnan(values).any()
    for row in rows:
        for key in ("D_A", "D_B", "D_A_exact", "D_B_exact"):
            assert row[key] >= 0 and not math.isnan(row[key])


@pytest.mark.parametrize("name", list(EDGES))
def test_exact_identity_holds_at_the_edges(name: str) -> None:
    for row in run(EDGES[name]):
        assert math.isfinite(row["margin_exact"])
        assert row["margin_exact"] == pytest.approx(
            row["D_A_exact"] + row["D_B_exact"], rel=1e-8, abs=1e-8
        )
        assert abs(row["dS_AB_exact"]) < 1e-8


def test_infinite_temperature_has_no_bound() -> None:
    for row in run(EDGES["infinite temperature"]):
        assert row["bound"] == 0.0 and row["bound_exact"] == 0.0


def test_equal_chemical_potentials_have_no_direction() -> None:
    for row in run(EDGES["equal chemical potentials"]):
        assert row["bound"] == 0.0
        assert row["flow"] == "none" and row["flow_exact"] == "none"


def test_zero_temperature_states_are_rank_deficient_but_finite() -> None:
    rows = run(EDGES["zero temperature"])
    # Occupations are 0 or 1: the exact t = 0 state is pure; nothing flows at U = 0
    # within one normal mode pair when both ends are full or empty, but the bound is
    # large because beta is.
    for row in rows:
        assert math.isfinite(row["dN_A_exact"])
        assert math.isfinite(row["dI_AB_exact"])


@pytest.mark.parametrize("n_modes", [1, 2, 3])
def test_gibbs_log_is_the_log_of_the_gibbs_marginal(n_modes: int) -> None:
    import scipy.linalg

    from qcflow.model import InitialState, Model
    from qcflow.quantities import Observables, gibbs_log
    from qcflow.reference import gibbs_state, hamiltonian_matrices

    state = InitialState(Model(n_modes, 0.7, -0.4, 1.0), 1.3, 0.9, 0.1)
    dense = hamiltonian_matrices(state.model)
    d = 2**n_modes
    full = gibbs_state(dense["H_A"], dense["N_A"], state.beta, state.mu_a)
    marginal_a = np.einsum("iaib->ab", full.reshape(d, d, d, d))
    np.testing.assert_allclose(
        gibbs_log(Observables.of(state), state.beta, state.mu_a),
        scipy.linalg.logm(marginal_a),
        atol=1e-10,
    )
