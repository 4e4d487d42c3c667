"""Bootstrap error bars: resampling, batched refits, quantities, intervals, sweeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import random_density

import qcflow.bootstrap as bootstrap
from qcflow.bootstrap import (
    bootstrap_states,
    flow_from_interval,
    interval,
    interval_columns,
    resample_counts,
)
from qcflow.config import ConfigError, config_from_dict, load_config
from qcflow.experiment import Experiment
from qcflow.model import Correlation, InitialState, Model
from qcflow.quantities import (
    LEVELS,
    QUANTITIES,
    Observables,
    batch_quantities,
    mutual_information,
    point_quantities,
    relative_entropies,
    relative_entropy,
)
from qcflow.tomography import basis_probabilities, fit_state, sample_counts

ATOL = 1e-10
ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "system": {"n_modes": 1, "energy": 1.0, "hopping": 0.0},
    "state": {"beta": 1.0, "mu_a": 1.5, "mu_b": 0.5, "coherence": [0.0, 0.8]},
    "exchange": {"coupling": 1.0, "times": [0.0, 0.2, 0.5], "trotter_dt": 0.1},
    "run": {"shots": 2000, "seed": 5, "bootstrap": 100},
}


def small(**run) -> dict:
    data = {k: dict(v) for k, v in SMALL.items()}
    data["run"].update(run)
    return data


def qiskit_mutual_information(rho: np.ndarray, n_modes: int) -> float:
    """Independent reference: Qiskit's partial traces and entropies (base e)."""
    from qiskit.quantum_info import DensityMatrix, entropy, partial_trace

    state = DensityMatrix(rho)
    a = list(range(n_modes))  # A on the low qubits
    b = list(range(n_modes, 2 * n_modes))
    s = [
        entropy(x, base=np.e)
        for x in (partial_trace(state, b), partial_trace(state, a), state)
    ]
    return float(s[0] + s[1] - s[2])


def fit(counts: np.ndarray) -> np.ndarray:
    return fit_state(counts)


# Resampling ---------------------------------------------------------------------


def test_resampled_counts_keep_every_basis_total() -> None:
    rng = np.random.default_rng(0)
    counts = sample_counts(basis_probabilities(random_density(rng, 4)), 500, rng=rng)
    counts[3] *= 2  # a basis with more shots keeps them
    replicas = resample_counts(counts, 50, rng=np.random.default_rng(1))
    assert replicas.shape == (50, *counts.shape)
    np.testing.assert_array_equal(
        replicas.sum(axis=-1),
        np.broadcast_to(counts.sum(axis=-1), (50, counts.shape[0])),
    )


@pytest.mark.parametrize("source", ["observed", "fitted"])
def test_resampled_frequencies_are_centred_on_the_source(source: str) -> None:
    rng = np.random.default_rng(2)
    shots, n_boot = 400, 400
    rho = random_density(rng, 4)
    counts = sample_counts(basis_probabilities(rho), shots, rng=rng)
    p = counts / shots if source == "observed" else basis_probabilities(rho)
    replicas = resample_counts(
        counts, n_boot, rng=rng, probabilities=None if source == "observed" else p
    )
    # Mean of n_boot multinomial frequencies: standard error sqrt(p (1 - p) / N).
    se = np.sqrt(p * (1 - p) / (shots * n_boot))
    deviation = np.abs(replicas.mean(axis=0) / shots - p)
    assert np.all(deviation <= 5 * se + 1e-12)


