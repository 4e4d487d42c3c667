"""Experiment configuration: the TOML tables [system], [state], [exchange] and [run].

Every value is checked when the dataclasses are built; a bad one raises
:class:`ConfigError` with one line naming the key, the value and the allowed range.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcflow.model import MAX_MODES, Correlation, InitialState, Model

METHODS = ("state", "circuits")
#: Backend forms (validated by :func:`qcflow.devices.backend_kind`); device backends
#: (all but ``aer``) always run circuits, whatever ``method`` says.
BACKENDS = ("aer", "fake_<device>", "ibm:<backend>")
#: Key fragments that mark credentials, which never belong in a configuration file.
CREDENTIAL_KEY = re.compile(r"token|api_?key|secret|password|credential", re.IGNORECASE)
#: State fitters: linear inversion with projection, maximum likelihood, and both
#: restricted to states that commute with N_A + N_B (see qcflow.symmetric). The default,
#: "symmetric", is chosen by the measurements in the README (Statistics).
FITTERS = ("linear", "mle", "symmetric", "symmetric_mle")
MAX_SHOTS = 10_000_000
#: Bound on energies, couplings, chemical potentials, beta and times (in the units of
#: the configuration): beyond it double precision loses the physics (overflowing
#: Gibbs weights, sin(g t) of meaningless arguments).
MAX_SCALE = 1e6
#: Trotter steps of one evolution circuit, ceil(t / trotter_dt), at most.
MAX_TROTTER_STEPS = 100_000
MAX_BOOTSTRAP = 100_000
MAX_POINTS = 100_000


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


def _where(section: str, key: str) -> str:
    return f"[{section}] {key}"


def _fmt(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _number(
    section: str,
    key: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    allowed: str | None = None,
) -> float:
    """A finite real number in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"{_where(section, key)} = {_fmt(value)} is not a number; "
            f"allowed: {allowed or 'a finite real number'}"
        )
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ConfigError(
            f"{_where(section, key)} = {value!r} is out of range; "
            f"allowed: {allowed or 'a finite real number'}"
        )
    return value


def _scaled(section: str, key: str, value: Any) -> float:
    """A real number of magnitude at most :data:`MAX_SCALE`."""
    return _number(
        section,
        key,
        value,
        low=-MAX_SCALE,
        high=MAX_SCALE,
        allowed=f"-{MAX_SCALE:g}..{MAX_SCALE:g}",
    )


def _integer(section: str, key: str, value: Any, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{_where(section, key)} = {_fmt(value)} is not an integer; "
            f"allowed: {low}..{high}"
        )
    if not low <= value <= high:
        raise ConfigError(
            f"{_where(section, key)} = {value} is out of range; allowed: {low}..{high}"
        )
    return value


def _sweep(
    section: str, key: str, value: Any, *, low: float, high: float, allowed: str
) -> tuple[float, ...]:
    """A number or a non-empty list of numbers, each in ``[low, high]``."""
    values = value if isinstance(value, list | tuple) else [value]
    if not values:
        raise ConfigError(f"{_where(section, key)} = [] is empty; allowed: {allowed}")
    return tuple(
        _number(
            section,
            f"{key}[{i}]" if len(values) > 1 else key,
            v,
            low=low,
            high=high,
            allowed=allowed,
        )
        for i, v in enumerate(values)
    )


def _times(value: Any) -> tuple[float, ...]:
    """An explicit increasing list, or ``{start, stop, num}`` for an even grid."""
    section, key = "exchange", "times"
    if isinstance(value, dict):
        _check_keys(
            f"{section}.{key}", value, required={"start", "stop", "num"}, optional=set()
        )
        start = _number(
            section,
            "times.start",
            value["start"],
            low=0.0,
            high=MAX_SCALE,
            allowed=f"0..{MAX_SCALE:g}",
        )
        stop = _number(
            section,
            "times.stop",
            value["stop"],
            low=start,
            high=MAX_SCALE,
            allowed=f"start = {start}..{MAX_SCALE:g}",
        )
        num = _integer(section, "times.num", value["num"], low=1, high=MAX_POINTS)
        if num == 1:
            return (start,)
        step = (stop - start) / (num - 1)
        if step == 0:
            raise ConfigError(
                f"[exchange] times.stop = {stop} equals start with num = {num}; "
                "allowed: stop > start when num > 1"
            )
        # Twelve significant digits: 0.3, not 0.30000000000000004.
        return tuple(float(f"{start + i * step:.12g}") for i in range(num))
    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"[exchange] times = {_fmt(value)} is neither a list nor a table; "
            "allowed: [t0, t1, ...] or { start, stop, num }"
        )
    times = _sweep(
        section,
        key,
        list(value),
        low=0.0,
        high=MAX_SCALE,
        allowed=f"a non-empty increasing list of times in 0..{MAX_SCALE:g}",
    )
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            raise ConfigError(
                f"[exchange] times[{i}] = {times[i]!r} is not above times[{i - 1}] = "
                f"{times[i - 1]!r}; allowed: strictly increasing times >= 0"
            )
    return times


