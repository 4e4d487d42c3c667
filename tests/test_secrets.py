"""An IBM token never reaches output, logs or run files, whatever goes wrong.

A recognisable fake token sits where credentials are read (the environment and a saved
account under a temporary home). The service factory is replaced by a recording fake
that hands out fake backends and local jobs, and ``QiskitRuntimeService`` itself by a
class that fails the test if anything builds it, so nothing here can reach a network.
Submit, status and fetch then run and fail in every way the fake can make them fail,
with the token planted in every error and reason the fake returns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime

from qcflow import ibm
from qcflow.cli import main
from qcflow.devices import fake_backend

TOKEN = "tok0SECRET0qcflow0abcdefghijklmnopqrstuvwxyz0123456789"
#: The factory under test, kept before any fixture replaces it.
REAL_RUNTIME_SERVICE = ibm.runtime_service

CONFIG = """
[system]
n_modes = 1
energy = 1.0
hopping = 0.0

[state]
beta = 1.0
mu_a = 1.5
mu_b = 0.5
coherence = 0.9

[exchange]
coupling = 1.0
times = [0.0, 0.3]
trotter_dt = 0.1

[run]
shots = 500
seed = 5
bootstrap = 0
backend = "ibm:fake_manila"
"""


class NoRealService:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("QiskitRuntimeService was constructed")


class BrokenJob:
    """A finished job that failed, was cancelled, or whose result cannot be read."""

    def __init__(self, job_id: str, status: str) -> None:
        self._id, self._status = job_id, status

    def job_id(self) -> str:
        return self._id

    def status(self) -> str:
        return self._status

    def error_message(self) -> str:
        return f"job failed for account {TOKEN}"

    def result(self) -> Any:
        raise RuntimeError(f"401 Unauthorized: token={TOKEN}")


class RecordingService:
    """Fake backends by name, local jobs by id; records every call it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.jobs: dict[str, Any] = {}
        self.broken: dict[str, str] = {}

    def backend(self, name: str) -> Any:
        self.calls.append(("backend", (name,)))
        if not name.startswith("fake_"):
            raise ValueError(f"no backend {name!r} for instance with key {TOKEN}")
        return fake_backend(name)

    def job(self, job_id: str) -> Any:
        self.calls.append(("job", (job_id,)))
        if job_id in self.broken:
            return BrokenJob(job_id, self.broken[job_id])
        return self.jobs[job_id]


@pytest.fixture
def secret_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose saved account holds the token, and the token in the environment."""
    home = tmp_path / "home"
    account = {
        "default-ibm-quantum-platform": {
            "channel": "ibm_quantum_platform",
            "token": TOKEN,
            "url": "https://quantum.cloud.ibm.com",
            "instance": "crn:v1:fake",
        }
    }
    (home / ".qiskit").mkdir(parents=True)
    (home / ".qiskit" / "qiskit-ibm.json").write_text(json.dumps(account))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", "crn:v1:fake")
    return home


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, secret_home: Path) -> RecordingService:
    fake = RecordingService()
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", NoRealService)
    monkeypatch.setattr(ibm, "runtime_service", lambda: fake)
    submit_job = ibm._submit_job

    def recorded(*args: Any, **kwargs: Any) -> Any:
        job = submit_job(*args, **kwargs)
        fake.jobs[job.job_id()] = job
        return job

    monkeypatch.setattr(ibm, "_submit_job", recorded)
    return fake


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every record any logger emits, formatted with its arguments."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def files_hold_token(path: Path) -> list[Path]:
    return [
        f for f in path.rglob("*") if f.is_file() and TOKEN.encode() in f.read_bytes()
    ]


def test_token_appears_nowhere(
    tmp_path: Path,
    service: RecordingService,
    log_lines: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    out = tmp_path / "run"
    codes = {}

    # A successful submission, then status and a fetch of everything.
    codes["submit"] = main(["submit", str(config), "--out", str(out)])
    for job in service.jobs.values():
        job.result()  # let the local jobs finish
    codes["status"] = main(["status", str(out)])
    codes["fetch"] = main(["fetch", str(out)])
    assert codes == {"submit": 0, "status": 0, "fetch": 0}, codes

    # Unknown backend: the service's error message carries the token.
    codes["unknown"] = main(
        ["submit", str(config), "--out", str(tmp_path / "x"), "--backend", "ibm:nope"]
    )
    assert codes["unknown"] == 2

    # Failed and cancelled jobs whose reasons carry the token; results that fail.
    failing = tmp_path / "failing"
    assert main(["submit", str(config), "--out", str(failing)]) == 0
    ids = list(service.jobs)[-2:] if len(service.jobs) > 1 else list(service.jobs)
    for job in service.jobs.values():
        job.result()
    for job_id, state in zip(ids, ("ERROR", "CANCELLED"), strict=False):
        service.broken[job_id] = state
    for command in (["status"], ["fetch"], ["fetch", "--wait"], ["resubmit"]):
        main([command[0], str(failing), *command[1:]])

    # A service that cannot be built: the real factory, with a constructor that fails
    # with the token in its message.
    class Leaky:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError(f"https://auth?apikey={TOKEN} refused")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", Leaky)
        patch.setattr(ibm, "runtime_service", REAL_RUNTIME_SERVICE)
        assert main(["submit", str(config), "--out", str(tmp_path / "y")]) == 2

    printed = capsys.readouterr()
    assert TOKEN not in printed.out and TOKEN not in printed.err
    assert all(TOKEN not in line for line in log_lines)
    home = tmp_path / "home"
    leaks = [f for f in files_hold_token(tmp_path) if home not in f.parents]
    assert leaks == []
    assert files_hold_token(home)  # the planted account is where it should be
    # The failures were real: the fake saw the unknown backend and the broken jobs.
    assert ("backend", ("nope",)) in service.calls
    assert any(name == "job" and args[0] in ids for name, args in service.calls)