def test_resampling_is_seeded() -> None:
    counts = np.full((9, 4), 25)
    a = resample_counts(counts, 7, rng=np.random.default_rng(3))
    b = resample_counts(counts, 7, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_resampling_rejects_bad_sizes(bad) -> None:
    with pytest.raises(ValueError, match="n_boot"):
        resample_counts(np.ones((9, 4)), bad, rng=np.random.default_rng(0))


# Batched refits against a loop ----------------------------------------------------


@pytest.mark.parametrize("resample", ["fitted", "observed"])
@pytest.mark.parametrize("fitter", ["linear", "symmetric"])
def test_batched_bootstrap_equals_a_loop(resample: str, fitter: str) -> None:
    rng = np.random.default_rng(4)
    counts = sample_counts(basis_probabilities(random_density(rng, 16)), 300, rng=rng)

    def fit_with(c: np.ndarray) -> np.ndarray:
        return fit_state(c, fitter=fitter)

    fitted = fit_with(counts)
    batched = bootstrap_states(
        counts,
        fit_with,
        30,
        rng=np.random.default_rng(5),
        fitted=fitted,
        resample=resample,
    )  # type: ignore[arg-type]
    # Slow path: the same draws, one replicate at a time.
    p = basis_probabilities(fitted) if resample == "fitted" else None
    replicas = resample_counts(
        counts, 30, rng=np.random.default_rng(5), probabilities=p
    )
    for i in range(30):
        np.testing.assert_allclose(batched[i], fit_with(replicas[i]), atol=ATOL)


def test_chunking_does_not_change_the_replicates(monkeypatch) -> None:
    rng = np.random.default_rng(6)
    counts = sample_counts(basis_probabilities(random_density(rng, 4)), 300, rng=rng)
    whole = bootstrap_states(counts, fit, 25, rng=np.random.default_rng(7))
    monkeypatch.setattr(bootstrap, "CHUNK_ENTRIES", 3 * counts.size)
    chunked = bootstrap_states(counts, fit, 25, rng=np.random.default_rng(7))
    np.testing.assert_allclose(chunked, whole, atol=ATOL)


def test_unknown_resample_scheme() -> None:
    with pytest.raises(ValueError, match="resample = 'both'"):
        bootstrap_states(
            np.ones((9, 4)), fit, 3, rng=np.random.default_rng(0), resample="both"
        )  # type: ignore[arg-type]


# Batched quantities against the per-point reference ------------------------------


@pytest.mark.parametrize("n_modes", [1, 2])
@pytest.mark.parametrize("rank", [None, 1, 3])
def test_batched_quantities_equal_point_quantities(n_modes: int, rank) -> None:
    rng = np.random.default_rng([n_modes, rank or 0])
    d = 4**n_modes
    state = InitialState(
        Model(n_modes=n_modes, hopping=0.3), 0.7, 1.2, 0.4, Correlation(0.5, -90.0, 0.0)
    )
    obs = Observables.of(state)
    rho_t = np.stack([random_density(rng, d, rank) for _ in range(4)])
    rho_0 = np.stack([random_density(rng, d) for _ in range(4)])
    rho_0[2] = rho_t[2]  # equal states: every difference and divergence is zero
    got = batch_quantities(rho_t, rho_0, state, obs)
    assert tuple(got) == QUANTITIES + LEVELS
    for i in range(4):
        want = point_quantities(rho_t[i], rho_0[i], state, obs)
        for name in QUANTITIES:
            assert got[name][i] == pytest.approx(want[name], abs=ATOL), name
        assert got["I_AB"][i] == pytest.approx(
            float(mutual_information(rho_t[i], n_modes)), abs=ATOL
        )
        assert got["I_AB"][i] == pytest.approx(
            qiskit_mutual_information(rho_t[i], n_modes), abs=1e-8
        )


def test_batched_relative_entropy_keeps_the_support_rule() -> None:
    rho = np.diag([0.5, 0.5, 0.0, 0.0]).astype(complex)
    sigma = np.diag([1.0, 0.0, 0.0, 0.0]).astype(complex)
    pairs = [(rho, sigma), (sigma, rho), (rho, rho)]
    got = relative_entropies(
        np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
    )
    want = [relative_entropy(a, b) for a, b in pairs]
    np.testing.assert_allclose(got, want, atol=ATOL)
    assert np.isinf(got[0]) and got[1] == pytest.approx(np.log(2), abs=ATOL)


# Intervals ------------------------------------------------------------------------


def test_intervals_by_hand() -> None:
    x = np.arange(1.0, 101.0)  # quantiles 0.025 -> 3, 0.975 -> 98 (order statistics)
    err, lo, hi = interval(60.0, x, method="percentile")
    assert (lo, hi) == (3.0, 98.0)
    assert err == pytest.approx(np.std(x, ddof=1), abs=ATOL)
    _, lo, hi = interval(60.0, x, method="basic")
    assert (lo, hi) == (2 * 60.0 - 98.0, 2 * 60.0 - 3.0)


def test_basic_interval_removes_the_bootstrap_bias() -> None:
    # Replicates sit 0.5 above the estimate: the interval moves 0.5 below it.
    x = np.random.default_rng(8).normal(10.5, 0.1, size=4000)
    _, lo, hi = interval(10.0, x)
    assert (lo + hi) / 2 == pytest.approx(9.5, abs=0.02)


def test_infinite_replicates() -> None:
    x = np.array([0.1] * 90 + [np.inf] * 10)
    err, lo, hi = interval(0.1, x)
    assert err == np.inf and lo == -np.inf and hi == pytest.approx(0.1)
    err, lo, hi = interval(0.1, x, method="percentile")
    assert err == np.inf and lo == pytest.approx(0.1) and hi == np.inf


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"level": 1.0}, "level = 1.0"), ({"method": "bca"}, "method = 'bca'")],
)
def test_bad_interval_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interval(0.0, np.zeros(10), **kwargs)