def _check_keys(
    section: str, table: Any, *, required: set[str], optional: set[str]
) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] = {_fmt(table)} is not a table")
    unknown = sorted(set(table) - required - optional)
    if unknown:
        raise ConfigError(
            f"[{section}] {unknown[0]} is not a known key; allowed: "
            + ", ".join(sorted(required | optional))
        )
    missing = sorted(required - set(table))
    if missing:
        raise ConfigError(f"[{section}] {missing[0]} is missing; it is required")


@dataclass(frozen=True)
class SystemConfig:
    """``[system]``: modes per subsystem, on-site energy, intra-subsystem hopping."""

    n_modes: int
    energy: float
    hopping: float

    def __post_init__(self) -> None:
        _integer("system", "n_modes", self.n_modes, low=1, high=MAX_MODES)
        for key in ("energy", "hopping"):
            _scaled("system", key, getattr(self, key))


@dataclass(frozen=True)
class StateConfig:
    """``[state]``: temperature, chemical potentials and the correlation sweep."""

    beta: float
    mu_a: float
    mu_b: float
    coherence: tuple[float, ...] = (0.0,)
    phase_deg: tuple[float, ...] = (-90.0,)
    classical: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        _number(
            "state",
            "beta",
            self.beta,
            low=0.0,
            high=MAX_SCALE,
            allowed=f"0 <= beta <= {MAX_SCALE:g}",
        )
        _scaled("state", "mu_a", self.mu_a)
        _scaled("state", "mu_b", self.mu_b)
        _sweep(
            "state",
            "coherence",
            list(self.coherence),
            low=0.0,
            high=1.0,
            allowed="0..1 (fraction of the bound on |alpha|)",
        )
        _sweep(
            "state",
            "phase_deg",
            list(self.phase_deg),
            low=-360.0,
            high=360.0,
            allowed="-360..360 degrees",
        )
        _sweep(
            "state",
            "classical",
            list(self.classical),
            low=-1.0,
            high=1.0,
            allowed="-1..1 (fraction of the allowed range)",
        )


@dataclass(frozen=True)
class ExchangeConfig:
    """``[exchange]``: coupling g, interaction U, times and Trotter settings."""

    coupling: float
    times: tuple[float, ...]
    trotter_dt: float
    interaction: float = 0.0
    trotter_order: int = 2

    def __post_init__(self) -> None:
        _scaled("exchange", "coupling", self.coupling)
        _scaled("exchange", "interaction", self.interaction)
        _times(list(self.times))
        _number(
            "exchange",
            "trotter_dt",
            self.trotter_dt,
            low=0.0,
            low_open=True,
            allowed="trotter_dt > 0",
        )
        steps = math.ceil(max(self.times) / self.trotter_dt - 1e-9)
        if steps > MAX_TROTTER_STEPS:
            raise ConfigError(
                f"[exchange] trotter_dt = {self.trotter_dt!r} gives {steps:.3g} "
                f"Trotter steps at t = {max(self.times)!r}; allowed: at most "
                f"{MAX_TROTTER_STEPS} steps (a larger trotter_dt)"
            )
        if type(self.trotter_order) is not int or self.trotter_order not in (1, 2):
            raise ConfigError(
                f"[exchange] trotter_order = {_fmt(self.trotter_order)} is out of "
                "range; allowed: 1 or 2"
            )


@dataclass(frozen=True)
class RunConfig:
    """``[run]``: shots per basis, seed, simulation method, backend, state fitter and
    bootstrap resamples (0: no error bars)."""

    shots: int = 4000
    seed: int = 1234
    method: str = "state"
    backend: str = "aer"
    fitter: str = "symmetric"
    bootstrap: int = 200
    optimization_level: int = 3
    readout_mitigation: bool = True

    def __post_init__(self) -> None:
        _integer("run", "shots", self.shots, low=1, high=MAX_SHOTS)
        _integer("run", "seed", self.seed, low=0, high=2**63 - 1)
        if self.method not in METHODS:
            raise ConfigError(
                f"[run] method = {_fmt(self.method)} is not known; allowed: "
                + ", ".join(METHODS)
            )
        if not isinstance(self.backend, str):
            raise ConfigError(
                f"[run] backend = {_fmt(self.backend)} is not a string; allowed: "
                + ", ".join(BACKENDS)
            )
        if self.backend != "aer":
            from qcflow.devices import backend_kind

            try:
                backend_kind(self.backend)
            except ValueError as exc:
                raise ConfigError(f"[run] {exc}") from exc
            # Only an ideal simulator has a state to sample from: devices run circuits.
            object.__setattr__(self, "method", "circuits")
        _integer("run", "optimization_level", self.optimization_level, low=0, high=3)
        if not isinstance(self.readout_mitigation, bool):
            raise ConfigError(
                f"[run] readout_mitigation = {_fmt(self.readout_mitigation)} is not a "
                "boolean; allowed: true or false"
            )
        if self.fitter not in FITTERS:
            raise ConfigError(
                f"[run] fitter = {_fmt(self.fitter)} is not known; allowed: "
                + ", ".join(FITTERS)
            )
        _integer("run", "bootstrap", self.bootstrap, low=0, high=MAX_BOOTSTRAP)


