"""The sampled path and the circuit path are statistically the same experiment.

Over independent seeds, the estimates of ``dN_A`` and ``dI_AB`` from counts drawn from
the exact state (``method = "state"``) and from simulated measurement circuits
(``method = "circuits"``) must have the same mean, within a tolerance derived from the
spread over seeds, and comparable spreads.
"""

from __future__ import annotations

import numpy as np
import pytest

from qcflow.config import config_from_dict
from qcflow.experiment import Experiment

SEEDS = 40
#: Standard errors of the difference of two means allowed before failing.
MEAN_SIGMAS = 4.0
#: The two spreads may differ by this factor at most (40 seeds: the ratio of two
#: sample standard deviations has a relative error near 1 / sqrt(40) = 0.16).
SPREAD_FACTOR = 1.6


def estimates(method: str) -> dict[str, np.ndarray]:
    values: dict[str, list[float]] = {"dN_A": [], "dI_AB": []}
    for seed in range(SEEDS):
        config = config_from_dict(
            {
                "system": {"n_modes": 1, "energy": 1.0, "hopping": 0.0},
                "state": {
                    "beta": 1.0,
                    "mu_a": 1.5,
                    "mu_b": 0.5,
                    "coherence": 0.8,
                    "phase_deg": -60.0,
                },
                "exchange": {"coupling": 1.0, "times": [0.0, 0.4], "trotter_dt": 0.1},
                "run": {
                    "shots": 400,
                    "seed": seed,
                    "method": method,
                    "bootstrap": 0,
                    "fitter": "linear",
                },
            }
        )
        *_, last = Experiment(config).run()
        for key in values:
            values[key].append(last.row[key])
    return {k: np.array(v) for k, v in values.items()}


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return estimates("state"), estimates("circuits")


@pytest.mark.parametrize("quantity", ["dN_A", "dI_AB"])
def test_same_distribution_of_estimates(both, quantity: str) -> None:
    sampled, circuits = (b[quantity] for b in both)
    standard_error = np.sqrt(sampled.var(ddof=1) / SEEDS + circuits.var(ddof=1) / SEEDS)
    assert abs(sampled.mean() - circuits.mean()) < MEAN_SIGMAS * standard_error
    ratio = sampled.std(ddof=1) / circuits.std(ddof=1)
    assert 1 / SPREAD_FACTOR < ratio < SPREAD_FACTOR
    # Different seeds really differ: the check above is not on constants.
    assert sampled.std() > 0 and circuits.std() > 0
