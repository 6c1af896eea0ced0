"""benchmarks.cpu_sampler: the share of the machine's cores busy between two instants."""

from __future__ import annotations

import os
import time

from benchmarks.cpu_sampler import CpuSampler


def test_a_spinning_thread_shows_as_at_least_most_of_one_core() -> None:
    with CpuSampler(interval=0.01, pids=(os.getpid(),)) as sampler:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.4:  # one core busy in this process
            pass
        end = time.perf_counter()
    busy = sampler.busy(start, end)
    assert busy is not None
    assert 0.5 / sampler.cores <= busy <= 1.0
    used = sampler.process_seconds(start, end)  # this process's own CPU over the spin
    assert used is not None and 0.2 <= used <= 0.4 * sampler.cores + 0.05


def test_no_answer_without_a_stretch_of_time() -> None:
    with CpuSampler(interval=0.01) as sampler:
        time.sleep(0.05)
        now = time.perf_counter()
    assert sampler.busy(now, now) is None
