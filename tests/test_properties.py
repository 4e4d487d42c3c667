"""Property-based checks: every valid configuration gives a physical initial state with
Gibbs marginals; every invalid one is rejected before any circuit is built."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcflow.experiment
import qcflow.preparation
from qcflow.cli import main
from qcflow.config import ConfigError, config_from_dict
from qcflow.experiment import system_state
from qcflow.reference import gibbs_state, hamiltonian_matrices

finite = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)
fraction = st.floats(min_value=0.0, max_value=1.0)
signed_fraction = st.floats(min_value=-1.0, max_value=1.0)


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "system": {
            "n_modes": draw(st.integers(1, 3)),
            "energy": draw(finite),
            "hopping": draw(st.one_of(st.just(0.0), finite)),
        },
        "state": {
            "beta": draw(st.one_of(st.just(0.0), st.floats(0.0, 20.0))),
            "mu_a": draw(finite),
            "mu_b": draw(finite),
            "coherence": draw(st.one_of(st.just(1.0), fraction)),
            "phase_deg": draw(st.floats(-360.0, 360.0)),
            "classical": draw(st.one_of(st.sampled_from([-1.0, 1.0]), signed_fraction)),
        },
        "exchange": {"coupling": draw(finite), "times": [0.0, 0.3], "trotter_dt": 0.1},
    }


def marginal(rho: np.ndarray, n_modes: int, keep: str) -> np.ndarray:
    d = 2**n_modes
    r = rho.reshape(d, d, d, d)
    return np.einsum("iaib->ab", r) if keep == "A" else np.einsum("aibi->ab", r)


@settings(max_examples=40, deadline=None)
@given(data=valid_configs())
def test_valid_configurations_give_physical_gibbs_marginals(data: dict) -> None:
    from qiskit.quantum_info import Statevector

    config = config_from_dict(data)
    m = config.system.n_modes
    dense = hamiltonian_matrices(config.model)
    for correlation in config.settings():
        state = config.initial_state(correlation)
        psi = Statevector(qcflow.preparation.preparation_circuit(state)).data
        rho = system_state(psi, m)
        assert np.linalg.eigvalsh(rho).min() > -1e-10
        assert abs(np.trace(rho) - 1) < 1e-10
        for block, mu in (("A", state.mu_a), ("B", state.mu_b)):
            gibbs = gibbs_state(
                dense[f"H_{block}"], dense[f"N_{block}"], state.beta, mu
            )
            np.testing.assert_allclose(
                marginal(rho, m, block), marginal(gibbs, m, block), atol=1e-10
            )


BASE: dict[str, Any] = {
    "system": {"n_modes": 1, "energy": 1.0, "hopping": 0.0},
    "state": {"beta": 1.0, "mu_a": 1.5, "mu_b": 0.5},
    "exchange": {"coupling": 1.0, "times": [0.0, 0.5], "trotter_dt": 0.1},
}

# (section, key, strategy of values that must be rejected)
INVALID: list[tuple[str, str, st.SearchStrategy]] = [
    (
        "system",
        "n_modes",
        st.one_of(st.integers(max_value=0), st.integers(min_value=5)),
    ),
    ("system", "n_modes", st.floats(allow_nan=True)),
    ("system", "energy", st.sampled_from([math.nan, math.inf, -math.inf, "1", None])),
    ("state", "beta", st.one_of(st.floats(max_value=-1e-300), st.just(math.inf))),
    ("state", "coherence", st.floats(min_value=1.0, exclude_min=True)),
    ("state", "coherence", st.floats(max_value=0.0, exclude_max=True)),
    ("state", "classical", st.floats(min_value=1.0, exclude_min=True)),
    ("state", "classical", st.floats(max_value=-1.0, exclude_max=True)),
    ("exchange", "trotter_dt", st.floats(max_value=0.0)),
    ("exchange", "trotter_order", st.integers().filter(lambda k: k not in (1, 2))),
    ("exchange", "times", st.lists(st.floats(max_value=-1e-9), min_size=1)),
    ("run", "shots", st.integers(max_value=0)),
    ("run", "seed", st.integers(max_value=-1)),
    ("system", "unknown_key", st.integers()),
]


@pytest.mark.parametrize(("section", "key", "values"), INVALID)
def test_invalid_values_are_rejected(section: str, key: str, values) -> None:
    @settings(max_examples=25, deadline=None)
    @given(value=values)
    def check(value: Any) -> None:
        data = copy.deepcopy(BASE)
        data.setdefault(section, {})[key] = value
        with pytest.raises(ConfigError):
            config_from_dict(data)

    check()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(beta=st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False))
def test_no_circuit_is_built_for_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, beta: float
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a circuit was built for an invalid configuration")

    monkeypatch.setattr(qcflow.preparation, "preparation_circuit", forbidden)
    monkeypatch.setattr(qcflow.experiment, "preparation_circuit", forbidden)
    path = tmp_path / "bad.toml"
    path.write_text(
        "[system]\nn_modes = 1\nenergy = 1.0\nhopping = 0.0\n"
        f"[state]\nbeta = {beta!r}\nmu_a = 1.0\nmu_b = 0.0\n"
        "[exchange]\ncoupling = 1.0\ntimes = [0.0]\ntrotter_dt = 0.1\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
