"""The gate the casting path's SQLite reads share with the checkpoint after each batch:
reads run side by side, the checkpoint runs alone, and a waiting checkpoint goes first."""

from __future__ import annotations

import threading
import time

from core.db_gate import _Gate


def test_reads_share_the_gate() -> None:
    gate = _Gate()
    inside = threading.Barrier(3, timeout=5)

    def read() -> None:
        with gate.reading():
            inside.wait()  # all three readers are inside at once, or this times out

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not inside.broken


def test_the_checkpoint_waits_for_reads_and_new_reads_wait_for_it() -> None:
    gate = _Gate()
    order: list[str] = []
    first_read_in = threading.Event()
    release_first = threading.Event()

    def first_read() -> None:
        with gate.reading():
            first_read_in.set()
            release_first.wait(5)
            order.append("read 1 done")

    def checkpoint() -> None:
        with gate.alone():
            order.append("checkpoint")

    def late_read() -> None:
        with gate.reading():
            order.append("read 2")

    t1 = threading.Thread(target=first_read)
    t1.start()
    assert first_read_in.wait(5)
    t2 = threading.Thread(target=checkpoint)
    t2.start()
    time.sleep(0.05)  # the checkpoint is now waiting for the first read
    t3 = threading.Thread(target=late_read)
    t3.start()
    time.sleep(0.05)
    assert order == []  # neither the checkpoint nor the late read got in
    release_first.set()
    for t in (t1, t2, t3):
        t.join(5)
    assert order == ["read 1 done", "checkpoint", "read 2"]
