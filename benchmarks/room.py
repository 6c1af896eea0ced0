"""A room of phones voting at once against a real server (figures, never pass/fail).

Run: `.venv/bin/python -m benchmarks.room --phones 200 [--gc on|off] [--ticks on|off]
[--database-url URL] [--timeout-s 120]`.

It makes a temp data folder, starts `streamlit run evaluation_app.py` on 127.0.0.1 (via
`tests.server.streamlit_server`), creates a workshop through the core services, issues one
card per phone and opens voting. Then N simulated phones (`benchmarks.streamlit_client`,
one websocket each, asyncio, no browser) connect -- at most `--connect-concurrency`
handshakes in flight -- and, once all are connected, each one: runs `/join?w=CODE&card=CARD`,
ranks a random realistic top-5 (popular methods more likely, tap order kept), picks a role
one time in two, submits the ballot form for review, and taps cast. The ballot is sealed and
queued; the phone's page polls (a fragment) until its batch of k is stored and shows the
receipt. "Tap -> receipt" is from sending the cast rerun until the receipt arrives, so it
includes waiting for the batch. Once every phone has cast, the benchmark closes voting as a
facilitator would, which stores the last batch (fewer than k).

With `--ticks on` (the default) each phone also does what a browser does for the page's
`@st.fragment(run_every=3)`: a fragment rerun every 3 s, including after it has voted,
until every phone is done -- the load a real room puts on the server. `--ticks off` leaves
only the voting reruns. `--think-s` adds a pause before each tap (default 0: a burst).

Everything stops by itself: each run waits at most `--run-timeout-s`, the whole room at
most `--timeout-s`, then the server is stopped. Only 127.0.0.1 is contacted. The client
shares this machine's cores with the server: its own CPU time is printed too.

Last line: `room: phones=<n> acknowledged=<n> stored=<n> p50_ms=<n> p95_ms=<n>
ballots_per_s=<n>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.streamlit_client import StreamlitClient, receipt_in, wait_for_receipt
from core import ballots, results
from core.config import settings_from_env
from core.domain import Stage, StagePosition
from core.instance import open_instance
from core.templates import available_templates
from core.workshops import create_workshop, move_to, unlock_console
from tests.server import Server, streamlit_server

PASS = "benchmark passphrase for the room"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the server process -----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (fields 14 and 15 of /proc/PID/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Room:
    code: str
    cards: list[str]
    method_count: int


def open_room(server: Server, phones: int) -> Room:
    inst = open_instance(settings_from_env(server.env), migrate_schema=False)
    tpl = available_templates()["default"]
    code = create_workshop(inst.db, tpl, "Room benchmark", PASS)
    grant = unlock_console(inst.db, inst.secret_key, code, PASS)
    cards: list[str] = []
    while len(cards) < phones:
        batch = min(ballots.MAX_CARDS_PER_CALL, phones - len(cards))
        cards += ballots.issue_cards(inst.db, inst.secret_key, code, grant, batch)
    move_to(inst.db, inst.secret_key, code, grant, StagePosition(Stage.VOTING))
    inst.db.dispose()
    return Room(code, cards, len(tpl.methods))


def start_profiler(pid: int, out: Path, idle: bool) -> subprocess.Popen[bytes]:
    """`py-spy record` (PyPI `py-spy`, not a project dependency) on the server process.

    With `idle`, waiting threads are sampled too: where a slow run spends its wall time."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [exe, "record", "-p", str(pid), "-o", str(out), "--format", "raw", "-r", "67"]
    cmd += ["--idle", "--threads"] if idle else []
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def close_room(server: Server, room: Room) -> None:
    inst = open_instance(settings_from_env(server.env), migrate_schema=False)
    try:
        grant = unlock_console(inst.db, inst.secret_key, room.code, PASS)
        ballots.close_voting(inst.db, inst.secret_key, room.code, grant)
    finally:
        inst.db.dispose()


def stored_ballots(server: Server, code: str) -> int:
    inst = open_instance(settings_from_env(server.env), migrate_schema=False)
    try:
        return results.ballot_count(inst.db, code)
    finally:
        inst.db.dispose()


# --- one phone --------------------------------------------------------------------------


