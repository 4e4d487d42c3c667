"""Figures of a run directory: flow and mutual information, the margin, a phase sweep.

:func:`plot_run` reads ``config.toml`` and ``results.json`` of a finished (or partly
finished) run and writes, as PNG and PDF:

- ``flow``: ``dN_A`` (top) and ``dI_AB`` (bottom) against time, one column per
  correlation setting, with 95% bootstrap intervals and the exact curves;
- ``margin``: ``bound - dI_AB`` against time with zero marked (the inequality
  ``bound >= dI_AB`` holds above it), and its exact value ``D_A + D_B``;
- ``settings`` (2 to 6 correlation settings, several times): ``dN_A`` and the mutual
  information ``I_AB(t)`` of all settings on shared axes, for comparing them;
- ``phase`` (only when the sweep has several ``phase_deg``): ``dN_A`` against
  ``arg(alpha)`` at one time, with the exact curve.

Exact curves come from :mod:`qcflow.reference` on a fine grid: the initial state from
its definition and the continuous-time propagator ``exp(-i t H)``. The ``_exact``
columns of the run (the noiseless Trotter circuit at the measured times) are drawn as
open markers when ``interaction != 0``, where the two differ by the Trotter error.

matplotlib is an optional dependency (``pip install -e ".[plot]"``), imported only
here and only when a figure is drawn; figures are drawn on the Agg canvas, never on
a window. Colours are the Okabe-Ito palette, distinguishable with colour-blindness, and
every series also differs in marker or line style.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qcflow.config import Config, load_config
from qcflow.model import Correlation
from qcflow.quantities import Observables, batch_quantities

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Okabe-Ito colours.
BLUE, VERMILLION, GREEN, ORANGE = "#0072B2", "#D55E00", "#009E73", "#E69F00"
SKY, PURPLE, BLACK, GREY = "#56B4E9", "#CC79A7", "#000000", "#777777"
SERIES = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY)
MARKERS = ("o", "s", "^", "D", "v", "P")
#: At most this many correlation settings get a panel; others are left out (logged).
MAX_PANELS = 6
FORMATS = ("png", "pdf")
INSTALL_HINT = 'pip install -e ".[plot]" (from the qcflow checkout)'
TIME_LABEL = "time $t$  [$\\hbar$ / energy unit]"
DN_LABEL = "$\\Delta N_A$  [particles]"
DI_LABEL = "$\\Delta I_{AB}$  [nats]"
I_LABEL = "mutual information $I_{AB}(t)$  [nats]"
MARGIN_LABEL = "bound $- \\Delta I_{AB}$  [nats]"


class PlottingUnavailable(ImportError):
    """matplotlib is not installed."""


def _matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise PlottingUnavailable(
            f"plotting needs matplotlib, which is not installed; install it with: "
            f"{INSTALL_HINT}"
        ) from exc


# Exact curves ---------------------------------------------------------------------


def _spectrum(config: Config) -> tuple[np.ndarray, np.ndarray]:
    from qcflow.reference import hamiltonian_matrices

    parts = hamiltonian_matrices(config.model)
    energies, vectors = np.linalg.eigh(parts["H_A"] + parts["H_B"] + parts["H_I"])
    return energies, vectors


def _evolve(
    spectrum: tuple[np.ndarray, np.ndarray], rho_0: np.ndarray, times: np.ndarray
) -> np.ndarray:
    energies, vectors = spectrum
    phases = np.exp(-1j * times[:, None] * energies[None, :])
    u = (vectors[None] * phases[:, None, :]) @ vectors.conj().T
    return u @ rho_0 @ np.swapaxes(u, -1, -2).conj()


def exact_curves(
    config: Config, correlation: Correlation, times: Sequence[float] | np.ndarray
) -> dict[str, np.ndarray]:
    """Quantities of the exact continuous-time evolution at ``times``.

    The initial state is built from its definition (:mod:`qcflow.reference`), evolved
    with ``exp(-i t (H_A + H_B + H_I))``; no Trotter error, no shot noise.
    """
    from qcflow.reference import initial_density_matrix

    state = config.initial_state(correlation)
    rho_0 = initial_density_matrix(state)
    rho_t = _evolve(_spectrum(config), rho_0, np.asarray(times, dtype=float))
    return batch_quantities(rho_t, rho_0, state, Observables.of(state))


def exact_phase_curve(
    config: Config,
    coherence: float,
    classical: float,
    time: float,
    phases_deg: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Exact ``dN_A`` at one time as a function of ``arg(alpha)`` in degrees."""
    from qcflow.reference import initial_density_matrix

    spectrum = _spectrum(config)
    states = [
        config.initial_state(Correlation(coherence, p, classical)) for p in phases_deg
    ]
    rho_0 = np.array([initial_density_matrix(s) for s in states])
    rho_t = _evolve(spectrum, rho_0, np.array([time]))  # one time, broadcast
    observables = Observables.of(states[0])  # N and H_A do not depend on the phase
    return batch_quantities(rho_t, rho_0, states[0], observables)["dN_A"]


