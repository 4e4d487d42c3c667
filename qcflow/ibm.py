"""IBM Quantum: submit a sweep as durable jobs, follow them, fetch and analyse counts.

All access to IBM goes through :func:`runtime_service`, the one function that builds a
``QiskitRuntimeService`` (from the saved account or the ``QISKIT_IBM_*`` environment);
tests replace it with a service of fake backends, whose jobs then run in
qiskit-ibm-runtime's local testing mode through the very same code. Circuits run
through the client-side ``SamplerV2`` of ``qiskit_ibm_runtime.executor_sampler`` in
batch mode, without twirling or dynamical decoupling, so the device runs exactly the
stored circuits.

The job store lives in the run directory, beside ``config.toml``, ``counts/``,
``points/`` and the result tables:

- ``ibm/jobs.json``: backend, shots, every point's measured physical qubits,
  two-qubit gate count and depth, and the jobs: job ``j`` holds the flat tomography
  circuits ``start .. stop-1`` (circuit ``i`` is basis ``i % 3^n`` of point
  ``i // 3^n``) and then the two readout-calibration circuits of ``readout_qubits``;
  every submission of a job is recorded with its id. Rewritten atomically after each.
- ``ibm/circuits.qpy``: the compiled prepare-and-evolve circuit of every point; the
  measurement and calibration circuits are rebuilt from it deterministically, so a
  resubmitted job runs the same circuits on the same qubits.
- ``ibm/results/job_NNNN.npz``: the raw counts and readout calibration of one finished
  job, written atomically once; a later fetch never downloads it again.

Error messages never carry credentials: text from qiskit-ibm-runtime passes through
:func:`redact`, and connection failures are reported by exception class only.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qcflow.backends import counts_array
from qcflow.config import Config, load_config
from qcflow.devices import (
    IBM_PREFIX,
    Compiled,
    DeviceCompiler,
    device_row,
    layout_circuit,
    require_runtime,
)
from qcflow.experiment import (
    Experiment,
    Point,
    PointResult,
    full_circuit,
    sweep_points,
)
from qcflow.mitigation import readout_table
from qcflow.results import RunDirectory, atomic_write_bytes, atomic_write_text

logger = logging.getLogger(__name__)

#: IBM's limit on circuits x shots of one Sampler job, and the share of it qcflow uses.
IBM_EXECUTION_LIMIT = 10_000_000
MAX_JOB_EXECUTIONS = 5_000_000
#: At most this many circuits in one job, so a failed job loses little.
MAX_JOB_CIRCUITS = 1_000
FINAL_STATES = ("DONE", "ERROR", "CANCELLED")
NO_ACCOUNT = (
    'no IBM Quantum account found; save one once with: python -c "from '
    "qiskit_ibm_runtime import QiskitRuntimeService as S; S.save_account("
    "token='<API key>', instance='<CRN>')\" (or set QISKIT_IBM_TOKEN and "
    "QISKIT_IBM_INSTANCE)"
)
_SECRET_LIKE = re.compile(r"[A-Za-z0-9_\-]{24,}")


class IBMError(ValueError):
    """An IBM Quantum request failed, or a run directory holds no usable submission."""


def redact(text: str, *, limit: int = 300) -> str:
    """``text`` on one line with every run of 24+ key characters (API keys, bearer
    tokens) replaced by ``<redacted>``, cut to ``limit`` characters."""
    one_line = " ".join(str(text).split())
    return _SECRET_LIKE.sub("<redacted>", one_line)[:limit]


@contextmanager
def _ibm(action: str) -> Iterator[None]:
    """Re-raise any failure of qiskit-ibm-runtime as an :class:`IBMError`."""
    try:
        yield
    except IBMError:
        raise
    except Exception as exc:
        raise IBMError(
            f"{action} failed: {type(exc).__name__}: {redact(str(exc))}"
        ) from None


def runtime_service() -> Any:
    """The ``QiskitRuntimeService`` of the saved account or the environment.

    Raises:
        IBMError: without an account (the message says how to save one), or when the
            service cannot be reached.
    """
    runtime = require_runtime()
    from qiskit_ibm_runtime.accounts import AccountNotFoundError

    try:
        return runtime.QiskitRuntimeService()
    except AccountNotFoundError:
        raise IBMError(NO_ACCOUNT) from None
    except Exception as exc:
        raise IBMError(
            f"cannot connect to IBM Quantum ({type(exc).__name__}); check the saved "
            "account and the network"
        ) from None


def device_name(config: Config) -> str:
    """The IBM backend name of ``[run] backend = "ibm:<name>"``."""
    if not config.run.backend.startswith(IBM_PREFIX):
        raise IBMError(
            f"[run] backend = {config.run.backend!r} is not an IBM backend; "
            "allowed: ibm:<backend> (e.g. --backend ibm:ibm_torino)"
        )
    return config.run.backend[len(IBM_PREFIX) :]


# Planning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a configuration costs on a device: circuits, shots and jobs."""

    points: int
    bases: int
    circuits_per_job: int
    shots: int

    @property
    def data_circuits(self) -> int:
        return self.points * self.bases

    @property
    def jobs(self) -> int:
        return -(-self.data_circuits // self.circuits_per_job)

    @property
    def circuits(self) -> int:
        """Tomography circuits plus two readout-calibration circuits per job."""
        return self.data_circuits + 2 * self.jobs

    @property
    def executions(self) -> int:
        return self.circuits * self.shots

    def chunks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` of the tomography circuits of each job."""
        size = self.circuits_per_job
        return [
            (s, min(s + size, self.data_circuits))
            for s in range(0, self.data_circuits, size)
        ]

    def summary(self) -> str:
        return (
            f"{self.points} points x {self.bases} bases + 2 readout calibrations per "
            f"job = {self.circuits} circuits in {self.jobs} job(s), {self.shots} "
            f"shots each: {self.executions:,} executions"
        )


def plan(config: Config) -> Plan:
    """The circuits, shots and jobs of ``config`` on a device.

    Raises:
        IBMError: if even one tomography circuit and its calibrations exceed IBM's
            execution limit per job.
    """
    shots = config.run.shots
    per_job = min(MAX_JOB_CIRCUITS, MAX_JOB_EXECUTIONS // shots) - 2
    if per_job < 1:
        per_job = 1
        if 3 * shots > IBM_EXECUTION_LIMIT:
            raise IBMError(
                f"[run] shots = {shots} is too many for one IBM job; allowed: at most "
                f"{IBM_EXECUTION_LIMIT // 3}"
            )
    n_bases = 3**config.model.n_qubits
    return Plan(len(sweep_points(config)), n_bases, per_job, shots)


# The job store ------------------------------------------------------------------------


def _store(path: Path) -> Path:
    return path / "ibm"


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The job store's ``ibm/jobs.json``.

    Raises:
        IBMError: if the directory holds no IBM submission.
    """
    if not Path(path).is_dir():
        raise IBMError(f"run directory {str(path)!r} does not exist")
    file = _store(Path(path)) / "jobs.json"
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IBMError(
            f"{str(path)!r} holds no IBM submission (no readable ibm/jobs.json); "
            "create one with qcflow submit"
        ) from exc


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(_store(path) / "jobs.json", json.dumps(manifest, indent=1) + "\n")


def _result_file(path: Path, job: int) -> Path:
    return _store(path) / "results" / f"job_{job:04d}.npz"


def _compiled_points(path: Path, manifest: dict[str, Any]) -> list[Compiled]:
    from qiskit import qpy

    with open(_store(path) / "circuits.qpy", "rb") as handle:
        circuits = qpy.load(handle)
    return [
        Compiled(c, tuple(p["physical_qubits"]), p["two_qubit_gates"], p["depth"])
        for c, p in zip(circuits, manifest["points"], strict=True)
    ]


def _job_circuits(
    compiler: DeviceCompiler, points: list[Compiled], chunk: dict[str, Any]
) -> list[Any]:
    """Tomography circuits ``start .. stop-1``, then the two calibration circuits."""
    n_bases = 3 ** len(points[0].physical_qubits)
    start, stop = chunk["start"], chunk["stop"]
    out: list[Any] = []
    for index in range(start // n_bases, (stop - 1) // n_bases + 1):
        circuits = compiler.tomography_circuits(points[index])
        first = index * n_bases
        out += circuits[max(start - first, 0) : min(stop - first, n_bases)]
    return out + compiler.calibration_circuits(chunk["readout_qubits"])


@contextmanager
def _batch_sampler(backend: Any, *, shots: int) -> Iterator[Any]:
    """A ``SamplerV2`` in a batch on ``backend``, closed (to new jobs) on exit."""
    runtime = require_runtime()
    from qiskit_ibm_runtime.executor_sampler import SamplerV2

    with _ibm(f"opening a batch on {backend.name}"):
        batch = runtime.Batch(backend=backend)
        sampler = SamplerV2(mode=batch)
        sampler.options.default_shots = shots
        sampler.options.twirling.enable_gates = False
        sampler.options.twirling.enable_measure = False
    try:
        yield sampler
    finally:
        with _ibm(f"closing the batch on {backend.name}"):
            batch.close()  # submitted jobs still run to the end


def _submit_job(sampler: Any, circuits: list[Any], *, seed: int, tag: str) -> Any:
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    backend = sampler.backend()
    with _ibm(f"submitting {tag} to {backend.name}"):
        sampler.options.environment.job_tags = ["qcflow", tag]
        if isinstance(backend, FakeBackendV2):
            sampler.options.simulator.seed_simulator = seed
        job = sampler.run(circuits)
        job_id = job.job_id()
    logger.info("submitted %s to %s: job %s", tag, backend.name, job_id)
    return job


@dataclass(frozen=True)
class Submission:
    """The job store after a submission, and the jobs submitted by it.

    Attributes:
        manifest: the content of ``ibm/jobs.json``.
        jobs: the new job handles by job id (in submission order).
    """

    manifest: dict[str, Any]
    jobs: dict[str, Any]


def _submit_jobs(
    path: Path,
    manifest: dict[str, Any],
    compiler: DeviceCompiler,
    chosen: list[int],
    *,
    seed: int,
) -> Submission:
    """Submit the jobs ``chosen`` of the store in one batch, recording each id as soon
    as it exists. A job's ``n``-th submission gets its own simulator seed (used in
    local mode only).
    """
    points = _compiled_points(path, manifest)
    jobs: dict[str, Any] = {}
    if not chosen:
        return Submission(manifest, jobs)
    with _batch_sampler(compiler.backend, shots=manifest["shots"]) as sampler:
        for j in chosen:
            chunk = manifest["jobs"][j]
            job = _submit_job(
                sampler,
                _job_circuits(compiler, points, chunk),
                seed=seed + j + 7919 * len(chunk["jobs"]),
                tag=f"job_{j:04d}",
            )
            chunk["jobs"].append({"id": job.job_id(), "submitted": _now()})
            _write_manifest(path, manifest)
            jobs[job.job_id()] = job
    return Submission(manifest, jobs)


def _backend(service: Any, name: str) -> Any:
    with _ibm(f"looking up backend {name!r}"):
        return service.backend(name)


def submit(config: Config, path: str | Path, *, overwrite: bool = False) -> Submission:
    """Compile ``config`` for its ``ibm:`` backend, submit it and store the job ids.

    Everything the analysis needs is written to ``path`` before a job is submitted,
    and each job id right after its submission. Submitting again into the same
    directory submits only the jobs that have no id yet (after a crash or an
    interruption); it never submits a job twice.

    Raises:
        IBMError: without an account, for an unknown backend, or a failed request.
        RunDirectoryError: if ``path`` holds a run of another configuration.
    """
    path = Path(path)
    name = device_name(config)
    schedule = plan(config)
    # Account and backend first: a failure there leaves no half-made directory.
    backend = _backend(runtime_service(), name)
    RunDirectory(path, config, overwrite=overwrite)  # checks, creates, clears
    manifest_file = _store(path) / "jobs.json"
    if overwrite or not manifest_file.exists():
        for stale in _store(path).glob("results/job_*.npz"):
            stale.unlink()
        manifest = None
    else:
        manifest = read_manifest(path)
    compiler = DeviceCompiler(
        backend,
        optimization_level=config.run.optimization_level,
        seed=config.run.seed,
        layout_circuit=layout_circuit(config),
    )

    if manifest is None:
        from qiskit import qpy

        n_system = config.model.n_qubits
        points = [
            compiler.compile(full_circuit(config, p.correlation, p.time), n_system)
            for p in sweep_points(config)
        ]
        chunks = []
        for start, stop in schedule.chunks():
            qubits = {
                q
                for i in range(
                    start // schedule.bases, (stop - 1) // schedule.bases + 1
                )
                for q in points[i].physical_qubits
            }
            chunks.append(
                {
                    "start": start,
                    "stop": stop,
                    "readout_qubits": sorted(qubits),
                    "jobs": [],
                }
            )
        manifest = {
            "format": 1,
            "backend": name,
            "shots": config.run.shots,
            "points": [
                {
                    "physical_qubits": list(c.physical_qubits),
                    "two_qubit_gates": c.two_qubit_gates,
                    "depth": c.depth,
                }
                for c in points
            ],
            "jobs": chunks,
        }
        buffer = io.BytesIO()
        qpy.dump([c.circuit for c in points], buffer)
        (_store(path) / "results").mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(_store(path) / "circuits.qpy", buffer.getvalue())
        _write_manifest(path, manifest)

    missing = [j for j, chunk in enumerate(manifest["jobs"]) if not chunk["jobs"]]
    return _submit_jobs(path, manifest, compiler, missing, seed=config.run.seed)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# Status, fetch and resubmission -------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    """The state of one job of the store: its latest submission's id and status."""

    job: int
    job_id: str
    status: str
    reason: str = ""


def _status(job: Any) -> str:
    status = job.status()
    return str(getattr(status, "name", status)).upper()


def _reason(job: Any) -> str:
    with _ibm("reading the job's error message"):
        message = job.error_message() if hasattr(job, "error_message") else None
    return redact(message) if message else "no reason given by the backend"


def _job_state(service: Any, j: int, job_id: str) -> tuple[JobState, Any]:
    with _ibm(f"reading job {job_id}"):
        job = service.job(job_id)
        status = _status(job)
    reason = _reason(job) if status in ("ERROR", "CANCELLED") else ""
    return JobState(j, job_id, status, reason), job


def status(path: str | Path) -> list[JobState]:
    """The state of every job of the store; fetched jobs are not asked for again."""
    path = Path(path)
    manifest = read_manifest(path)
    service = None
    out = []
    for j, chunk in enumerate(manifest["jobs"]):
        if not chunk["jobs"]:
            out.append(JobState(j, "", "NOT SUBMITTED"))
            continue
        job_id = chunk["jobs"][-1]["id"]
        if _result_file(path, j).exists():
            out.append(JobState(j, job_id, "FETCHED"))
            continue
        service = service or runtime_service()
        out.append(_job_state(service, j, job_id)[0])
    return out


def _wait(job: Any) -> None:
    """Block until ``job`` is in a final state."""
    try:
        if hasattr(job, "wait_for_final_state"):
            job.wait_for_final_state()
        else:  # a local job: its result() blocks
            job.result()
    except Exception:  # a failed job raises here; its status says why
        logger.info("job %s ended without a result", job.job_id())


def _download(path: Path, j: int, chunk: dict[str, Any], job: Any, n: int) -> None:
    with _ibm(f"downloading job {chunk['jobs'][-1]['id']}"):
        result = job.result()
        counts = [result[i].data.meas.get_counts() for i in range(len(result))]
    data = counts_array(counts[:-2], n)
    readout = readout_table(counts[-2], counts[-1], len(chunk["readout_qubits"]))
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, counts=data, readout=readout, job_id=chunk["jobs"][-1]["id"]
    )
    atomic_write_bytes(_result_file(path, j), buffer.getvalue())


@dataclass
class FetchReport:
    """What one fetch did: new result rows, jobs still pending and failed jobs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    downloaded: list[int] = field(default_factory=list)
    pending: list[JobState] = field(default_factory=list)
    failed: list[JobState] = field(default_factory=list)
    points_done: int = 0
    points_total: int = 0


def fetch(path: str | Path, *, wait: bool = False) -> FetchReport:
    """Download finished jobs, store their raw counts, and analyse every point whose
    counts (and whose setting's ``t = 0`` reference) are complete.

    Idempotent and resumable: a job whose ``ibm/results`` file exists is never
    downloaded again, and a point already in ``points/`` is not analysed again.

    Args:
        path: the run directory of ``qcflow submit``.
        wait: block until every submitted job has finished (``qcflow run`` on IBM).
    """
    path = Path(path)
    manifest = read_manifest(path)
    config = load_config(path / "config.toml")
    n_system = config.model.n_qubits
    report = FetchReport()
    service = None
    for j, chunk in enumerate(manifest["jobs"]):
        if _result_file(path, j).exists() or not chunk["jobs"]:
            continue
        service = service or runtime_service()
        state, job = _job_state(service, j, chunk["jobs"][-1]["id"])
        if wait and state.status not in FINAL_STATES:
            _wait(job)
            state, job = _job_state(service, j, state.job_id)
        if state.status == "DONE":
            _download(path, j, chunk, job, n_system)
            report.downloaded.append(j)
        elif state.status in ("ERROR", "CANCELLED"):
            report.failed.append(state)
        else:
            report.pending.append(state)
    for result in analyse(path, config, manifest):
        report.rows.append(result.row)
    report.points_total = len(manifest["points"])
    report.points_done = len(RunDirectory(path, config).finished())
    return report


def _available(path: Path, manifest: dict[str, Any], n_bases: int) -> dict[int, Any]:
    """Counts ``(3^n, 2^n)`` and readout table of every point whose jobs are stored."""
    parts: dict[int, list[tuple[int, np.ndarray]]] = {}
    tables: dict[int, dict[int, np.ndarray]] = {}
    for j, chunk in enumerate(manifest["jobs"]):
        file = _result_file(path, j)
        if not file.exists():
            continue
        with np.load(file) as data:
            counts, readout = data["counts"], data["readout"]
        table = dict(zip(chunk["readout_qubits"], readout, strict=True))
        for offset, flat in enumerate(range(chunk["start"], chunk["stop"])):
            index = flat // n_bases
            parts.setdefault(index, []).append((flat % n_bases, counts[offset]))
            tables.setdefault(index, {})[j] = np.stack(
                [table[q] for q in manifest["points"][index]["physical_qubits"]]
            )
    out = {}
    for index, rows in parts.items():
        if len(rows) == n_bases:
            counts = np.stack([c for _, c in sorted(rows, key=lambda r: r[0])])
            out[index] = (counts, sum(tables[index].values()))
    return out


def analyse(
    path: Path, config: Config, manifest: dict[str, Any]
) -> Iterator[PointResult]:
    """Evaluate and store every downloaded point not analysed yet, as ``qcflow run``
    does; yields the new results in sweep order."""
    directory = RunDirectory(path, config)
    done = directory.finished()
    available = _available(path, manifest, 3**config.model.n_qubits)

    class Downloaded(Experiment):
        def measure(self, point: Point) -> np.ndarray:
            return available[point.index][0]

    experiment = Downloaded(config)
    experiment.readout.update(directory.readouts)
    for index, (_, table) in available.items():
        experiment.readout.setdefault(index, table)
        experiment.device_rows[index] = device_row(**manifest["points"][index])
    ready = done.keys() | available.keys()
    experiment.points = [
        p
        for p in experiment.points
        if p.index in ready and p.index - p.time_index in ready
    ]
    for result in experiment.run(done):
        directory.save(result)
        yield result


def resubmit(path: str | Path, job_ids: list[str] | None = None) -> Submission:
    """Submit failed or cancelled jobs again, alone, with the same circuits.

    Args:
        path: the run directory.
        job_ids: ids of the jobs to resubmit (their latest submission); default every
            job whose latest submission ended in ERROR or CANCELLED.

    Returns:
        The store and the new submissions (none if no job needed one).

    Raises:
        IBMError: if a given id is not the latest submission of a job of the store, or
            that job is fetched, or a request fails.
    """
    path = Path(path)
    manifest = read_manifest(path)
    config = load_config(path / "config.toml")
    service = runtime_service()
    latest = {
        c["jobs"][-1]["id"]: j for j, c in enumerate(manifest["jobs"]) if c["jobs"]
    }
    if job_ids:
        unknown = [i for i in job_ids if i not in latest]
        if unknown:
            raise IBMError(
                f"job {unknown[0]!r} is not the latest submission of any job in "
                f"{str(path)!r}; allowed: {', '.join(latest) or 'none'}"
            )
        chosen = [latest[i] for i in job_ids]
        for j in chosen:
            if _result_file(path, j).exists():
                raise IBMError(
                    f"job {manifest['jobs'][j]['jobs'][-1]['id']!r} is already fetched"
                )
    else:
        chosen = [
            j
            for job_id, j in latest.items()
            if not _result_file(path, j).exists()
            and _job_state(service, j, job_id)[0].status in ("ERROR", "CANCELLED")
        ]
    if not chosen:
        return Submission(manifest, {})
    backend = _backend(service, manifest["backend"])
    compiler = DeviceCompiler(
        backend, optimization_level=config.run.optimization_level, seed=config.run.seed
    )
    return _submit_jobs(path, manifest, compiler, chosen, seed=config.run.seed)
