"""Parametric bootstrap of the fitted states and of every quantity derived from them.

For one point, ``n_boot`` replicate data sets are drawn at once as an array
``(n_boot, 3^n, 2^n)``: each basis keeps its number of shots and its outcomes are drawn
multinomially, either from the distribution of the fitted state
(``resample = "fitted"``, the parametric bootstrap) or from the observed frequencies
(``"observed"``). Every replicate is refitted by the same fitter in one batched call
and the quantities are recomputed from the replicate states; the reference of the
differences (the ``t = 0`` point of the same setting) is resampled the same way,
replicate ``i`` of a point being paired with replicate ``i`` of its reference.

For an estimate ``x`` with replicates ``x*``, the standard error is the sample standard
deviation of ``x*`` and the 95% interval is, by default, the basic bootstrap interval

.. math::

    [\\, 2x - q_{0.975}(x^*),\\; 2x - q_{0.025}(x^*) \\,],

which removes the bias that the bootstrap sees (``mean(x*) - x``), unlike the percentile
interval ``[q_{0.025}(x^*), q_{0.975}(x^*)]`` (``interval = "percentile"``).
``experiments/coverage.py`` measures the coverage of both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np

from qcflow.tomography import basis_probabilities

Resample = Literal["fitted", "observed"]
Interval = Literal["basic", "percentile"]
RESAMPLES: tuple[str, ...] = ("fitted", "observed")
INTERVALS: tuple[str, ...] = ("basic", "percentile")

#: Confidence level of the reported intervals.
LEVEL = 0.95
#: Largest number of count entries resampled and refitted in one batch (memory bound).
CHUNK_ENTRIES = 2**22


def resample_counts(
    counts: np.ndarray,
    n_boot: int,
    *,
    rng: np.random.Generator,
    probabilities: np.ndarray | None = None,
) -> np.ndarray:
    """``n_boot`` multinomial replicates of ``counts``, shape ``(n_boot, 3^n, 2^n)``.

    Each basis keeps its own number of shots.

    Args:
        counts: observed counts ``(3^n, 2^n)``.
        n_boot: number of replicates, >= 1.
        rng: the generator to draw from.
        probabilities: outcome distribution of every basis to draw from (the fitted
            state's); default the observed frequencies.

    Raises:
        ValueError: if ``n_boot < 1`` or a basis has no shots.
    """
    if (
        isinstance(n_boot, bool)
        or not isinstance(n_boot, int | np.integer)
        or n_boot < 1
    ):
        raise ValueError(f"n_boot = {n_boot!r} is out of range; allowed: >= 1")
    counts = np.asarray(counts)
    shots = counts.sum(axis=-1)
    if np.any(shots <= 0):
        raise ValueError("every measurement basis needs at least one shot")
    p = counts / shots[..., None] if probabilities is None else probabilities
    p = np.clip(p, 0.0, None)
    p = p / p.sum(axis=-1, keepdims=True)
    return rng.multinomial(shots, p, size=(n_boot, *shots.shape))


def bootstrap_states(
    counts: np.ndarray,
    fit: Callable[[np.ndarray], np.ndarray],
    n_boot: int,
    *,
    rng: np.random.Generator,
    fitted: np.ndarray | None = None,
    resample: Resample = "fitted",
) -> np.ndarray:
    """Replicate states ``(n_boot, 2^n, 2^n)``: resample the counts, refit each set.

    Args:
        counts: observed counts ``(3^n, 2^n)``.
        fit: a batched fitter, counts ``(k, 3^n, 2^n)`` to states ``(k, 2^n, 2^n)``.
        n_boot: number of replicates, >= 1.
        rng: the generator to draw from; the replicates are a function of it alone.
        fitted: the state fitted to ``counts``, needed for ``resample = "fitted"``
            (computed with ``fit`` when not given).
        resample: ``"fitted"`` (parametric) or ``"observed"`` (multinomial from the
            observed frequencies).

    Raises:
        ValueError: if ``resample`` is not known or ``n_boot < 1``.
    """
    if resample not in RESAMPLES:
        raise ValueError(
            f"resample = {resample!r} is not known; allowed: " + ", ".join(RESAMPLES)
        )
    counts = np.asarray(counts)
    probabilities = None
    if resample == "fitted":
        if fitted is None:
            fitted = fit(counts[None])[0]
        probabilities = basis_probabilities(fitted)
    chunk = max(1, CHUNK_ENTRIES // counts.size)
    parts = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        replicas = resample_counts(counts, size, rng=rng, probabilities=probabilities)
        parts.append(fit(replicas))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _quantile(values: np.ndarray, q: float) -> float:
    # "inverted_cdf" picks an order statistic: no interpolation, so inf stays inf.
    return float(np.quantile(values, q, method="inverted_cdf"))


def interval(
    estimate: float,
    replicates: np.ndarray,
    *,
    level: float = LEVEL,
    method: Interval = "basic",
) -> tuple[float, float, float]:
    """``(standard error, low, high)`` of ``estimate`` from its bootstrap replicates.

    Replicates that are ``inf`` (a relative entropy with a support mismatch) make the
    standard error ``inf`` and move the interval ends they reach.

    Raises:
        ValueError: if ``level`` is not in (0, 1), ``method`` is not known, or a
            replicate is NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level = {level!r} is out of range; allowed: 0 < level < 1")
    if method not in INTERVALS:
        raise ValueError(
            f"method = {method!r} is not known; allowed: " + ", ".join(INTERVALS)
        )
    x = np.asarray(replicates, dtype=float)
    if np.isnan(x).any():
        raise ValueError(
            "a bootstrap replicate is NaN; every replicate must be a number"
        )
    finite = bool(np.isfinite(x).all())
    err = float(np.std(x, ddof=1)) if finite and x.size > 1 else 0.0
    if not finite:
        err = float("inf")
    alpha = (1 - level) / 2
    q_lo, q_hi = _quantile(x, alpha), _quantile(x, 1 - alpha)
    if method == "percentile":
        return err, q_lo, q_hi
    lo, hi = 2 * estimate - q_hi, 2 * estimate - q_lo
    # inf - inf (an infinite estimate): nothing is known about that side.
    return err, -math.inf if math.isnan(lo) else lo, math.inf if math.isnan(hi) else hi


def interval_columns(
    estimates: Mapping[str, float],
    replicates: Mapping[str, np.ndarray],
    *,
    level: float = LEVEL,
    method: Interval = "basic",
) -> dict[str, float]:
    """``<name>_err``, ``<name>_lo``, ``<name>_hi`` of every name of ``estimates``."""
    out: dict[str, float] = {}
    for name, value in estimates.items():
        err, lo, hi = interval(value, replicates[name], level=level, method=method)
        out[f"{name}_err"], out[f"{name}_lo"], out[f"{name}_hi"] = err, lo, hi
    return out


def flow_from_interval(lo: float, hi: float, mu_a: float, mu_b: float) -> str:
    """The flow direction that the interval ``[lo, hi]`` of ``dN_A`` supports.

    ``anomalous`` when the interval of ``(mu_a - mu_b) dN_A`` lies above zero,
    ``conventional`` when below, ``none`` when it is the single point 0 (the ``t = 0``
    reference, or ``mu_a = mu_b``), and ``undetermined`` otherwise.
    """
    scale = mu_a - mu_b
    low, high = sorted((scale * lo + 0.0, scale * hi + 0.0))
    if low > 0:
        return "anomalous"
    if high < 0:
        return "conventional"
    if low == high == 0:
        return "none"
    return "undetermined"