# Data -----------------------------------------------------------------------------


def _setting(row: dict[str, Any]) -> tuple[float, float, float]:
    return (float(row["coherence"]), float(row["phase_deg"]), float(row["classical"]))


def _by_setting(rows: list[dict[str, Any]]) -> dict[tuple[float, float, float], list]:
    out: dict[tuple[float, float, float], list] = {}
    for row in rows:
        out.setdefault(_setting(row), []).append(row)
    for group in out.values():
        group.sort(key=lambda r: float(r["time"]))
    return out


def _column(rows: list[dict[str, Any]], name: str) -> np.ndarray | None:
    if not rows or name not in rows[0]:
        return None
    values = np.array([float(r[name]) for r in rows])
    return np.where(np.isfinite(values), values, np.nan)


def _yerr(rows: list[dict[str, Any]], name: str) -> np.ndarray | None:
    """Asymmetric error bars ``(value - lo, hi - value)`` of the 95% interval."""
    value, lo, hi = (_column(rows, name + s) for s in ("", "_lo", "_hi"))
    if value is None or lo is None or hi is None:
        return None
    return np.vstack([np.maximum(value - lo, 0.0), np.maximum(hi - value, 0.0)])


def _title(setting: tuple[float, float, float]) -> str:
    c, p, k = setting
    return f"coherence {c:g}, phase {p:g}°, classical {k:g}"


def _select(settings: list, limit: int = MAX_PANELS) -> list:
    if len(settings) <= limit:
        return settings
    picks = np.unique(np.round(np.linspace(0, len(settings) - 1, limit)).astype(int))
    logger.info("%d of %d settings get a panel", len(picks), len(settings))
    return [settings[i] for i in picks]


def _fine_times(rows: list[dict[str, Any]], num: int = 241) -> np.ndarray:
    t_max = max(float(r["time"]) for r in rows)
    return np.linspace(0.0, t_max if t_max > 0 else 1.0, num)


def _has_errors(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and "dN_A_lo" in rows[0]


# Drawing --------------------------------------------------------------------------


def _new_figure(n_cols: int, n_rows: int, *, width: float = 3.6, height: float = 2.6):
    from matplotlib.figure import Figure

    fig = Figure(
        figsize=(0.6 + width * n_cols, 0.9 + height * n_rows), layout="constrained"
    )
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex="col")
    return fig, axes


def _measured(
    ax: Axes,
    x: np.ndarray | None,
    y: np.ndarray | None,
    yerr: np.ndarray | None,
    label: str,
    *,
    color: str = BLUE,
    marker: str = "o",
) -> None:
    """Measured points with their 95% intervals; nothing if a column is missing."""
    if x is None or y is None:
        return
    ax.errorbar(
        x,
        y,
        yerr=yerr,
        fmt=marker,
        ms=4,
        color=color,
        ecolor=color,
        elinewidth=1.0,
        capsize=2.5,
        label=label,
        zorder=3,
    )


