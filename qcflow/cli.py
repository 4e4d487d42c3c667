"""Command-line interface: ``qcflow run CONFIG [--out DIR] ...``.

Devices: ``qcflow run CONFIG --backend fake_<device>`` simulates a device snapshot;
``qcflow submit CONFIG --backend ibm:<backend> --out DIR`` submits to IBM Quantum and
returns, ``qcflow status DIR`` and ``qcflow fetch DIR`` follow and collect the jobs,
``qcflow resubmit DIR`` submits failed jobs again; ``qcflow export CONFIG`` writes the
reference circuits as OpenQASM 3. ``qcflow plot RUN_DIR`` draws a run's figures
(matplotlib, the ``plot`` extra). ``run`` shows a progress bar on standard error when
it is a terminal and ``--quiet`` is not given.

Exit status: 0 on success, 1 when a fetched job failed or was cancelled, 2 on a bad
configuration, output directory or IBM request (one line on standard error, no
traceback), 130 when interrupted (finished points are kept).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from qcflow import __version__

EXIT_FAILED_JOBS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fmt(value: float, width: int = 7) -> str:
    if not math.isfinite(value):
        return f"{'inf' if value > 0 else '-inf':>{width}}"
    return f"{value:>{width}.3f}"


class Table:
    """A compact table, one block per correlation setting, at most 60 columns wide."""

    HEADER = (
        f"{'time':>5} {'dN_A':>7} {'exact':>7} {'dI_AB':>7} {'exact':>7} "
        f"{'bound':>7}  flow"
    )

    def __init__(self, stream: TextIO) -> None:
        self.stream: TextIO | None = stream
        self.setting: tuple[float, float, float] | None = None

    def _print(self, line: str) -> None:
        # A closed pipe (``| head``) silences the table; the run itself goes on.
        if self.stream is None:
            return
        try:
            print(line, file=self.stream, flush=True)
        except BrokenPipeError:
            self.stream = None

    def row(self, row: dict[str, Any]) -> None:
        setting = (row["coherence"], row["phase_deg"], row["classical"])
        if setting != self.setting:
            self.setting = setting
            self._print(
                f"\ncoherence {setting[0]:g}, phase {setting[1]:g} deg, "
                f"classical {setting[2]:g}"
            )
            self._print(self.HEADER)
        values = (
            row[k] for k in ("dN_A", "dN_A_exact", "dI_AB", "dI_AB_exact", "bound")
        )
        self._print(
            f"{row['time']:>5.3g} "
            + " ".join(_fmt(v) for v in values)
            + f"  {row['flow']}"
        )


def _path(text: str) -> Path:
    """A command-line path; an empty one is refused rather than read as ``.``."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    from qcflow.config import FITTERS

    parser = argparse.ArgumentParser(
        prog="qcflow",
        description=(
            "Particle flow between two correlated fermionic subsystems on quantum "
            "circuits: prepare, evolve, do state tomography, and test "
            "-beta (mu_a - mu_b) dN_A >= dI_AB."
        ),
    )
    parser.add_argument("--version", action="version", version=f"qcflow {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run a configuration on Aer, a fake device or IBM Quantum",
        description=(
            "Run every (correlation, time) point of CONFIG, print a table and write "
            "results.csv, results.json, config.toml and raw counts to the output "
            "directory. Rerunning into the same directory resumes it."
        ),
    )
    run.add_argument("config", type=_path, help="TOML configuration file")
    run.add_argument(
        "--out",
        type=_path,
        help="output directory (default: runs/<config file name without .toml>)",
    )
    run.add_argument("--shots", type=int, help="shots per basis, overrides [run] shots")
    run.add_argument("--seed", type=int, help="random seed, overrides [run] seed")
    run.add_argument(
        "--method",
        choices=("state", "circuits"),
        help=(
            "'state': sample counts from the circuits' exact state (fast, ideal only); "
            "'circuits': simulate the measurement circuits; overrides [run] method"
        ),
    )
    run.add_argument(
        "--fitter",
        choices=FITTERS,
        help="state fitter, overrides [run] fitter",
    )
    run.add_argument(
        "--bootstrap",
        type=int,
        metavar="N",
        help="bootstrap resamples for error bars (0: none), overrides [run] bootstrap",
    )
    _device_options(run)
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output directory that holds a different configuration",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="print only errors and the final summary (no table, no progress bar)",
    )
    plot = commands.add_parser(
        "plot",
        help="draw the figures of a run directory (needs matplotlib)",
        description=(
            "Write flow (dN_A and dI_AB against time), margin (bound - dI_AB) and, for "
            "a phase sweep, phase (dN_A against arg(alpha)) as PNG and PDF."
        ),
    )
    plot.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="a run directory")
    plot.add_argument(
        "--out", type=_path, help="where to write (default: RUN_DIR/figures)"
    )
    plot.add_argument(
        "--time",
        type=float,
        help="time of the phase figure (default: the first measured t > 0)",
    )
    plot.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=("png", "pdf"),
        help="file format; repeat for both (default: png and pdf)",
    )
    _device_commands(commands)
    return parser


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        metavar="NAME",
        help=(
            "aer (ideal, default), fake_<device> (noisy simulator of a device "
            "snapshot, e.g. fake_torino) or ibm:<backend> (IBM Quantum, e.g. "
            "ibm:ibm_torino); overrides [run] backend"
        ),
    )
    parser.add_argument(
        "--optimization-level",
        type=int,
        metavar="N",
        help="transpiler level 0..3 for device backends, overrides [run] (default 3)",
    )
    parser.add_argument(
        "--no-readout-mitigation",
        action="store_true",
        help="fit the raw device counts (the readout calibration is still stored)",
    )


