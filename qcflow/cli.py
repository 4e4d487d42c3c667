"""Command-line interface: ``qcflow run CONFIG [--out DIR] ...``.

Exit status: 0 on success, 2 on a bad configuration or output directory (one line on
standard error, no traceback), 130 when interrupted (finished points are kept).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, TextIO

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fmt(value: float, width: int = 9) -> str:
    if not math.isfinite(value):
        return f"{'inf' if value > 0 else '-inf':>{width}}"
    return f"{value:>{width}.4f}"


class Table:
    """A compact table, one block per correlation setting, at most 72 columns wide."""

    HEADER = (
        f"{'time':>6} {'dN_A':>9} {'exact':>9} {'dI_AB':>9} {'exact':>9} "
        f"{'bound':>9}  flow"
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
        self._print(
            f"{row['time']:>6.3f} {_fmt(row['dN_A'])} {_fmt(row['dN_A_exact'])} "
            f"{_fmt(row['dI_AB'])} {_fmt(row['dI_AB_exact'])} {_fmt(row['bound'])}  "
            f"{row['flow']}"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qcflow",
        description=(
            "Particle flow between two correlated fermionic subsystems on quantum "
            "circuits: prepare, evolve, do state tomography, and test "
            "-beta (mu_a - mu_b) dN_A >= dI_AB."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run a configuration on the Aer simulator",
        description=(
            "Run every (correlation, time) point of CONFIG, print a table and write "
            "results.csv, results.json, config.toml and raw counts to the output "
            "directory. Rerunning into the same directory resumes it."
        ),
    )
    run.add_argument("config", type=Path, help="TOML configuration file")
    run.add_argument(
        "--out",
        type=Path,
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
        "--overwrite",
        action="store_true",
        help="replace an output directory that holds a different configuration",
    )
    run.add_argument(
        "--quiet", action="store_true", help="print only errors and the final summary"
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    from qcflow.config import load_config
    from qcflow.experiment import Experiment
    from qcflow.results import RunDirectory

    config = load_config(args.config)
    overrides = {
        key: value
        for key, value in (
            ("shots", args.shots),
            ("seed", args.seed),
            ("method", args.method),
        )
        if value is not None
    }
    if overrides:
        config = config.with_run(**overrides)
    out = args.out or Path("runs") / args.config.stem
    directory = RunDirectory(out, config, overwrite=args.overwrite)
    experiment = Experiment(config)
    done = directory.finished()
    table = Table(sys.stdout)
    if done and not args.quiet:
        print(f"resuming {out}: {len(done)} of {len(experiment.points)} points done")
    try:
        for result in experiment.run(done):
            directory.write_point(
                result.point.index, result.point.key, result.counts, result.row
            )
            if not args.quiet:
                table.row(result.row)
    except KeyboardInterrupt:
        if directory.rows:
            directory.write_tables()  # the interrupt may have come between two writes
        print(
            f"\ninterrupted: {len(directory.rows)} of {len(experiment.points)} points "
            f"are saved in {out}; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    rows = directory.ordered_rows()
    worst = max(abs(r["dN_A"] - r["dN_A_exact"]) for r in rows)
    print(f"\n{len(rows)} points written to {out}")
    print(f"max |dN_A - dN_A_exact| = {worst:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qcflow`` console script."""
    from qcflow.config import ConfigError
    from qcflow.results import RunDirectoryError

    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, RunDirectoryError) as exc:
        print(f"qcflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
