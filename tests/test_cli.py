"""The ``qcflow`` command: outputs, reproducibility, bad input, interrupt, resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qcflow.cli import main
from qcflow.results import read_rows

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ROOT / "experiments" / "anomalous_flow.toml"

SMALL = """
[system]
n_modes = 1
energy = 1.0
hopping = 0.0

[state]
beta = 1.0
mu_a = 1.5
mu_b = 0.5
coherence = [0.0, 0.8]

[exchange]
coupling = 1.0
times = [0.0, 0.3, 0.6]
trotter_dt = 0.1

[run]
shots = 500
seed = 7
"""

# Slow enough to interrupt part-way: 24 points through Aer measurement circuits.
SLOW = """
[system]
n_modes = 2
energy = 1.0
hopping = 0.5

[state]
beta = 1.0
mu_a = 1.5
mu_b = 0.5
coherence = [0.0, 0.9]

[exchange]
coupling = 1.0
times = { start = 0.0, stop = 1.1, num = 12 }
trotter_dt = 0.1

[run]
shots = 300
seed = 3
method = "circuits"
bootstrap = 20
"""


def write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def qcflow(*args: str | Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qcflow.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_headline_run_writes_everything(tmp_path: Path, capsys) -> None:
    out = tmp_path / "anomalous"
    assert main(["run", str(HEADLINE), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "coherence 0.9, phase -90 deg" in printed
    assert max(len(line) for line in printed.splitlines() if str(out) not in line) <= 72

    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 32
    for column in (
        "coherence phase_deg classical time dN_A dE_A dS_A dS_B dS_AB dI_AB D_A D_B "
        "bound margin flow dN_A_exact dI_AB_exact margin_exact flow_exact"
    ).split():
        assert column in rows[0]
    document = json.loads((out / "results.json").read_text())
    assert document["config"]["state"]["coherence"] == [0.0, 0.9]
    assert "qiskit" in document["versions"]
    assert len(list((out / "counts").glob("point_*.npz"))) == 32
    with np.load(out / "counts" / "point_0017.npz") as data:
        assert data["counts"].shape == (81, 16)
        assert (data["counts"].sum(axis=1) == 4000).all()
        assert data["bases"][0] == "XXXX"

    # The claims of the headline experiment hold on the exact values.
    product = [r for r in rows if float(r["coherence"]) == 0.0 and float(r["time"]) > 0]
    correlated = [r for r in rows if float(r["coherence"]) == 0.9]
    assert all(r["flow_exact"] == "conventional" for r in product)
    assert all(float(r["dI_AB_exact"]) >= 0 for r in product)
    short = [r for r in correlated if 0 < float(r["time"]) <= 0.3]
    assert all(r["flow_exact"] == "anomalous" for r in short)
    assert all(float(r["dI_AB_exact"]) < 0 for r in short)


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    config = write(tmp_path, SMALL)
    for name in ("a", "b"):
        assert main(["run", str(config), "--out", str(tmp_path / name), "--quiet"]) == 0
    assert read_rows(tmp_path / "a") == read_rows(tmp_path / "b")
    assert (
        main(
            ["run", str(config), "--out", str(tmp_path / "c"), "--seed", "8", "--quiet"]
        )
        == 0
    )
    assert read_rows(tmp_path / "a") != read_rows(tmp_path / "c")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shots", "0"], "[run] shots = 0 is out of range"),
        (["--seed", "-3"], "[run] seed = -3 is out of range"),
    ],
)
def test_bad_overrides_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = qcflow("run", write(tmp_path, SMALL), "--out", tmp_path / "o", *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == f"qcflow: error: {message}" or message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL.replace("beta = 1.0", "beta = -2.0"), "[state] beta = -2.0"),
        (SMALL.replace("n_modes = 1", "n_modes = 9"), "n_modes = 9 is out of range"),
        (
            SMALL.replace("coherence = [0.0, 0.8]", "coherence = [0.0, 1.8]"),
            "coherence[1] = 1.8",
        ),
        (
            SMALL.replace("trotter_dt = 0.1", "trotter_dt = 0.1\ntrotter_order = 3"),
            "trotter_order = 3",
        ),
        (SMALL.replace("[run]", "[run]\nbogus = 1"), "[run] bogus is not a known key"),
        (
            SMALL.replace("times = [0.0, 0.3, 0.6]", "times = [0.3, 0.1]"),
            "times[1] = 0.1 is not above",
        ),
        (SMALL.replace("shots = 500", "shots = nan"), "shots = nan is not an integer"),
        ("[system", "is not valid TOML"),
    ],
)
def test_bad_configuration_exit_2(tmp_path: Path, text: str, message: str) -> None:
    proc = qcflow("run", write(tmp_path, text), "--out", tmp_path / "o")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "counts").exists()


def test_output_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory")
    proc = qcflow("run", write(tmp_path, SMALL), "--out", target)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "is a file" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    proc = qcflow("run", write(tmp_path, SMALL), "--out", locked / "run")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "cannot write" in err


def test_empty_output_path_is_refused(tmp_path: Path) -> None:
    proc = qcflow("run", write(tmp_path, SMALL), "--out", "", cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "empty path" in err
    assert not (tmp_path / "results.csv").exists()


def test_output_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    proc = qcflow("run", write(tmp_path, SMALL), "--out", tmp_path / "file" / "run")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "cannot write" in err and "Traceback" not in err


def test_other_configuration_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = write(tmp_path, SMALL)
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    proc = qcflow("run", config, "--out", out, "--shots", "600")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "different configuration" in err
    assert (
        main(
            [
                "run",
                str(config),
                "--out",
                str(out),
                "--shots",
                "600",
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    assert {r["shots"] for r in read_rows(out)} == {600}


def test_corrupted_point_is_measured_again(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = write(tmp_path, SMALL)
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    reference = read_rows(out)
    (out / "points" / "point_0004.json").write_text('{"dN_A": 0.1')  # truncated
    (out / "results.json").write_text("{")
    (out / "counts" / "point_0002.npz").write_bytes(b"garbage")
    good = (out / "counts" / "point_0001.npz").read_bytes()
    (out / "counts" / "point_0001.npz").write_bytes(good[:100])  # truncated zip
    (out / "points" / "point_abc.json").write_text("{}")
    (out / "points" / "point_0099.json").write_text(
        (out / "points" / "point_0003.json").read_text()
    )  # outside the sweep
    (out / "points" / "point_0005.json").write_text("[]")
    foreign = json.loads((out / "points" / "point_0003.json").read_text())
    foreign["time"] = 0.9  # a row of another point
    (out / "points" / "point_0003.json").write_text(json.dumps(foreign))
    with np.load(out / "counts" / "point_0000.npz") as data:
        zero = {k: data[k] for k in data.files}
    zero["counts"] = np.zeros_like(zero["counts"])
    np.savez(out / "counts" / "point_0000.npz", **zero)
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    assert read_rows(out) == reference


def _finished(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}


def test_kill_and_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    config = write(tmp_path, SLOW)
    out = tmp_path / "killed"
    proc = qcflow("run", config, "--out", out, "--quiet")
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline
        and len(_finished(out) if out.exists() and (out / "points").exists() else {})
        < 5
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = _finished(out)
    assert 5 <= len(before) < 24, "the run finished before it could be killed"

    resumed = qcflow("run", config, "--out", out)
    stdout, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0
    assert f"resuming {out}: {len(before)} of 24 points done" in stdout
    after = _finished(out)
    assert len(after) == 24
    assert all(after[name] == mtime for name, mtime in before.items())

    clean = tmp_path / "clean"
    assert main(["run", str(config), "--out", str(clean), "--quiet"]) == 0
    assert read_rows(out) == read_rows(clean)


def test_ctrl_c_ends_cleanly(tmp_path: Path) -> None:
    config = write(tmp_path, SLOW)
    out = tmp_path / "interrupted"
    proc = qcflow("run", config, "--out", out, "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        (out / "points").exists() and len(_finished(out)) >= 2
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    rows = json.loads((out / "results.json").read_text())["points"]
    assert len(rows) == len(_finished(out)) >= 2


def test_help_explains_every_option() -> None:
    proc = qcflow("run", "--help")
    out, _ = proc.communicate(timeout=60)
    for option in ("--out", "--shots", "--seed", "--method", "--overwrite", "--quiet"):
        assert option in out
