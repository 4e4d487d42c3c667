"""The run directory: each finished point is on disk, atomically, before the next.

Layout of ``DIR``:

- ``config.toml``: the resolved configuration (times as an explicit list);
- ``counts/point_NNNN.npz``: raw counts of one point, ``counts[b, s]`` = shots of basis
  ``b`` (``bases[b]``, qubit 0 rightmost) with outcome ``s`` (count key as an integer,
  little-endian over the system qubits);
- ``points/point_NNNN.json``: the result row of one point;
- ``results.csv`` and ``results.json``: all finished rows in sweep order, rewritten
  after every point; ``results.json`` also holds the configuration and package versions.

Files are written to a temporary name in the same directory, flushed to disk and
renamed, so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qcflow.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from qcflow.experiment import PointResult


class RunDirectoryError(ValueError):
    """The output directory cannot be used (a file, unwritable, or another run's)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_value(value: Any) -> Any:
    """Floats JSON cannot hold (inf) become strings; numpy scalars become Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return value


def _row_from_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: float(v) if isinstance(v, str) and v in ("inf", "-inf", "nan") else v
        for k, v in row.items()
    }


def _row_matches(row: Any, point: Any) -> bool:
    """Whether a stored row is a full row of ``point`` (setting and time)."""
    if not isinstance(row, dict) or "dN_A" not in row:
        return False
    corr = point.correlation
    stored = [row.get(k) for k in ("coherence", "phase_deg", "classical", "time")]
    return stored == [corr.coherence, corr.phase_deg, corr.classical, point.time]


def _counts_valid(counts: np.ndarray, n_qubits: int) -> bool:
    """Whole, non-negative counts of every basis of ``n_qubits``, each measured."""
    return (
        counts.shape == (3**n_qubits, 2**n_qubits)
        and np.issubdtype(counts.dtype, np.integer)
        and bool((counts >= 0).all())
        and bool((counts.sum(axis=1) > 0).all())
    )


@cache
def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    from platform import python_version

    out = {"python": python_version()}
    names = ("qcflow", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "numpy", "scipy")
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


class RunDirectory:
    """A run's output directory, opened for a configuration.

    Opening an existing directory of the same resolved configuration resumes it; one of
    another configuration is refused unless ``overwrite`` is set, which clears it.

    Raises:
        RunDirectoryError: if the path is a file, cannot be created or written, or holds
            a run of a different configuration (without ``overwrite``).
    """

    def __init__(self, path: str | Path, config: Config, *, overwrite: bool = False):
        self.path = Path(path)
        self.config = config
        self.counts_dir = self.path / "counts"
        self.points_dir = self.path / "points"
        if self.path.exists() and not self.path.is_dir():
            raise RunDirectoryError(
                f"output path {str(self.path)!r} is a file; allowed: a directory "
                "(new, empty, or a run of the same configuration)"
            )
        config_file = self.path / "config.toml"
        if config_file.exists() and not overwrite:
            try:
                previous = load_config(config_file)
            except ConfigError as exc:
                raise RunDirectoryError(
                    f"{str(config_file)!r} cannot be read ({exc}); use --overwrite to "
                    "start the run again"
                ) from exc
            if previous.to_dict() != config.to_dict():
                raise RunDirectoryError(
                    f"{str(self.path)!r} holds a run of a different configuration; "
                    "use --overwrite to replace it, or choose another --out"
                )
        elif overwrite and self.path.exists():
            for name in ("counts", "points"):
                shutil.rmtree(self.path / name, ignore_errors=True)
            for name in ("results.csv", "results.json", "config.toml"):
                with contextlib.suppress(FileNotFoundError):
                    (self.path / name).unlink()
        try:
            self.counts_dir.mkdir(parents=True, exist_ok=True)
            self.points_dir.mkdir(exist_ok=True)
            if not config_file.exists():
                atomic_write_text(config_file, config.to_toml())
        except OSError as exc:
            raise RunDirectoryError(
                f"cannot write to output directory {str(self.path)!r}: "
                f"{exc.strerror or exc}"
            ) from exc
        self.rows: dict[int, dict[str, Any]] = {}
        #: Readout calibration counts ``(n, 2, 2)`` of finished device points.
        self.readouts: dict[int, np.ndarray] = {}

    def finished(self) -> dict[int, np.ndarray]:
        """Counts of every point already on disk, by point index; also loads its row.

        A point counts as finished only if its counts and its row are readable and
        belong to this configuration's sweep (the point's index, setting and time, and
        counts of the right shape: whole, non-negative, every basis measured). Anything
        else is measured again, never trusted.
        """
        from qcflow.experiment import sweep_points

        points = {p.index: p for p in sweep_points(self.config)}
        n = self.config.model.n_qubits
        out = {}
        for row_file in sorted(self.points_dir.glob("point_*.json")):
            index_text = row_file.stem.removeprefix("point_")
            point = points.get(int(index_text)) if index_text.isdigit() else None
            if point is None or point.key != row_file.stem:
                continue
            try:
                row = json.loads(row_file.read_text(encoding="utf-8"))
                with np.load(self.counts_dir / f"{point.key}.npz") as data:
                    counts = np.asarray(data["counts"])
                    readout = data["readout"] if "readout" in data else None
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                continue  # unreadable: the point is measured again
            if not (_row_matches(row, point) and _counts_valid(counts, n)):
                continue
            self.rows[point.index] = _row_from_json(row)
            out[point.index] = counts
            if readout is not None:
                self.readouts[point.index] = readout
        return out

    def save(self, result: PointResult) -> None:
        """Store one finished point of a sweep: :meth:`write_point` of its parts."""
        self.write_point(
            result.point.index,
            result.point.key,
            result.counts,
            result.row,
            readout=result.readout,
        )

    def write_point(
        self,
        index: int,
        key: str,
        counts: np.ndarray,
        row: dict,
        readout: np.ndarray | None = None,
    ) -> None:
        """Store one finished point (counts first, then its row), then the tables.

        A device point's readout calibration counts ``readout[q, prepared, measured]``
        are stored beside its raw counts, as ``readout`` in the same ``.npz``.
        """
        from qcflow.tomography import basis_labels

        buffer = io.BytesIO()
        labels = np.array(basis_labels(self.config.model.n_qubits))
        arrays: dict[str, Any] = {"counts": counts.astype(np.int64), "bases": labels}
        if readout is not None:
            arrays["readout"] = np.asarray(readout, dtype=np.int64)
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(self.counts_dir / f"{key}.npz", buffer.getvalue())
        clean = {k: _json_value(v) for k, v in row.items()}
        atomic_write_text(
            self.points_dir / f"{key}.json", json.dumps(clean, allow_nan=False)
        )
        self.rows[index] = row
        self.write_tables()

    def ordered_rows(self) -> list[dict[str, Any]]:
        return [self.rows[i] for i in sorted(self.rows)]

    def write_tables(self) -> None:
        """Rewrite ``results.csv`` and ``results.json`` from the finished rows."""
        rows = self.ordered_rows()
        columns = list(rows[0]) if rows else []
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        atomic_write_text(self.path / "results.csv", out.getvalue())
        document = {
            "config": self.config.to_dict(),
            "versions": package_versions(),
            "columns": columns,
            "points": [{k: _json_value(v) for k, v in r.items()} for r in rows],
        }
        atomic_write_text(
            self.path / "results.json",
            json.dumps(document, indent=1, allow_nan=False) + "\n",
        )


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return value


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a run directory's ``results.json``, with ``inf`` restored."""
    document = json.loads((Path(path) / "results.json").read_text(encoding="utf-8"))
    return [_row_from_json(r) for r in document["points"]]