@dataclass(frozen=True)
class Config:
    """A whole experiment: the model, the initial-state sweep, the times, the run."""

    system: SystemConfig
    state: StateConfig
    exchange: ExchangeConfig
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        n = len(self.settings()) * len(self.measured_times())
        if n > MAX_POINTS:
            raise ConfigError(
                f"the sweep has {n} points; allowed: at most {MAX_POINTS}"
            )

    @property
    def model(self) -> Model:
        return Model(
            n_modes=self.system.n_modes,
            energy=self.system.energy,
            hopping=self.system.hopping,
            coupling=self.exchange.coupling,
            interaction=self.exchange.interaction,
        )

    def settings(self) -> list[Correlation]:
        """The correlation settings of the sweep: coherence x phase x classical."""
        s = self.state
        return [
            Correlation(coherence=c, phase_deg=p, classical=k)
            for c in s.coherence
            for p in s.phase_deg
            for k in s.classical
        ]

    def measured_times(self) -> tuple[float, ...]:
        """The configured times, with the reference ``t = 0`` added first if absent."""
        times = self.exchange.times
        return times if times[0] == 0.0 else (0.0, *times)

    def initial_state(self, correlation: Correlation) -> InitialState:
        return InitialState(
            self.model, self.state.beta, self.state.mu_a, self.state.mu_b, correlation
        )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The resolved configuration as TOML-ready tables, times as a list."""
        out = {}
        for f in dataclasses.fields(self):
            table = dataclasses.asdict(getattr(self, f.name))
            out[f.name] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in table.items()
            }
        return out

    def to_toml(self) -> str:
        lines = []
        for section, table in self.to_dict().items():
            lines.append(f"[{section}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
            lines.append("")
        return "\n".join(lines)

    def with_run(self, **changes: Any) -> Config:
        """A copy with ``[run]`` values replaced (validated like the file's)."""
        return dataclasses.replace(self, run=dataclasses.replace(self.run, **changes))


_SECTIONS: dict[str, tuple[type, set[str], set[str]]] = {
    "system": (SystemConfig, {"n_modes", "energy", "hopping"}, set()),
    "state": (
        StateConfig,
        {"beta", "mu_a", "mu_b"},
        {"coherence", "phase_deg", "classical"},
    ),
    "exchange": (
        ExchangeConfig,
        {"coupling", "times", "trotter_dt"},
        {"interaction", "trotter_order"},
    ),
    "run": (
        RunConfig,
        set(),
        {
            "shots",
            "seed",
            "method",
            "backend",
            "fitter",
            "bootstrap",
            "optimization_level",
            "readout_mitigation",
        },
    ),
}


def _reject_credentials(data: dict[str, Any]) -> None:
    """Refuse credential-like keys anywhere in the file, never echoing their values."""
    tables = [("", data)] + [(k, v) for k, v in data.items() if isinstance(v, dict)]
    for section, table in tables:
        for key in table:
            if CREDENTIAL_KEY.search(str(key)):
                where = f"[{section}] {key}" if section else str(key)
                raise ConfigError(
                    f"{where} is not a known key: credentials do not belong in a "
                    "configuration file; save an IBM Quantum account once with "
                    "QiskitRuntimeService.save_account(...) or set QISKIT_IBM_TOKEN "
                    "in the environment"
                )


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from parsed TOML tables."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration is not a table")
    _reject_credentials(data)
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"[{unknown[0]}] is not a known table; allowed: " + ", ".join(_SECTIONS)
        )
    parts: dict[str, Any] = {}
    for name, (cls, required, optional) in _SECTIONS.items():
        if name not in data:
            if required:
                raise ConfigError(f"[{name}] is missing; it is required")
            parts[name] = cls()
            continue
        table = data[name]
        _check_keys(name, table, required=required, optional=optional)
        kwargs = dict(table)
        for key in ("coherence", "phase_deg", "classical"):
            if name == "state" and key in kwargs:
                value = kwargs[key]
                kwargs[key] = tuple(value) if isinstance(value, list) else (value,)
        if name == "exchange":
            kwargs["times"] = _times(kwargs["times"])
        parts[name] = cls(**kwargs)
    return Config(**parts)


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML configuration file.

    Raises:
        ConfigError: if the file cannot be read, is not valid TOML, or has a bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot read configuration {str(path)!r}: {reason}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {exc}") from exc
    return config_from_dict(data)