@dataclass
class Tally:
    connected: int = 0
    connect_errors: list[str] = field(default_factory=list)
    run_problems: Counter[str] = field(default_factory=Counter)
    tap_to_receipt: list[float] = field(default_factory=list)
    receipts: set[str] = field(default_factory=set)
    ticks: int = 0
    tick_seconds: list[float] = field(default_factory=list)
    run_seconds: list[float] = field(default_factory=list)
    first_cast_at: float | None = None
    last_receipt_at: float | None = None


def realistic_top(options: list[str], k: int, rng: random.Random) -> list[str]:
    """A top-k in tap order: earlier (here: more popular) options are likelier to be ranked
    and ranked higher; one phone in four ranks fewer than k."""
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(options))]
    pool, w = list(options), list(weights)
    n = k if rng.random() < 0.75 else rng.randint(1, k)
    chosen: list[str] = []
    for _ in range(min(n, len(pool))):
        i = rng.choices(range(len(pool)), weights=w)[0]
        chosen.append(pool.pop(i))
        w.pop(i)
    return chosen


class Phone:
    def __init__(self, n: int, base_ws: str, room: Room, args: argparse.Namespace) -> None:
        self.n = n
        self.room = room
        self.args = args
        self.rng = random.Random(args.seed * 100_003 + n)
        locale = "zh-CN" if n % 2 else "en-US"
        self.client = StreamlitClient(
            base_ws, "join", f"w={room.code}&card={room.cards[n]}", locale=locale
        )
        self.next_tick = float("inf")
        self.has_cast = asyncio.Event()  # set once the cast tap was answered (or gave up)

    async def _run(self, tally: Tally, what: str, **kw: object) -> bool:
        result = await self.client.run(timeout=self.args.run_timeout_s, **kw)  # type: ignore[arg-type]
        tally.run_seconds.append(result.seconds)
        if result.exceptions:
            tally.run_problems[f"{what}: exception {result.exceptions[0][:300]}"] += 1
        if result.status not in ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"):
            tally.run_problems[f"{what}: {result.status}"] += 1
            return False
        return True

    async def _tick_if_due(self, tally: Tally) -> None:
        if not self.args.ticks or time.monotonic() < self.next_tick:
            return
        for fragment_id, interval in list(self.client.auto_reruns.items()):
            result = await self.client.run(fragment_id=fragment_id, timeout=self.args.run_timeout_s)
            tally.ticks += 1
            tally.tick_seconds.append(result.seconds)
            if result.status != "FINISHED_FRAGMENT_RUN_SUCCESSFULLY":
                tally.run_problems[f"tick: {result.status}"] += 1
            self.next_tick = time.monotonic() + interval

    async def _think(self, tally: Tally) -> None:
        if self.args.think_s > 0:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.args.think_s)
        await self._tick_if_due(tally)

    async def vote(self, tally: Tally, t0: float) -> None:
        c, code = self.client, self.room.code
        if not await self._run(tally, "open page"):
            return
        if self.client.auto_reruns:
            interval = min(self.client.auto_reruns.values())
            self.next_tick = time.monotonic() + self.rng.uniform(0, interval)
        try:
            ranking = c.widget(f"ranking_{code}")
        except KeyError:
            tally.run_problems["open page: no ranking widget"] += 1
            return
        await self._think(tally)
        options = list(ranking.element.options)
        top = realistic_top(options, ranking.element.max_selections or 5, self.rng)
        # The ballot is one form: choices travel with the submit, no run per tap.
        c.set_value(f"ranking_{code}", "string_array_value", top)
        if self.rng.random() < 0.5:
            role = c.widget(f"role_{code}")
            c.set_value(f"role_{code}", "string_value", self.rng.choice(list(role.element.options)))
        await self._think(tally)
        if not await self._run(tally, "review", triggers=[c.widget("review").id]):
            return
        await self._think(tally)
        try:
            cast = c.widget("cast")
        except KeyError:
            tally.run_problems["review: no cast button"] += 1
            return
        sent = time.perf_counter()
        if tally.first_cast_at is None:
            tally.first_cast_at = sent - t0
        result = await c.run(
            triggers=[cast.id],
            timeout=self.args.run_timeout_s,
            watch=lambda body: receipt_in(body) is not None,
        )
        tally.run_seconds.append(result.seconds)
        self.has_cast.set()
        # Sealed and queued: the receipt shows once the phone's batch of k is stored (the
        # page's fragment polls), or, for the last few, once voting closes.
        texts = result.markdown + result.exceptions
        receipt = await wait_for_receipt(c, texts, self.args.timeout_s)
        if receipt is None:
            what = result.exceptions[:1] or [m[:80] for m in texts[-1:]]
            tally.run_problems[f"cast: {result.status} no receipt {what}"] += 1
            return
        tally.tap_to_receipt.append(time.perf_counter() - sent)
        tally.receipts.add(receipt)
        tally.last_receipt_at = time.perf_counter() - t0

    async def idle(self, tally: Tally, done: asyncio.Event) -> None:
        """After voting the phone shows its receipt; the browser keeps ticking the fragment."""
        while self.args.ticks and not done.is_set():
            wait = max(0.0, self.next_tick - time.monotonic())
            try:
                await asyncio.wait_for(done.wait(), timeout=min(wait, 3600))
                return
            except TimeoutError:
                await self._tick_if_due(tally)