def _zero(ax: Axes) -> None:
    ax.axhline(0.0, color=GREY, lw=0.8, ls=(0, (4, 3)), zorder=1)


def _style(ax: Axes) -> None:
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.tick_params(labelsize=9)


def _subtitle(config: Config, rows: list[dict[str, Any]], name: str) -> str:
    run = config.run
    bars = (
        f"95% intervals from {run.bootstrap} bootstrap resamples"
        if _has_errors(rows)
        else "no error bars (bootstrap = 0)"
    )
    return (
        f"{name}: {run.shots} shots per basis, fitter {run.fitter}, "
        f"U = {config.exchange.interaction:g}, "
        f"Trotter dt = {config.exchange.trotter_dt:g}\n{bars}"
    )


def flow_figure(config: Config, rows: list[dict[str, Any]], name: str) -> Figure:
    """``dN_A`` and ``dI_AB`` against time, one column per correlation setting."""
    groups = _by_setting(rows)
    settings = _select(list(groups))
    fig, axes = _new_figure(len(settings), 2)
    trotter = config.exchange.interaction != 0
    bars = "measured, 95% interval" if _has_errors(rows) else "measured"
    for col, setting in enumerate(settings):
        group = groups[setting]
        t = _column(group, "time")
        fine = _fine_times(group)
        curves = exact_curves(config, Correlation(*setting), fine)
        for row_i, (q, label) in enumerate((("dN_A", DN_LABEL), ("dI_AB", DI_LABEL))):
            ax = axes[row_i, col]
            _zero(ax)
            exact_label = "exact, $e^{-iHt}$" if trotter else "exact"
            ax.plot(fine, curves[q], color=BLACK, lw=1.3, label=exact_label, zorder=2)
            if trotter:
                ax.plot(
                    t,
                    _column(group, q + "_exact"),
                    ls="none",
                    marker="s",
                    ms=5,
                    mfc="none",
                    mec=VERMILLION,
                    mew=1.1,
                    label="exact, Trotter circuit",
                    zorder=2,
                )
            _measured(ax, t, _column(group, q), _yerr(group, q), bars)
            _style(ax)
            if col == 0:
                ax.set_ylabel(label)
            if row_i == 0:
                ax.set_title(_title(setting), fontsize=10)
            else:
                ax.set_xlabel(TIME_LABEL)
    axes[0, 0].legend(fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(_subtitle(config, rows, name), fontsize=9)
    return fig


def margin_figure(config: Config, rows: list[dict[str, Any]], name: str) -> Figure:
    """``bound - dI_AB`` against time with zero marked, one panel per setting."""
    groups = _by_setting(rows)
    settings = _select(list(groups))
    fig, axes = _new_figure(len(settings), 1, height=2.9)
    bars = "measured, 95% interval" if _has_errors(rows) else "measured"
    for col, setting in enumerate(settings):
        group = groups[setting]
        ax = axes[0, col]
        fine = _fine_times(group)
        curves = exact_curves(config, Correlation(*setting), fine)
        ax.axhline(
            0.0,
            color=VERMILLION,
            lw=1.0,
            ls=(0, (4, 3)),
            zorder=1,
            label="0: bound $= \\Delta I_{AB}$",
        )
        ax.plot(
            fine,
            curves["D_A"] + curves["D_B"],
            color=BLACK,
            lw=1.3,
            label="exact, $D_A + D_B$",
            zorder=2,
        )
        t = _column(group, "time")
        _measured(ax, t, _column(group, "margin"), _yerr(group, "margin"), bars)
        _style(ax)
        ax.set_title(_title(setting), fontsize=10)
        ax.set_xlabel(TIME_LABEL)
        if col == 0:
            ax.set_ylabel(MARGIN_LABEL)
    axes[0, 0].legend(fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(_subtitle(config, rows, name), fontsize=9)
    return fig


def settings_figure(config: Config, rows: list[dict[str, Any]], name: str) -> Figure:
    """``dN_A`` and the mutual information ``I_AB(t)`` of every setting, shared axes.

    ``I_AB`` itself, not its change: settings that differ by correlations present at
    ``t = 0`` start at different heights.
    """
    groups = _by_setting(rows)
    settings = _select(list(groups))
    fig, axes = _new_figure(2, 1, width=4.6, height=3.4)
    for i, setting in enumerate(settings):
        group = groups[setting]
        color, marker = SERIES[i % len(SERIES)], MARKERS[i % len(MARKERS)]
        fine = _fine_times(group)
        curves = exact_curves(config, Correlation(*setting), fine)
        t = _column(group, "time")
        for ax, q in zip(axes[0], ("dN_A", "I_AB"), strict=True):
            ax.plot(fine, curves[q], color=color, lw=1.2, zorder=2)
            if _column(group, q) is not None:  # runs from before I_AB was a column
                _measured(
                    ax,
                    t,
                    _column(group, q),
                    _yerr(group, q),
                    _title(setting),
                    color=color,
                    marker=marker,
                )
    for ax, label in zip(axes[0], (DN_LABEL, I_LABEL), strict=True):
        _zero(ax)
        _style(ax)
        ax.set_ylabel(label)
        ax.set_xlabel(TIME_LABEL)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 3),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        _subtitle(config, rows, name)
        + "\nlines: exact; markers: measured"
        + (", 95% intervals" if _has_errors(rows) else ""),
        fontsize=9,
    )
    return fig


