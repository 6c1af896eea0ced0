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


def _read() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle, total


class CpuSampler:
    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.cores = os.cpu_count() or 1
        self.samples: list[tuple[float, int, int]] = []
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
            self.samples.append((time.perf_counter(), *_read()))
            self._stop.wait(self.interval)
        self.samples.append((time.perf_counter(), *_read()))

    def _at(self, t: float) -> tuple[float, float]:
        i = bisect_left([s[0] for s in self.samples], t)
        if i <= 0:
            return float(self.samples[0][1]), float(self.samples[0][2])
        if i >= len(self.samples):
            return float(self.samples[-1][1]), float(self.samples[-1][2])
        (t0, b0, n0), (t1, b1, n1) = self.samples[i - 1], self.samples[i]
        f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        return b0 + f * (b1 - b0), n0 + f * (n1 - n0)

    def busy(self, start: float, end: float) -> float | None:
        """Share of the machine's cores busy between two perf_counter instants (0..1)."""
        if len(self.samples) < 2 or end <= start:
            return None
        b0, n0 = self._at(start)
        b1, n1 = self._at(end)
        return (b1 - b0) / (n1 - n0) if n1 > n0 else None
