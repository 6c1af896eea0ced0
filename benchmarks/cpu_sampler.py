"""How busy the whole machine was over a stretch of a benchmark (Linux `/proc/stat`).

A thread samples the machine's CPU counters every `interval` seconds; afterwards
`busy(start, end)` gives the share of all cores that were busy between two
`time.perf_counter()` instants (interpolated between samples). The room benchmark uses it
to say whether the phones' client, the servers, the proxy and the database together
already filled the machine's cores during the burst: the reason a second server process on
the same two cores cannot add throughput.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle, total


def _process_jiffies(pids: tuple[int, ...]) -> int:
    """User + system jiffies of these processes (fields 14 and 15 of /proc/PID/stat)."""
    used = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                text = f.read()
        except OSError:  # a killed replica
            continue
        fields = text[text.rindex(")") + 2 :].split()
        used += int(fields[11]) + int(fields[12])
    return used


class CpuSampler:
    def __init__(self, interval: float = 0.02, pids: tuple[int, ...] = ()) -> None:
        self.interval = interval
        self.pids = pids
        self.cores = os.cpu_count() or 1
        self.samples: list[tuple[float, int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)
        self._sample()

    def _sample(self) -> None:
        self.samples.append((time.perf_counter(), *_read(), _process_jiffies(self.pids)))

    def _at(self, t: float) -> tuple[float, float, float]:
        """(machine busy, machine total, processes) jiffies at `t`, interpolated."""
        i = bisect_left([s[0] for s in self.samples], t)
        if i <= 0 or i >= len(self.samples):
            _t, b, n, p = self.samples[0 if i <= 0 else -1]
            return float(b), float(n), float(p)
        (t0, b0, n0, p0), (t1, b1, n1, p1) = self.samples[i - 1], self.samples[i]
        f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        return b0 + f * (b1 - b0), n0 + f * (n1 - n0), p0 + f * (p1 - p0)

    def busy(self, start: float, end: float) -> float | None:
        """Share of the machine's cores busy between two perf_counter instants (0..1)."""
        if len(self.samples) < 2 or end <= start:
            return None
        b0, n0, _ = self._at(start)
        b1, n1, _ = self._at(end)
        return min(1.0, max(0.0, (b1 - b0) / (n1 - n0))) if n1 > n0 else None

    def process_seconds(self, start: float, end: float) -> float | None:
        """CPU seconds the sampled processes used between two perf_counter instants."""
        if len(self.samples) < 2 or end <= start or not self.pids:
            return None
        return (self._at(end)[2] - self._at(start)[2]) / CLK_TCK