# --- the room ---------------------------------------------------------------------------


async def drive(server: Server, room: Room, args: argparse.Namespace) -> tuple[Tally, float]:
    base_ws = server.url.replace("http://", "ws://")
    tally = Tally()
    phones = [Phone(i, base_ws, room, args) for i in range(args.phones)]
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def connect(p: Phone) -> bool:
        async with gate:
            try:
                await p.client.connect(timeout=args.run_timeout_s)
            except Exception as exc:
                tally.connect_errors.append(f"{type(exc).__name__}: {exc}"[:120])
                return False
            tally.connected += 1
            return True

    # A server in a real room is warm (the facilitator's console has run): one page load
    # first, so the room does not measure the first import of the pages and the migration.
    warm = StreamlitClient(base_ws, "join", f"w={room.code}")
    await warm.connect(timeout=args.run_timeout_s)
    await warm.run(timeout=args.run_timeout_s)
    await warm.close()

    t0 = time.perf_counter()
    ok = await asyncio.gather(*(connect(p) for p in phones))
    connected = [p for p, good in zip(phones, ok, strict=True) if good]
    connect_s = time.perf_counter() - t0
    print(f"connected {len(connected)}/{len(phones)} phones in {connect_s:.2f} s", flush=True)

    done = asyncio.Event()
    remaining = len(connected)

    async def life(p: Phone) -> None:
        nonlocal remaining
        try:
            await p.vote(tally, t0)
        except Exception as exc:
            tally.run_problems[f"phone error {type(exc).__name__}: {exc}"[:120]] += 1
        finally:
            p.has_cast.set()
            remaining -= 1
            if remaining == 0:
                done.set()
        await p.idle(tally, done)

    async def facilitator() -> None:
        # Once every phone has cast, the last ballots (fewer than k) wait for the close.
        await asyncio.gather(*(p.has_cast.wait() for p in connected))
        await asyncio.to_thread(close_room, server, room)

    try:
        await asyncio.wait_for(
            asyncio.gather(facilitator(), *(life(p) for p in connected)),
            timeout=args.timeout_s - connect_s,
        )
    except TimeoutError:
        tally.run_problems[f"room timed out after {args.timeout_s} s"] += 1
    elapsed = time.perf_counter() - t0
    await asyncio.gather(*(p.client.close() for p in phones), return_exceptions=True)
    return tally, elapsed


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phones", type=int, default=50)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--gc", choices=["on", "off"], default="off", help="runner.postScriptGC")
    ap.add_argument("--ticks", choices=["on", "off"], default="on")
    ap.add_argument("--think-s", type=float, default=0.0)
    ap.add_argument("--timeout-s", type=float, default=120.0)
    ap.add_argument("--run-timeout-s", type=float, default=60.0)
    ap.add_argument("--connect-concurrency", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument(
        "--file-watcher",
        default="none",
        help="server.fileWatcherType (default none: a source edit mid-run re-imports modules "
        "under the running sessions)",
    )
    ap.add_argument("--show-errors", action="store_true", help="client.showErrorDetails=full")
    ap.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record the server with py-spy (collapsed stacks) into this file while phones run",
    )
    ap.add_argument("--profile-idle", action="store_true", help="py-spy --idle --threads")
    ap.add_argument("--keep-log", type=Path, default=None, help="copy the server log here")
    args = ap.parse_args(argv)
    args.ticks = args.ticks == "on"
    if not 1 <= args.phones <= 2000:
        ap.error("--phones must be 1..2000")
    if args.phones > 500 and os.sysconf("SC_OPEN_MAX") < 2 * args.phones + 100:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * args.phones + 256), hard))

    extra_env = {
        "STREAMLIT_RUNNER_POST_SCRIPT_GC": "true" if args.gc == "on" else "false",
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": args.file_watcher,
    }
    if args.show_errors:
        extra_env["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] = "full"
    with (
        tempfile.TemporaryDirectory(prefix="beidui-room-") as tmp,
        streamlit_server(Path(tmp), args.database_url, extra_env) as server,
    ):
        pid = server.process.pid
        room = open_room(server, args.phones)
        print(f"server pid {pid} at {server.url}", flush=True)
        cpu_before = cpu_seconds(pid)
        client_cpu_before = time.process_time()
        spy = start_profiler(pid, args.profile, args.profile_idle) if args.profile else None
        tally, elapsed = asyncio.run(drive(server, room, args))
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        server_cpu = cpu_seconds(pid) - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        peak_rss_mib = status_kib(pid, "VmHWM") / 1024
        threads = status_kib(pid, "Threads")
        stored = stored_ballots(server, room.code)
        log_tail = server.log()[-2000:]
        if args.keep_log:
            args.keep_log.write_text(server.log())

    acked = len(tally.receipts)
    taps = [s * 1000 for s in tally.tap_to_receipt]
    p50, p95 = pct(taps, 0.50), pct(taps, 0.95)
    mx = max(taps) if taps else float("nan")
    window = max(0.0, (tally.last_receipt_at or 0) - (tally.first_cast_at or 0))
    rate = acked / window if acked and window > 0 else 0.0
    runs = [s * 1000 for s in tally.run_seconds]
    ticks = [s * 1000 for s in tally.tick_seconds]
    print(f"phones:               {args.phones} (connected {tally.connected})")
    print(
        f"gc / ticks / think:   postScriptGC={args.gc} fragment_ticks={args.ticks} "
        f"think_s={args.think_s}"
    )
    print(
        f"connection errors:    {len(tally.connect_errors)}"
        + (f" e.g. {tally.connect_errors[0]}" if tally.connect_errors else "")
    )
    print(f"ballots acknowledged: {acked}")
    print(f"ballots stored:       {stored}")
    print(f"tap -> receipt:       p50 {p50:.0f} ms  p95 {p95:.0f} ms  max {mx:.0f} ms")
    print(f"ballots/s:            {rate:.1f} (first cast to last receipt, {window:.1f} s)")
    print(f"every run (n={len(runs)}):  p50 {pct(runs, 0.5):.0f} ms  p95 {pct(runs, 0.95):.0f} ms")
    print(
        f"fragment ticks:       {tally.ticks}  p50 {pct(ticks, 0.5):.0f} ms  "
        f"p95 {pct(ticks, 0.95):.0f} ms"
    )
    print(f"room wall time:       {elapsed:.1f} s")
    print(
        f"server CPU:           {server_cpu:.1f} s ({server_cpu / elapsed:.2f} cores)  "
        f"peak RSS {peak_rss_mib:.0f} MiB  threads at end {threads}"
    )
    print(f"client CPU:           {client_cpu:.1f} s ({client_cpu / elapsed:.2f} cores)")
    for problem, count in tally.run_problems.most_common(8):
        print(f"problem x{count}: {problem}")
    if tally.run_problems and "Traceback" in log_tail:
        print("server log tail:\n" + log_tail)
    print(
        f"room: phones={args.phones} acknowledged={acked} stored={stored} "
        f"p50_ms={p50:.0f} p95_ms={p95:.0f} ballots_per_s={rate:.0f}"
    )


if __name__ == "__main__":
    main()
