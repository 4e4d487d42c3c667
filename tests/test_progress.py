"""The progress bar: drawn on a terminal only, quiet otherwise, and in the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qcflow import cli
from qcflow.progress import MIN_INTERVAL, Progress, render

SMALL = """
[system]
n_modes = 1
energy = 1.0
hopping = 0.0

[state]
beta = 1.0
mu_a = 1.5
mu_b = 0.5

[exchange]
coupling = 1.0
times = [0.0, 0.3, 0.6]
trotter_dt = 0.1

[run]
shots = 200
bootstrap = 10
"""


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "parts"),
    [
        (0, 32, 0.0, ["[------------------------]", " 0/32 points", "0.0 s"]),
        (
            8,
            32,
            2.0,
            [
                "[######------------------]",
                " 8/32 points",
                "2.0 s",
                "4 points/s",
                "~6.0 s left",
            ],
        ),
        (32, 32, 4.0, ["[########################]", "32/32 points", "8 points/s"]),
        (5, 10, 90.0, ["1:30", "~1:30 left"]),
        (1, 2, 3700.0, ["1:01:40", "~1:01:40 left"]),
    ],
)
def test_render(done: int, total: int, elapsed: float, parts: list[str]) -> None:
    text = render(done, total, elapsed)
    for part in parts:
        assert part in text
    if done == total:
        assert "left" not in text


def test_rate_of_a_resumed_run_counts_only_new_points() -> None:
    text = render(20, 32, 2.0, timed=4)
    assert "20/32" in text and "2 points/s" in text and "~6.0 s left" in text


@pytest.mark.parametrize("kind", [io.StringIO, Terminal])
@pytest.mark.parametrize("enabled", [True, False])
def test_draws_only_on_an_enabled_terminal(kind: type, enabled: bool) -> None:
    stream = kind()
    with Progress(3, stream, enabled=enabled) as bar:
        for _ in range(3):
            bar.update()
        bar.clear()
    drawn = stream.getvalue()
    if enabled and isinstance(stream, Terminal):
        assert "3/3 points" in drawn and drawn.endswith("\n")
    else:
        assert drawn == ""


def test_redraws_are_throttled_but_the_end_is_drawn() -> None:
    clock, stream = Clock(), Terminal()
    bar = Progress(100, stream, clock=clock)
    for _ in range(99):
        clock.now += MIN_INTERVAL / 10
        bar.update()
    draws = stream.getvalue().count("\r")
    assert 5 <= draws <= 15  # about one draw per MIN_INTERVAL of 9.9 intervals
    bar.update()
    assert stream.getvalue().rsplit("\r", 1)[-1].startswith("\033[K[####")
    assert "100/100" in stream.getvalue()


def test_clear_erases_the_line_before_others_print() -> None:
    stream = Terminal()
    bar = Progress(4, stream)
    bar.update()
    bar.clear()
    assert stream.getvalue().endswith("\r\033[K")
    bar.clear()  # nothing shown: nothing written
    assert stream.getvalue().count("\r\033[K") == 2


def test_a_closed_terminal_does_not_stop_the_run() -> None:
    stream = Terminal()
    stream.close()
    bar = Progress(2, stream)
    bar.update()
    bar.close()
    assert not bar.enabled


@pytest.mark.parametrize(("done", "total"), [(-1, 3), (4, 3), (0, -1)])
def test_bad_counts(done: int, total: int) -> None:
    with pytest.raises(ValueError, match="allowed: 0 <= done <= total"):
        Progress(total, io.StringIO(), done=done)


@pytest.mark.parametrize("quiet", [False, True])
@pytest.mark.parametrize("tty", [False, True])
def test_cli_progress_goes_to_a_terminal_stderr_only(
    tmp_path: Path, monkeypatch, capsys, quiet: bool, tty: bool
) -> None:
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    monkeypatch.setattr("sys.stderr", Terminal() if tty else io.StringIO())
    args = ["run", str(config), "--out", str(tmp_path / "out")]
    assert cli.main([*args, "--quiet"] if quiet else args) == 0
    import sys

    err = sys.stderr.getvalue()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    if tty and not quiet:
        assert "3/3 points" in err and "points/s" in err
    else:
        assert err == ""
    assert "\r" not in out  # the table on stdout never holds the bar
    assert ("time" in out) != quiet