def _device_commands(commands: Any) -> None:
    submit = commands.add_parser(
        "submit",
        help="submit a configuration to IBM Quantum and return",
        description=(
            "Compile CONFIG for an ibm:<backend>, print the circuits and shots it "
            "will use, submit it as jobs of one batch and store the job ids and "
            "everything needed to analyse later in the output directory. "
            "Submitting again into the same directory submits only what is missing."
        ),
    )
    submit.add_argument("config", type=_path, help="TOML configuration file")
    submit.add_argument(
        "--out",
        type=_path,
        help="run directory (default: runs/<config file name without .toml>)",
    )
    submit.add_argument("--shots", type=int, help="shots per basis, overrides [run]")
    submit.add_argument("--seed", type=int, help="transpiler seed, overrides [run]")
    _device_options(submit)
    submit.add_argument(
        "--dry-run",
        action="store_true",
        help="print the circuits and shots only; submit nothing, write nothing",
    )
    submit.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run directory that holds a different configuration",
    )
    for name, text in (
        ("status", "show the state of every job of a submitted run directory"),
        ("fetch", "download finished jobs and analyse them as qcflow run does"),
        ("resubmit", "submit failed or cancelled jobs again, alone"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("run_dir", type=_path, metavar="RUN_DIR")
        if name == "fetch":
            command.add_argument(
                "--wait", action="store_true", help="wait until every job has finished"
            )
            command.add_argument(
                "--quiet", action="store_true", help="print only the summary"
            )
        if name == "resubmit":
            command.add_argument(
                "job_ids",
                nargs="*",
                metavar="JOB_ID",
                help="jobs to resubmit (default: every failed or cancelled job)",
            )
    export = commands.add_parser(
        "export",
        help="write the reference circuits as OpenQASM 3",
        description=(
            "Write the preparation, one evolution (first time > 0) and one "
            "tomography basis of CONFIG as OpenQASM 3, with a README.md."
        ),
    )
    export.add_argument("config", type=_path, help="TOML configuration file")
    export.add_argument(
        "--out", type=_path, default=Path("circuits"), help="folder (default: circuits)"
    )


def _device_overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.backend is not None:
        out["backend"] = args.backend
    if args.optimization_level is not None:
        out["optimization_level"] = args.optimization_level
    if args.no_readout_mitigation:
        out["readout_mitigation"] = False
    return out


def _noise_line(rows: list[dict[str, Any]]) -> str:
    """How far the device broke the assumptions: both are 0 for an exact run."""
    d_s = max(abs(r["dS_AB"]) for r in rows)
    drift = max(abs(r["N_drift"]) for r in rows)
    return f"noise: max |dS_AB| = {d_s:.4f}, max |N_drift| = {drift:.4f} (exact: 0)"


def _device_line(rows: list[dict[str, Any]]) -> str:
    """The compiled circuits of a device run: qubits, two-qubit gates and depth."""
    gates = [r["two_qubit_gates"] for r in rows]
    depth = [r["depth"] for r in rows]
    qubits = sorted({r["physical_qubits"] for r in rows})
    return (
        f"device: physical qubits {' / '.join(qubits)}; prepare + evolve "
        f"{min(gates)}..{max(gates)} two-qubit gates, depth {min(depth)}..{max(depth)}"
    )


def _run(args: argparse.Namespace) -> int:
    from qcflow.config import ConfigError, load_config
    from qcflow.experiment import Experiment
    from qcflow.progress import Progress
    from qcflow.results import RunDirectory

    config = load_config(args.config)
    overrides = {
        key: value
        for key, value in (
            ("shots", args.shots),
            ("seed", args.seed),
            ("method", args.method),
            ("fitter", args.fitter),
            ("bootstrap", args.bootstrap),
        )
        if value is not None
    }
    overrides.update(_device_overrides(args))
    if overrides:
        config = config.with_run(**overrides)
    if args.method == "state" and config.run.backend != "aer":
        raise ConfigError(
            f"--method state samples the ideal state; backend {config.run.backend!r} "
            "runs circuits (leave out --method)"
        )
    out = args.out or Path("runs") / args.config.stem
    if config.run.backend.startswith("ibm:"):
        return _run_ibm(config, out, args)
    directory = RunDirectory(out, config, overwrite=args.overwrite)
    experiment = Experiment(config)
    done = directory.finished()
    experiment.readout.update(directory.readouts)
    table = Table(sys.stdout)
    if done and not args.quiet:
        print(f"resuming {out}: {len(done)} of {len(experiment.points)} points done")
        for row in directory.ordered_rows():  # the whole table, not just the rest
            table.row(row)
    progress = Progress(
        len(experiment.points), sys.stderr, done=len(done), enabled=not args.quiet
    )
    try:
        progress.draw(force=True)
        for result in experiment.run(done):
            directory.save(result)
            if not args.quiet:
                progress.clear()
                table.row(result.row)
            progress.update()
        progress.close()
    except KeyboardInterrupt:
        progress.clear()
        if directory.rows:
            directory.write_tables()  # the interrupt may have come between two writes
        print(
            f"\ninterrupted: {len(directory.rows)} of {len(experiment.points)} points "
            f"are saved in {out}; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    directory.write_tables()  # also mends tables damaged after the last point
    rows = directory.ordered_rows()
    worst = max(abs(r["dN_A"] - r["dN_A_exact"]) for r in rows)
    print(("" if args.quiet else "\n") + f"{len(rows)} points written to {out}")
    print(f"max |dN_A - dN_A_exact| = {worst:.4f}")
    if config.run.backend != "aer":
        print(_device_line(rows))
        print(_noise_line(rows))
    return 0


def _load_with_overrides(args: argparse.Namespace) -> Any:
    from qcflow.config import load_config

    config = load_config(args.config)
    overrides = {
        key: value
        for key, value in (("shots", args.shots), ("seed", args.seed))
        if value is not None
    }
    overrides.update(_device_overrides(args))
    return config.with_run(**overrides) if overrides else config


def _submit(args: argparse.Namespace) -> int:
    from qcflow import ibm

    config = _load_with_overrides(args)
    ibm.device_name(config)
    print(f"{config.run.backend}: {ibm.plan(config).summary()}")
    if args.dry_run:
        return 0
    out = args.out or Path("runs") / args.config.stem
    manifest = ibm.submit(config, out, overwrite=args.overwrite).manifest
    for j, job in enumerate(manifest["jobs"]):
        print(f"job {j}: {job['jobs'][-1]['id']}")
    print(
        f"job ids stored in {out}; follow with: qcflow status {out}; collect with: "
        f"qcflow fetch {out}"
    )
    return 0


def _run_ibm(config: Any, out: Path, args: argparse.Namespace) -> int:
    """``qcflow run`` on IBM: submit, wait for every job, fetch."""
    from qcflow import ibm

    print(f"{config.run.backend}: {ibm.plan(config).summary()}")
    ibm.submit(config, out, overwrite=args.overwrite)
    print(
        f"submitted; waiting (interrupting stops waiting, not the jobs: "
        f"qcflow fetch {out} collects them later)"
    )
    try:
        report = ibm.fetch(out, wait=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted; the jobs go on: qcflow fetch {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _fetch_report(report, out, args.quiet)


def _status(args: argparse.Namespace) -> int:
    from qcflow import ibm

    states = ibm.status(args.run_dir)
    for state in states:
        reason = f": {state.reason}" if state.reason else ""
        print(f"job {state.job} {state.job_id or '-'} {state.status}{reason}")
    if any(s.status == "NOT SUBMITTED" for s in states):
        print(
            "the submission was interrupted; run the same qcflow submit (same "
            "configuration and --out) to submit the rest"
        )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from qcflow import ibm

    return _fetch_report(
        ibm.fetch(args.run_dir, wait=args.wait), args.run_dir, args.quiet
    )


def _fetch_report(report: Any, out: Path, quiet: bool) -> int:
    from qcflow.results import read_rows

    if not quiet:
        table = Table(sys.stdout)
        for row in report.rows:
            table.row(row)
    print(
        f"\n{len(report.downloaded)} job(s) downloaded; {report.points_done} of "
        f"{report.points_total} points analysed in {out}"
    )
    for state in report.pending:
        print(
            f"job {state.job} {state.job_id} {state.status}: not finished; run "
            f"qcflow fetch {out} again later"
        )
    for state in report.failed:
        print(
            f"job {state.job} {state.job_id} {state.status}: {state.reason}; "
            f"resubmit it alone with: qcflow resubmit {out} {state.job_id}"
        )
    if report.points_done:
        rows = read_rows(out)
        print(_device_line(rows))
        print(_noise_line(rows))
    return EXIT_FAILED_JOBS if report.failed else 0


def _resubmit(args: argparse.Namespace) -> int:
    from qcflow import ibm

    submission = ibm.resubmit(args.run_dir, args.job_ids or None)
    if not submission.jobs:
        print("no failed or cancelled job to resubmit")
    for j, job in enumerate(submission.manifest["jobs"]):
        if job["jobs"] and job["jobs"][-1]["id"] in submission.jobs:
            print(f"job {j} resubmitted: {job['jobs'][-1]['id']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from qcflow.config import load_config
    from qcflow.export import export_circuits

    config = load_config(args.config)
    try:
        written = export_circuits(config, args.out, source=str(args.config))
    except OSError as exc:
        print(
            f"qcflow: error: cannot write {str(args.out)!r}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except ValueError as exc:
        print(f"qcflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{len(written)} files written to {args.out}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from qcflow.plotting import PlottingUnavailable, plot_run

    try:
        written = plot_run(
            args.run_dir,
            out=args.out,
            time=args.time,
            formats=args.formats or ("png", "pdf"),
        )
    except (PlottingUnavailable, FileNotFoundError, ValueError) as exc:
        print(f"qcflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, TypeError, KeyError, AttributeError) as exc:
        # A results.json of the wrong shape, or an output path that is a file.
        print(
            f"qcflow: error: cannot plot {str(args.run_dir)!r} "
            f"({type(exc).__name__}: {exc}); rerun `qcflow run` into it to rebuild "
            "results.json, or choose another --out",
            file=sys.stderr,
        )
        return EXIT_USAGE
    folders = sorted({str(p.parent) for p in written})
    print(f"{len(written)} figure files written to {', '.join(folders)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qcflow`` console script."""
    from qcflow.config import ConfigError
    from qcflow.devices import DeviceError
    from qcflow.ibm import IBMError
    from qcflow.results import RunDirectoryError

    args = _parser().parse_args(argv)
    commands = {
        "run": _run,
        "plot": _plot,
        "submit": _submit,
        "status": _status,
        "fetch": _fetch,
        "resubmit": _resubmit,
        "export": _export,
    }
    try:
        return commands[args.command](args)
    except (ConfigError, RunDirectoryError, DeviceError, IBMError) as exc:
        print(f"qcflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