def phase_times(rows: list[dict[str, Any]]) -> list[float]:
    """The measured times with ``t > 0``, ascending."""
    return sorted({float(r["time"]) for r in rows if float(r["time"]) > 0})


def phase_figure(
    config: Config, rows: list[dict[str, Any]], name: str, *, time: float | None = None
) -> Figure:
    """``dN_A`` against ``arg(alpha)`` at one time (default: the first ``t > 0``).

    One series per ``(coherence, classical)`` pair of the sweep.

    Raises:
        ValueError: if the run has no time ``t > 0`` or ``time`` was not measured.
    """
    times = phase_times(rows)
    if not times:
        raise ValueError(
            "the run has no point with t > 0; nothing to plot against phase"
        )
    if time is None:
        time = times[0]
    matches = [t for t in times if math.isclose(t, time, rel_tol=1e-9, abs_tol=1e-12)]
    if not matches:
        raise ValueError(
            f"time = {time!r} was not measured; allowed: "
            + ", ".join(f"{t:g}" for t in times)
        )
    time = matches[0]
    at = [r for r in rows if math.isclose(float(r["time"]), time, abs_tol=1e-12)]
    series: dict[tuple[float, float], list] = {}
    for r in at:
        series.setdefault((float(r["coherence"]), float(r["classical"])), []).append(r)

    fig, axes = _new_figure(1, 1, width=6.2, height=3.6)
    ax = axes[0, 0]
    _zero(ax)
    phases = sorted({float(r["phase_deg"]) for r in at})
    fine = np.linspace(min(phases), max(phases), 181)
    for i, ((coherence, classical), group) in enumerate(sorted(series.items())):
        group.sort(key=lambda r: float(r["phase_deg"]))
        color, marker = SERIES[i % len(SERIES)], MARKERS[i % len(MARKERS)]
        tag = f"coherence {coherence:g}, classical {classical:g}"
        ax.plot(
            fine,
            exact_phase_curve(config, coherence, classical, time, fine),
            color=color,
            lw=1.2,
            label=f"exact ({tag})",
            zorder=2,
        )
        bars = "95% interval" if _has_errors(group) else "measured"
        _measured(
            ax,
            _column(group, "phase_deg"),
            _column(group, "dN_A"),
            _yerr(group, "dN_A"),
            f"measured, {bars}",
            color=color,
            marker=marker,
        )
    ax.set_xlabel("phase $\\arg\\alpha$  [degrees]")
    ax.set_ylabel(DN_LABEL)
    span = max(phases) - min(phases)
    if span >= 180:
        ax.set_xticks(np.arange(math.ceil(min(phases) / 90) * 90, max(phases) + 1, 90))
    _style(ax)
    # Shade the phases where Im(alpha) = |alpha| sin(phase) < 0: (360 k - 180, 360 k).
    label: str | None = "Im$\\,\\alpha < 0$"
    for k in range(-2, 3):
        lo, hi = max(360 * k - 180, min(phases)), min(360 * k, max(phases))
        if lo < hi:
            ax.axvspan(lo, hi, color=SKY, alpha=0.15, lw=0, zorder=0, label=label)
            label = None
    if config.state.mu_a == config.state.mu_b:
        meaning = "no flow direction is favoured, mu_a = mu_b"
    else:
        kind = "anomalous" if config.state.mu_a > config.state.mu_b else "conventional"
        meaning = f"$\\Delta N_A > 0$ is {kind} flow"
    ax.set_title(
        f"$\\Delta N_A$ at $t$ = {time:g} against the phase of the coherence "
        f"({meaning})",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(_subtitle(config, rows, name), fontsize=9)
    return fig


# Entry point ----------------------------------------------------------------------


def plot_run(
    run_dir: str | Path,
    *,
    out: str | Path | None = None,
    time: float | None = None,
    formats: Sequence[str] = FORMATS,
    dpi: int = 110,
) -> list[Path]:
    """Write the figures of a run directory; return the files written.

    Args:
        run_dir: a directory written by ``qcflow run``.
        out: where to write (default ``RUN_DIR/figures``); created if needed.
        time: the time of the phase figure (default the first ``t > 0``).
        formats: file formats, any of ``png``, ``pdf``.
        dpi: resolution of the PNG files.

    Raises:
        PlottingUnavailable: if matplotlib is not installed.
        FileNotFoundError: if the run directory has no ``config.toml`` or
            ``results.json``.
        ValueError: if a format is not known or ``time`` was not measured.
    """
    from qcflow.results import read_rows

    _matplotlib()
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(
            f"format {bad[0]!r} is not known; allowed: " + ", ".join(FORMATS)
        )
    run_dir = Path(run_dir)
    for needed in ("config.toml", "results.json"):
        if not (run_dir / needed).is_file():
            raise FileNotFoundError(
                f"{str(run_dir / needed)!r} does not exist; allowed: a directory "
                "written by 'qcflow run'"
            )
    config = load_config(run_dir / "config.toml")
    rows = read_rows(run_dir)
    if not rows:
        raise ValueError(f"{str(run_dir)!r} has no finished points yet")
    name = run_dir.resolve().name
    out_dir = Path(out) if out is not None else run_dir / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)

    figures = {
        "flow": flow_figure(config, rows, name),
        "margin": margin_figure(config, rows, name),
    }
    n_settings = len(_by_setting(rows))
    if 2 <= n_settings <= MAX_PANELS and len(phase_times(rows)) > 1:
        figures["settings"] = settings_figure(config, rows, name)
    if len(config.state.phase_deg) > 1:
        figures["phase"] = phase_figure(config, rows, name, time=time)
    written = []
    for key, fig in figures.items():
        for fmt in formats:
            path = out_dir / f"{key}.{fmt}"
            fig.savefig(path, dpi=dpi, metadata=_metadata(fmt))
            logger.info("wrote %s", path)
            written.append(path)
    return written


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation date: the same run gives byte-identical PDFs.
    return {"CreationDate": None} if fmt == "pdf" else {}
