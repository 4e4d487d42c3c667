"""Configuration: valid files resolve as documented, bad ones fail in one line."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest

from qcflow.config import ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[1]

BASE: dict[str, Any] = {
    "system": {"n_modes": 2, "energy": 1.0, "hopping": 0.5},
    "state": {"beta": 1.0, "mu_a": 1.5, "mu_b": 0.5, "coherence": [0.0, 0.9]},
    "exchange": {
        "coupling": 1.0,
        "times": {"start": 0.0, "stop": 1.5, "num": 16},
        "trotter_dt": 0.1,
    },
    "run": {"shots": 4000, "seed": 1234},
}


def variant(path: str, value: Any) -> dict[str, Any]:
    """BASE with ``section.key`` set to ``value`` (``...`` deletes it)."""
    data = copy.deepcopy(BASE)
    section, _, key = path.partition(".")
    if not key:
        if value is ...:
            del data[section]
        else:
            data[section] = value
        return data
    if value is ...:
        del data[section][key]
    else:
        data[section][key] = value
    return data


def test_headline_file_resolves() -> None:
    config = load_config(ROOT / "experiments" / "anomalous_flow.toml")
    assert config.system.n_modes == 2
    assert config.state.coherence == (0.0, 0.9)
    assert len(config.exchange.times) == 16
    assert config.exchange.times[-1] == pytest.approx(1.5, abs=1e-15)
    assert len(config.settings()) == 2
    assert config.measured_times() == config.exchange.times


def test_defaults_and_scalar_sweeps() -> None:
    config = config_from_dict(variant("run", ...))
    assert config.run.shots == 4000 and config.run.method == "state"
    assert config.state.phase_deg == (-90.0,)
    assert config.exchange.trotter_order == 2 and config.exchange.interaction == 0.0


def test_cartesian_product_of_settings() -> None:
    data = variant("state.phase_deg", [-90.0, 0.0, 90.0])
    data["state"]["classical"] = [0.0, 0.5]
    settings = config_from_dict(data).settings()
    assert len(settings) == 2 * 3 * 2
    assert len({(s.coherence, s.phase_deg, s.classical) for s in settings}) == 12


def test_reference_time_added_when_missing() -> None:
    config = config_from_dict(variant("exchange.times", [0.2, 0.4]))
    assert config.measured_times() == (0.0, 0.2, 0.4)


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(ROOT / "experiments" / "anomalous_flow.toml")
    path = tmp_path / "resolved.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config


BAD: list[tuple[str, Any, str]] = [
    # (section.key, value, text the message must contain)
    ("system.n_modes", 0, "n_modes = 0 is out of range; allowed: 1..4"),
    ("system.n_modes", 50, "allowed: 1..4"),
    ("system.n_modes", 2.0, "n_modes = 2.0 is not an integer"),
    ("system.n_modes", True, "is not an integer"),
    ("system.n_modes", "2", 'n_modes = "2" is not an integer'),
    ("system.energy", math.nan, "energy = nan is out of range"),
    ("system.hopping", math.inf, "hopping = inf is out of range"),
    ("system.energy", ..., "[system] energy is missing"),
    ("system.colour", 3, "[system] colour is not a known key"),
    ("state.beta", -1.0, "beta = -1.0 is out of range; allowed: 0 <= beta <= 1e+06"),
    ("state.beta", 1e308, "beta = 1e+308 is out of range"),
    ("system.energy", 1e308, "energy = 1e+308 is out of range; allowed: -1e+06..1e+06"),
    ("exchange.coupling", -1e7, "coupling = -10000000.0 is out of range"),
    ("exchange.times", [0.0, 1e308], "times[1] = 1e+308 is out of range"),
    ("exchange.trotter_dt", 1e-300, "allowed: at most 100000 steps"),
    ("exchange.trotter_order", 1.0, "trotter_order = 1.0 is out of range"),
    ("state.beta", math.inf, "beta = inf is out of range"),
    ("state.mu_a", "high", 'mu_a = "high" is not a number'),
    ("state.coherence", 1.5, "coherence = 1.5 is out of range; allowed: 0..1"),
    ("state.coherence", [0.1, -0.2], "coherence[1] = -0.2 is out of range"),
    ("state.coherence", [], "coherence = [] is empty"),
    ("state.classical", -1.01, "classical = -1.01 is out of range; allowed: -1..1"),
    ("state.phase_deg", 720.0, "phase_deg = 720.0 is out of range"),
    ("state.phase_deg", {"per_pair": [1, 2]}, "is not a number"),
    ("exchange.times", [], "times = [] is empty"),
    ("exchange.times", [0.0, 0.5, 0.2], "times[2] = 0.2 is not above times[1]"),
    ("exchange.times", [0.0, 0.5, 0.5], "strictly increasing"),
    ("exchange.times", [-0.1, 0.5], "times[0] = -0.1 is out of range"),
    ("exchange.times", "soon", 'times = "soon" is neither a list nor a table'),
    ("exchange.times", {"start": 0.0, "stop": 1.0}, "times] num is missing"),
    ("exchange.times", {"start": 0, "stop": 1, "num": 0}, "times.num = 0 is out"),
    ("exchange.times", {"start": 1, "stop": 0, "num": 3}, "times.stop = 0.0 is out"),
    ("exchange.times", {"start": 0, "stop": 1, "num": 5, "x": 1}, "x is not a known"),
    (
        "exchange.trotter_dt",
        0.0,
        "trotter_dt = 0.0 is out of range; allowed: trotter_dt > 0",
    ),
    ("exchange.trotter_dt", -0.1, "trotter_dt = -0.1"),
    ("exchange.trotter_order", 3, "trotter_order = 3 is out of range; allowed: 1 or 2"),
    ("exchange.trotter_order", "2", "trotter_order"),
    ("exchange.coupling", ..., "[exchange] coupling is missing"),
    ("run.shots", 0, "shots = 0 is out of range; allowed: 1..10000000"),
    ("run.shots", -5, "shots = -5 is out of range"),
    ("run.shots", 4000.0, "shots = 4000.0 is not an integer"),
    ("run.seed", -1, "seed = -1 is out of range"),
    ("run.method", "magic", 'method = "magic" is not known; allowed: state, circuits'),
    ("run.token", "abc", "[run] token is not a known key"),
    ("system", ..., "[system] is missing"),
    ("system", 3, "[system] = 3 is not a table"),
    ("extra", {"a": 1}, "[extra] is not a known table"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD)
def test_bad_values_are_one_line_errors(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(variant(path, value))
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_sweep_size_is_bounded() -> None:
    data = variant("exchange.times", {"start": 0.0, "stop": 1.0, "num": 100_000})
    with pytest.raises(ConfigError, match="the sweep has 200000 points"):
        config_from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[system\nn_modes = 2", "is not valid TOML"),
        ("", "[system] is missing"),
        ("\x00\x01", "is not valid TOML"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "absent.toml")
