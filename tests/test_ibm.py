"""IBM Quantum submission, status and fetch, in qiskit-ibm-runtime's local testing mode.

The service factory :func:`qcflow.ibm.runtime_service` is replaced by
:class:`FakeService`, which hands out fake backends; jobs are then submitted through
the real ``Batch`` / ``SamplerV2`` code path and run locally. ``QiskitRuntimeService``
itself is replaced by a class that fails the test if anything constructs it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qiskit_ibm_runtime

from qcflow import ibm
from qcflow.cli import main
from qcflow.config import config_from_dict, load_config
from qcflow.devices import fake_backend
from qcflow.results import read_rows

TOKEN = "Zq9xY7wV5uT3sR1pO0nM8lK6jI4hG2fE0dC8bA6zX4vB2nM0qW"
#: The factory under test, kept before any fixture replaces it.
REAL_RUNTIME_SERVICE = ibm.runtime_service


class CountingJob:
    """A local job that counts its downloads."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.downloads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.job, name)

    def result(self) -> Any:
        self.downloads += 1
        return self.job.result()


class FailedJob:
    """What the service returns for a job that the backend failed or cancelled."""

    def __init__(self, job_id: str, status: str, reason: str) -> None:
        self._id, self._status, self._reason = job_id, status, reason

    def job_id(self) -> str:
        return self._id

    def status(self) -> str:
        return self._status

    def error_message(self) -> str:
        return self._reason

    def result(self) -> Any:
        raise RuntimeError(f"job {self._id} has no result")


class FakeService:
    """Fake backends by name; the jobs of every submission, by id (as the real
    service knows every job submitted through it)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []

    def backend(self, name: str) -> Any:
        self.requests.append(("backend", name))
        return fake_backend(name)

    def job(self, job_id: str) -> Any:
        self.requests.append(("job", job_id))
        return self.jobs[job_id]


class NoRealService:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test constructed QiskitRuntimeService")


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeService]:
    fake = FakeService()
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", NoRealService)
    monkeypatch.setattr(ibm, "runtime_service", lambda: fake)
    submit_job = ibm._submit_job

    def recorded(*args: Any, **kwargs: Any) -> Any:
        job = submit_job(*args, **kwargs)
        fake.jobs[job.job_id()] = CountingJob(job)
        return job

    monkeypatch.setattr(ibm, "_submit_job", recorded)
    yield fake
    for job in fake.jobs.values():
        if isinstance(job, CountingJob):
            job.job.result()  # no local job runs on into other tests


def config_data(**run: Any) -> dict[str, Any]:
    return {
        "system": {"n_modes": 1, "energy": 1.0, "hopping": 0.0},
        "state": {
            "beta": 1.0,
            "mu_a": 1.5,
            "mu_b": 0.5,
            "coherence": 0.9,
            "phase_deg": -90.0,
        },
        "exchange": {"coupling": 1.0, "times": [0.0, 0.3], "trotter_dt": 0.1},
        "run": {"shots": 1000, "seed": 3, "bootstrap": 0, "backend": "ibm:fake_manila"}
        | run,
    }


def write_config(path: Path, **run: Any) -> Path:
    lines = []
    for section, table in config_data(**run).items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six tomography circuits a job: the 18 circuits of a run make three jobs."""
    monkeypatch.setattr(ibm, "MAX_JOB_CIRCUITS", 8)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One submission in three jobs, run to the end once for the whole module."""
    path = tmp_path_factory.mktemp("finished") / "run"
    fake = FakeService()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", NoRealService)
        patch.setattr(ibm, "runtime_service", lambda: fake)
        patch.setattr(ibm, "MAX_JOB_CIRCUITS", 8)
        submission = ibm.submit(config_from_dict(config_data()), path)
    for job in submission.jobs.values():
        job.result()
    return path, submission.jobs


@pytest.fixture
def run_dir(
    finished: tuple[Path, dict[str, Any]], service: FakeService, tmp_path: Path
) -> tuple[Path, list[str]]:
    """A fresh copy of the finished submission's directory; its jobs in the service."""
    source, jobs = finished
    path = tmp_path / "run"
    shutil.copytree(source, path)
    service.jobs.update({k: CountingJob(v) for k, v in jobs.items()})
    return path, list(jobs)


# Planning and submission ------------------------------------------------------------


def test_plan_counts_circuits_shots_and_jobs(small_jobs):
    plan = ibm.plan(config_from_dict(config_data()))
    assert (plan.points, plan.bases, plan.circuits_per_job) == (2, 9, 6)
    assert plan.jobs == 3 and plan.circuits == 18 + 6
    assert plan.executions == 24 * 1000
    assert plan.chunks() == [(0, 6), (6, 12), (12, 18)]
    assert "24 circuits in 3 job(s), 1000 shots each" in plan.summary()


