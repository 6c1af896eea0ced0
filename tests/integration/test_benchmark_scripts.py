"""The benchmarks still run and print their documented lines (their figures are not judged).

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


def _bench(*args: str, timeout: int = 300, **env_vars: str) -> list[str]:
    """Run `python -m benchmarks.<args>` (PostgreSQL too when the suite has one); its lines."""
    env = {**os.environ, **env_vars}
    env.pop("BEIDUI_BENCH_DATABASE_URL", None)
    if PG_URL:
        env["BEIDUI_BENCH_DATABASE_URL"] = PG_URL
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


@pytest.mark.slow
def test_the_cast_benchmark_prints_its_figures_on_both_databases() -> None:
    lines = _bench("benchmarks.cast", BEIDUI_BENCH_BALLOTS="40", BEIDUI_BENCH_THREADS="4")
    batch = r" k=\d+ batch=\d+\.\d \(min \d+, max \d+\)"
    assert re.fullmatch(r"cast: service=\d+/s raw=\d+/s ratio=\d+\.\d\d" + batch, lines[-1]), lines
    if PG_URL:
        assert any(re.fullmatch(r"cast-postgresql: service=\d+/s" + batch, line) for line in lines)


@pytest.mark.slow
def test_the_notes_benchmark_prints_its_figures_and_stores_every_whole_batch() -> None:
    lines = _bench("benchmarks.notes", BEIDUI_BENCH_NOTES="42", BEIDUI_BENCH_THREADS="4")
    # 42 notes, k = 5: eight whole batches stored, two notes still waiting in memory.
    assert re.fullmatch(r"notes: sqlite=\d+/s k=5 stored=40 waiting=2", lines[-1]), lines
    if PG_URL:
        assert any(re.fullmatch(r"notes-postgresql: \d+/s", line) for line in lines)


def test_the_doors_benchmark_prints_attempts_per_minute() -> None:
    last = _bench("benchmarks.doors")[-1]
    assert re.fullmatch(
        r"doors: same-client=\d+/min fresh-clients=\d+/min honest-wait=\d+s limiter=\d+ ops/s",
        last,
    ), last


@pytest.mark.slow
def test_the_room_benchmark_prints_the_baseline_and_the_new_path_side_by_side() -> None:
    lines = _bench("benchmarks.room", "--phones", "4", "--handback", "off", timeout=600)
    rooms = [line for line in lines if line.startswith("room: ")]
    pattern = (
        r"room: path=(form|component) phones=4 acknowledged=4 stored=4 "
        r"p50_ms=\d+ p95_ms=\d+ ballots_per_s=\d+ with_close_per_s=\d+ max_s=\d+\.\d\d"
    )
    assert [re.fullmatch(pattern, line) is not None for line in rooms] == [True, True], lines
    assert re.fullmatch(r"room-ratio: component_vs_form=\d+\.\dx", lines[-1]), lines
    [busy] = [line for line in lines if line.startswith("machine busy (burst)")]
    assert re.fullmatch(r"machine busy \(burst\)(\s+(n/a|\d+% of \d+ cores)){2}", busy), busy