def test_nan_replicate_is_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        interval(0.0, np.array([0.0, np.nan]))


def test_interval_columns_names() -> None:
    cols = interval_columns({"dN_A": 0.0}, {"dN_A": np.zeros(5)})
    assert cols == {"dN_A_err": 0.0, "dN_A_lo": 0.0, "dN_A_hi": 0.0}


@pytest.mark.parametrize(
    ("lo", "hi", "mu_a", "mu_b", "flow"),
    [
        (0.01, 0.2, 1.5, 0.5, "anomalous"),
        (-0.2, -0.01, 1.5, 0.5, "conventional"),
        (-0.01, 0.2, 1.5, 0.5, "undetermined"),
        (0.0, 0.2, 1.5, 0.5, "undetermined"),
        (0.01, 0.2, 0.5, 1.5, "conventional"),  # mu_a < mu_b flips the sign
        (-0.2, -0.01, 0.5, 1.5, "anomalous"),
        (0.0, 0.0, 1.5, 0.5, "none"),
        (-0.1, 0.2, 1.0, 1.0, "none"),
    ],
)
def test_flow_from_interval(lo, hi, mu_a, mu_b, flow) -> None:
    assert flow_from_interval(lo, hi, mu_a, mu_b) == flow


# Configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("bootstrap", -1, "[run] bootstrap = -1 is out of range; allowed: 0..100000"),
        ("bootstrap", 2.5, "[run] bootstrap = 2.5 is not an integer"),
        (
            "fitter",
            "ml",
            '[run] fitter = "ml" is not known; allowed: linear, mle, '
            "symmetric, symmetric_mle",
        ),
    ],
)
def test_bad_run_keys(key: str, value, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(small(**{key: value}))
    assert str(info.value) == message or str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_defaults() -> None:
    config = load_config(ROOT / "experiments" / "anomalous_flow.toml")
    assert config.run.bootstrap == 200
    assert config.to_dict()["run"]["fitter"] == config.run.fitter


# The sweep ------------------------------------------------------------------------


def rows_of(data: dict) -> list[dict]:
    return [r.row for r in Experiment(config_from_dict(data)).run()]


def test_every_quantity_gets_error_columns() -> None:
    rows = rows_of(small())
    for row in rows:
        for name in QUANTITIES + LEVELS:
            assert row[f"{name}_lo"] <= row[f"{name}_hi"]
            assert row[f"{name}_err"] >= 0
        if row["time"] == 0:
            assert row["dN_A_lo"] == row["dN_A_hi"] == row["dN_A_err"] == 0
            assert row["flow"] == "none"
        else:
            assert row["flow"] == flow_from_interval(
                row["dN_A_lo"], row["dN_A_hi"], 1.5, 0.5
            )


def test_error_columns_are_reproducible_and_optional() -> None:
    assert rows_of(small()) == rows_of(small())
    plain = rows_of(small(bootstrap=0))
    assert not any(k.endswith("_err") for k in plain[0])
    assert {r["flow"] for r in plain} <= {"none", "anomalous", "conventional"}
    # The estimates themselves do not depend on the bootstrap.
    for a, b in zip(plain, rows_of(small()), strict=True):
        assert a["dN_A"] == b["dN_A"] and a["dI_AB"] == b["dI_AB"]


def test_resume_gives_the_same_error_bars() -> None:
    config = config_from_dict(small())
    full = list(Experiment(config).run())
    done = {r.point.index: r.counts for r in full[:2]}  # setting 0: t = 0 and 0.2
    resumed = [r.row for r in Experiment(config).run(done)]
    assert resumed == [r.row for r in full[2:]]


def test_bootstrap_standard_error_matches_the_spread_over_seeds() -> None:
    """The bootstrap error of dN_A estimates its true standard deviation.

    Over S independent seeds the sample standard deviation has a relative standard
    error of about 1 / sqrt(2 (S - 1)) (13% for S = 30); allow four of them.
    """
    n_seeds = 30
    values, errors = [], []
    for seed in range(n_seeds):
        rows = rows_of(small(seed=seed, bootstrap=100, shots=1000))
        values.append(rows[4]["dN_A"])  # coherence 0.8, t = 0.2
        errors.append(rows[4]["dN_A_err"])
    spread = np.std(values, ddof=1)
    tolerance = 4 / np.sqrt(2 * (n_seeds - 1))
    assert np.mean(errors) == pytest.approx(spread, rel=tolerance)