def test_plan_refuses_shots_beyond_ibm_limits():
    with pytest.raises(ibm.IBMError, match="shots = 4000000 is too many"):
        ibm.plan(config_from_dict(config_data(shots=4_000_000)))


def test_submit_stores_everything_before_returning(finished):
    path, jobs = finished
    manifest = ibm.read_manifest(path)
    assert manifest["backend"] == "fake_manila" and manifest["shots"] == 1000
    assert [job["jobs"][0]["id"] for job in manifest["jobs"]] == list(jobs)
    assert [(job["start"], job["stop"]) for job in manifest["jobs"]] == [
        (0, 6),
        (6, 12),
        (12, 18),
    ]
    assert len(manifest["points"]) == 2
    for point in manifest["points"]:
        assert len(point["physical_qubits"]) == 2 and point["two_qubit_gates"] > 0
    assert (path / "ibm" / "circuits.qpy").is_file()
    assert load_config(path / "config.toml").run.backend == "ibm:fake_manila"


def test_an_interrupted_submission_submits_only_the_rest(
    service, tmp_path, monkeypatch, small_jobs
):
    real = ibm._submit_job
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(kwargs["tag"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ibm, "_submit_job", flaky)
    config = config_from_dict(config_data())
    with pytest.raises(KeyboardInterrupt):
        ibm.submit(config, tmp_path)
    stored = ibm.read_manifest(tmp_path)
    assert [bool(job["jobs"]) for job in stored["jobs"]] == [1, 1, 0]
    assert ibm.status(tmp_path)[2].status == "NOT SUBMITTED"

    calls.clear()
    monkeypatch.setattr(ibm, "_submit_job", real)
    submission = ibm.submit(config, tmp_path)
    assert len(submission.jobs) == 1
    assert [len(job["jobs"]) for job in submission.manifest["jobs"]] == [1] * 3


# Status and fetch ---------------------------------------------------------------------


def test_fetch_analyses_like_run_and_is_idempotent(run_dir, service):
    path, ids = run_dir
    assert [s.status for s in ibm.status(path)] == ["DONE"] * 3
    report = ibm.fetch(path)
    assert report.downloaded == [0, 1, 2] and not report.failed and not report.pending
    assert (report.points_done, report.points_total) == (2, 2)
    rows = read_rows(path)
    assert [r["time"] for r in rows] == [0.0, 0.3]
    columns = {"two_qubit_gates", "depth", "physical_qubits", "dS_AB", "N_drift"}
    assert columns <= set(rows[0])
    assert rows[1]["flow_exact"] == "anomalous"

    # Point 1, basis 0 is circuit 9: job 1, place 3. Stored raw, little-endian.
    result = service.jobs[ids[1]].job.result()
    with np.load(path / "counts" / "point_0001.npz") as data:
        assert data["counts"][0].sum() == 1000
        for key, value in result[3].data.meas.get_counts().items():
            assert data["counts"][0][int(key, 2)] == value
        assert data["readout"].shape == (2, 2, 2)

    service.requests.clear()
    downloads = {i: service.jobs[i].downloads for i in ids}
    again = ibm.fetch(path)
    assert again.downloaded == [] and again.rows == []
    assert not [r for r in service.requests if r[0] == "job"]
    assert {i: service.jobs[i].downloads for i in ids} == downloads
    assert read_rows(path) == rows
    assert [s.status for s in ibm.status(path)] == ["FETCHED"] * 3


def test_fetch_resumes_after_a_crash_without_downloading_again(run_dir, monkeypatch):
    path, _ = run_dir
    real = ibm._download
    downloads: list[int] = []

    def crash_on_third(path: Path, j: int, *args: Any) -> None:
        if len(downloads) == 2:
            raise KeyboardInterrupt
        downloads.append(j)
        real(path, j, *args)

    monkeypatch.setattr(ibm, "_download", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        ibm.fetch(path)
    assert sorted(p.name for p in (path / "ibm" / "results").iterdir()) == [
        "job_0000.npz",
        "job_0001.npz",
    ]
    monkeypatch.setattr(ibm, "_download", real)
    report = ibm.fetch(path)
    assert downloads == [0, 1] and report.downloaded == [2]
    assert report.points_done == 2 and len(report.rows) == 2


def test_points_are_analysed_as_soon_as_their_jobs_are_stored(run_dir, service):
    path, ids = run_dir
    service.jobs[ids[2]] = FailedJob(ids[2], "QUEUED", "")
    report = ibm.fetch(path)
    # Jobs 0 and 1 hold the 9 circuits of point 0 and 3 of point 1.
    assert report.downloaded == [0, 1] and len(report.pending) == 1
    assert report.points_done == 1
    assert [s.status for s in ibm.status(path)] == ["FETCHED"] * 2 + ["QUEUED"]


def test_failed_jobs_are_reported_and_resubmitted_alone(run_dir, service, capsys):
    path, ids = run_dir
    reason = "Error 8041: the qubit calibration changed during the job"
    service.jobs[ids[1]] = FailedJob(ids[1], "ERROR", reason)

    assert main(["fetch", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"job 1 {ids[1]} ERROR: {reason}" in out
    assert f"qcflow resubmit {path} {ids[1]}" in out
    assert main(["status", str(path)]) == 0
    assert f"{ids[1]} ERROR: {reason}" in capsys.readouterr().out

    again = ibm.resubmit(path)
    assert len(again.jobs) == 1
    jobs = again.manifest["jobs"]
    assert [len(job["jobs"]) for job in jobs] == [1, 2, 1]
    assert jobs[1]["jobs"][0]["id"] == ids[1]

    assert main(["fetch", str(path), "--wait", "--quiet"]) == 0
    assert "2 of 2 points analysed" in capsys.readouterr().out


def test_resubmit_refuses_unknown_or_fetched_jobs(run_dir):
    path, ids = run_dir
    with pytest.raises(ibm.IBMError, match="'nope' is not the latest submission"):
        ibm.resubmit(path, ["nope"])
    ibm.fetch(path)
    with pytest.raises(ibm.IBMError, match="already fetched"):
        ibm.resubmit(path, ids[:1])
    assert ibm.resubmit(path).jobs == {}


def test_cancelled_jobs_are_failures_too(run_dir, service):
    path, ids = run_dir
    service.jobs[ids[0]] = FailedJob(ids[0], "CANCELLED", "")
    report = ibm.fetch(path)
    assert [(s.job_id, s.status) for s in report.failed] == [(ids[0], "CANCELLED")]
    assert report.failed[0].reason == "no reason given by the backend"
    assert report.points_done == 0  # point 0 needs job 0; point 1 needs point 0


# The command line ---------------------------------------------------------------------


def test_cli_submit_prints_the_cost_first(service, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml")
    out = tmp_path / "run"
    assert main(["submit", str(config), "--out", str(out), "--dry-run"]) == 0
    assert "20 circuits in 1 job(s), 1000 shots each: 20,000 executions" in (
        capsys.readouterr().out
    )
    assert not out.exists()
    assert main(["submit", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.index("executions") < printed.index("job 0:")
    assert f"qcflow fetch {out}" in printed


def test_cli_run_on_ibm_submits_waits_and_fetches(service, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", backend="aer")
    out = tmp_path / "run"
    code = main(["run", str(config), "--backend", "ibm:fake_manila", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 of 2 points analysed" in printed and "noise: max |dS_AB|" in printed


def test_cli_submit_needs_an_ibm_backend(service, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", backend="fake_manila")
    assert main(["submit", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "allowed: ibm:<backend>" in capsys.readouterr().err


def test_cli_status_of_a_directory_without_submission(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds no IBM submission" in err and err.count("\n") == 1
    assert main(["fetch", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1


# Credentials ----------------------------------------------------------------------


class RaisingService:
    """Stands in for QiskitRuntimeService; fails as the real one can."""

    error: Exception = RuntimeError("")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise self.error


def test_without_an_account_the_error_says_how_to_save_one(
    monkeypatch, tmp_path, capsys
):
    from qiskit_ibm_runtime.accounts import AccountNotFoundError

    RaisingService.error = AccountNotFoundError("Unable to find account.")
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", RaisingService)
    config = write_config(tmp_path / "c.toml")
    assert main(["submit", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "no IBM Quantum account found" in err and "save_account" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()  # nothing half-made left behind


def test_the_token_never_appears_in_errors(monkeypatch, capsys, run_dir, service):
    path, _ = run_dir
    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)

    def leaky_job(job_id: str) -> Any:
        raise ConnectionError(f"401 for url https://x/api?apikey={TOKEN}: bad {TOKEN}")

    monkeypatch.setattr(service, "job", leaky_job)
    assert main(["status", str(path)]) == 2
    err = capsys.readouterr().err
    assert "ConnectionError" in err and "<redacted>" in err
    assert TOKEN not in err

    RaisingService.error = ValueError(f"invalid token {TOKEN}")
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", RaisingService)
    monkeypatch.setattr(ibm, "runtime_service", REAL_RUNTIME_SERVICE)
    with pytest.raises(ibm.IBMError) as info:
        ibm.runtime_service()
    assert TOKEN not in str(info.value) and "ValueError" in str(info.value)
    for file in path.rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes()


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"token {TOKEN} refused", "token <redacted> refused"),
        ("job d1abc2def3 failed\non line two", "job d1abc2def3 failed on line two"),
    ],
)
def test_redact(text, expected):
    assert ibm.redact(text) == expected
