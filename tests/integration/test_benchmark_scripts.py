"""The cast benchmark still runs and prints its documented lines (its figures are not judged).

Benchmarks are scripts nobody runs in CI for speed; without this they rot silently. The
run is tiny (40 ballots, 4 threads) and on PostgreSQL too when the suite has one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_cast_benchmark_prints_its_figures_on_both_databases() -> None:
    env = {**os.environ, "BEIDUI_BENCH_BALLOTS": "40", "BEIDUI_BENCH_THREADS": "4"}
    env.pop("BEIDUI_BENCH_DATABASE_URL", None)
    if PG_URL:
        env["BEIDUI_BENCH_DATABASE_URL"] = PG_URL
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cast"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"cast: service=\d+/s raw=\d+/s ratio=\d+\.\d\d", lines[-1]), lines
    if PG_URL:
        assert any(re.fullmatch(r"cast-postgresql: service=\d+/s", line) for line in lines)


@pytest.mark.slow
def test_the_room_benchmark_prints_the_baseline_and_the_new_path_side_by_side() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.room", "--phones", "4", "--handback", "off"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    rooms = [line for line in lines if line.startswith("room: ")]
    pattern = (
        r"room: path=(form|component) phones=4 acknowledged=4 stored=4 "
        r"p50_ms=\d+ p95_ms=\d+ ballots_per_s=\d+"
    )
    assert [re.fullmatch(pattern, line) is not None for line in rooms] == [True, True], lines
    assert re.fullmatch(r"room-ratio: component_vs_form=\d+\.\dx", lines[-1]), lines
