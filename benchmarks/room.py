"""A room of phones casting at once against real servers: the new ballot path and the
framework's own ceiling, side by side in one run (figures, never pass/fail).

Run: `.venv/bin/python -m benchmarks.room --phones 200 [--path both|component|form]
[--database-url URL] [--replicas 2 [--kill-one]] [--through URL] [--think-s S]`.

Each phase makes its own workshop (one card per phone, voting open), connects N simulated
phones (`benchmarks.streamlit_client`: one websocket each, what a browser tab sends) and
opens their page, then all phones tap at once ("a burst"; `--think-s` spreads the taps):

- **form** (the baseline): `streamlit run benchmarks/form_page.py`, the smallest Streamlit
  page that casts — a form with card and ranking whose submit runs the script, which calls
  `submit_ballot` and waits. Tap -> receipt: from the submit's rerun to the receipt in the answer.
- **component** (the new path): the app itself. The join page hands its ballot component
  a token and the methods; at the tap each phone sends ONE `POST /api/ballot` on its
  keep-alive connection (`benchmarks.http_phone`) and the answer holds the receipt (a
  "waiting" answer is polled until stored, as the component does). Then, off the clock, the
  phone sends the rerun the component triggers to hand the receipt to the page.
- **component xN via nginx** (`--replicas N`, PostgreSQL only): the same through nginx in
  front of N app processes (`scripts.replicas`); with `--kill-one` replica r0 is SIGKILLed
  when half the receipts are in, phones that lose their answer tap again (as a person would
  after the component's network error), and every acknowledged receipt is looked up.
- `--through URL`: the component phase against an already running proxy (e.g. `make
  run-replicas`); the workshop is made in this shell's DATABASE_URL / BEIDUI_* settings,
  which must be the replicas' own.

"Stored" counts the workshop's ballots in the database afterwards; "verified" looks every
acknowledged receipt up. The phones run in this process (on uvloop) on the same cores as
the servers: its CPU time is printed too, and how busy the whole machine was during the burst (all
processes: phones, servers, nginx, the database; `benchmarks.cpu_sampler`): near 100% means
the cores, not a server process, set the pace, so another process on them cannot help.
Only 127.0.0.1 (or `--through`) is contacted.

Last lines: one `room: path=<p> phones=<n> acknowledged=<n> stored=<n> p50_ms=<n>
p95_ms=<n> ballots_per_s=<n>` per phase, then `room-ratio: ...` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from benchmarks.cpu_sampler import CpuSampler
from benchmarks.http_phone import HttpPhone
from benchmarks.streamlit_client import StreamlitClient, receipt_in
from core import results
from core.cards import issue_cards
from core.closing import close_voting
from core.config import settings_from_env
from core.console import move_to
from core.console_access import unlock_console
from core.domain import Stage, StagePosition
from core.instance import Admin, open_instance
from core.limits import DEFAULT_ANONYMITY_K, MAX_CARDS_PER_CALL
from core.templates import available_templates
from core.workshops import create_workshop
from tests.server import Server, streamlit_server

PASS = "benchmark passphrase for the room"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOM_K = DEFAULT_ANONYMITY_K  # the room's k: create_workshop's default
COMPONENT = "beidui_ballot"


# --- servers and the room ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (fields 14 and 15 of /proc/PID/stat)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # a killed replica
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Room:
    code: str
    cards: list[str]
    method_count: int


def _env_of(where: Server | dict[str, str]) -> dict[str, str]:
    return where.env if isinstance(where, Server) else where


def open_room(where: Server | dict[str, str], phones: int) -> Room:
    """A workshop in voting with one card per phone, in the server's (or env's) database."""
    inst = open_instance(settings_from_env(_env_of(where)), migrate_schema=False)
    tpl = available_templates()["default"]
    code = create_workshop(Admin.trusted(inst.db), tpl, "Room benchmark", PASS)
    unlocked = unlock_console(inst.db, inst.secret_key, code, PASS)
    cards: list[str] = []
    while len(cards) < phones:
        batch = min(MAX_CARDS_PER_CALL, phones - len(cards))
        cards += issue_cards(unlocked, batch)
    move_to(unlocked, StagePosition(Stage.VOTING))
    inst.db.dispose()
    return Room(code, cards, len(tpl.methods))


def close_room(where: Server | dict[str, str], code: str) -> None:
    """Close voting as the facilitator would: the last batch (fewer than k) is written."""
    inst = open_instance(settings_from_env(_env_of(where)), migrate_schema=False)
    try:
        unlocked = unlock_console(inst.db, inst.secret_key, code, PASS)
        close_voting(unlocked)
    finally:
        inst.db.dispose()


def stored_ballots(where: Server | dict[str, str], code: str) -> int:
    inst = open_instance(settings_from_env(_env_of(where)), migrate_schema=False)
    try:
        return results.ballot_count(inst.db, code)
    finally:
        inst.db.dispose()


def verified_receipts(where: Server | dict[str, str], code: str, receipts: set[str]) -> int:
    inst = open_instance(settings_from_env(_env_of(where)), migrate_schema=False)
    try:
        return sum(results.verify_receipt(inst.db, code, r) for r in receipts)
    finally:
        inst.db.dispose()


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


# --- what one phase measured ------------------------------------------------------------


@dataclass
class Tally:
    label: str
    phones: int = 0
    connected: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    tap_to_receipt: list[float] = field(default_factory=list)
    receipts: set[str] = field(default_factory=set)
    retries: int = 0
    first_tap_at: float | None = None
    last_tap_at: float | None = None  # the client sends its phones' taps one after another
    last_receipt_at: float | None = None
    handed_back: int = 0
    tickets_handed_back: int = 0
    stored: int = 0
    verified: int = 0
    server_cpu: float | None = None
    client_cpu: float = 0.0
    open_s: float = 0.0
    killed: str = ""
    taps: int = 0
    closed_at: float | None = None
    machine_busy: float | None = None  # share of all cores busy during the burst
    server_pids: tuple[int, ...] = ()
    burst_server_cpu: float | None = None  # the servers' CPU seconds during the burst

    receipt_times: list[float] = field(default_factory=list)

    def receipt(self, receipt: str, seconds: float, now: float) -> None:
        self.tap_to_receipt.append(seconds)
        self.receipts.add(receipt)
        self.receipt_times.append(now)
        self.last_receipt_at = max(self.last_receipt_at or now, now)

    def tapped(self, now: float) -> None:
        self.first_tap_at = min(self.first_tap_at or now, now)
        self.last_tap_at = max(self.last_tap_at or now, now)
        self.taps += 1

    @property
    def window(self) -> float:
        return max(0.0, (self.last_receipt_at or 0) - (self.first_tap_at or 0))

    @property
    def rate(self) -> float:
        """Receipts per second from the first tap to the last receipt, the close included."""
        return len(self.receipts) / self.window if self.receipts and self.window > 0 else 0.0

    @property
    def before_close(self) -> list[float]:
        cut = self.closed_at if self.closed_at is not None else float("inf")
        return [at for at in self.receipt_times if at <= cut]

    @property
    def burst_rate(self) -> float:
        """Receipts per second while the room taps: first tap to the last receipt before the
        facilitator's close. The last few ballots (fewer than k) wait for that close by
        design, and the closer waits a quiet second before it: time that is not casting."""
        times = self.before_close
        if not times or self.first_tap_at is None:
            return 0.0
        span = max(times) - self.first_tap_at
        return len(times) / span if span > 0 else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- phones -----------------------------------------------------------------------------


class Phone:
    """One phone: a websocket page session, and for the new path a keep-alive HTTP line."""

    def __init__(self, n: int, base_url: str, page: str, query: str, args: argparse.Namespace):
        self.n = n
        self.args = args
        self.rng = random.Random(args.seed * 100_003 + n)
        self.base_url = base_url
        locale = "zh-CN" if n % 2 else "en-US"
        ws = base_url.replace("http://", "ws://").replace("https://", "wss://")
        self.client = StreamlitClient(ws, page, query, locale=locale)
        self.http: HttpPhone | None = None

    async def open(self, tally: Tally) -> bool:
        try:
            await self.client.connect(timeout=self.args.run_timeout_s)
            result = await self.client.run(timeout=self.args.run_timeout_s)
        except Exception as exc:
            tally.problems[f"open: {type(exc).__name__}: {exc}"[:120]] += 1
            return False
        if result.status != "FINISHED_SUCCESSFULLY" or result.exceptions:
            tally.problems[f"open: {result.status} {result.exceptions[:1]}"[:160]] += 1
            return False
        tally.connected += 1
        return True

    async def think(self) -> None:
        if self.args.think_s > 0:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.args.think_s)

    async def close(self) -> None:
        await self.client.close()
        if self.http is not None:
            await self.http.close()


async def cast_by_form(p: Phone, card: str, tally: Tally, t0: float) -> None:
    c = p.client
    try:
        options = list(c.widget("ranking").element.options)
        cast = c.widget("cast")
    except KeyError:
        tally.problems["form page: widgets missing"] += 1
        return
    await p.think()
    c.set_value("card", "string_value", card)
    c.set_value("ranking", "string_array_value", realistic_top(sorted(options), 5, p.rng))
    sent = time.perf_counter()
    tally.tapped(sent - t0)
    result = await c.run(
        triggers=[cast.id],
        timeout=p.args.run_timeout_s,
        watch=lambda body: receipt_in(body) is not None,
    )
    receipt = next((r for b in result.markdown if (r := receipt_in(b))), None)
    if receipt is None or result.first_match_s is None:
        tally.problems[f"form cast: {result.status} {result.markdown[-1:]}"[:160]] += 1
        return
    tally.receipt(receipt, result.first_match_s, time.perf_counter() - t0)


async def cast_by_component(p: Phone, tally: Tally, t0: float) -> None:
    data = p.client.components.get(COMPONENT)
    if data is None or p.http is None:
        tally.problems["join page: no ballot component"] += 1
        return
    await p.think()
    keys = sorted(m["key"] for m in data["methods"])  # the room's favourites, not list order
    body = {
        "workshop": data["workshop"],
        "token": data["token"],
        "card": data["card"],
        "ranking": realistic_top(keys, data["k"], p.rng),
        "role": None,
        "lang": data["lang"],
    }
    sent = time.perf_counter()
    tally.tapped(sent - t0)
    answer = None
    ticket_run: asyncio.Task[bool] | None = None
    for attempt in range(4):  # a lost answer (killed process, 502) makes the person tap again
        reply = await p.http.post_json(data["endpoint"], body, timeout=p.args.run_timeout_s)
        if reply.status in (0, 502, 503, 504):
            tally.retries += 1
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        answer = reply.body
        if answer.get("state") == "waiting" and p.args.handback and ticket_run is None:
            # The component hands the ticket to the page at once (one script run), so that a
            # reload while waiting resumes; it polls meanwhile.
            ticket_run = asyncio.create_task(hand_back(p, {"ticket": answer["ticket"]}))
        while answer.get("state") == "waiting":  # a mixed batch: poll as the component does
            await asyncio.sleep(data["pollMs"] / 1000)
            status = {"workshop": data["workshop"], "token": data["token"], "lang": data["lang"]}
            polled = await p.http.post_json(
                data["statusEndpoint"], {**status, "ticket": answer["ticket"]}
            )
            answer = polled.body if polled.status else answer
        break
    if ticket_run is not None and await ticket_run:
        tally.tickets_handed_back += 1
    if not answer or answer.get("state") != "stored":
        tally.problems[f"cast: {answer.get('error') if answer else 'no answer'}"] += 1
        return
    receipt = str(answer["receipt"])
    tally.receipt(receipt, time.perf_counter() - sent, time.perf_counter() - t0)
    if p.args.handback:
        # Off the clock: the component hands the receipt to the page (one more script run).
        low, high = data.get("handbackMs", (0, 0))
        await asyncio.sleep(p.rng.uniform(low, high) / 1000)  # as the component waits
        if await hand_back(p, {"receipt": receipt}):
            tally.handed_back += 1


async def hand_back(p: Phone, value: dict[str, str]) -> bool:
    """The component's setStateValue: one script run of the page; True if the page took it
    (it shows the receipt, or keeps the ticket in its URL)."""
    cid = p.client.component_ids.get(COMPONENT)
    if not cid:
        return False
    p.client.values[cid] = ("json_value", json.dumps(value))
    done = await p.client.run(timeout=p.args.run_timeout_s)
    if "receipt" in value:
        # A heading while voting; a caption once the closer has closed the vote (most
        # hand-backs arrive after it: counting only headings said ~20 of 200).
        return any(value["receipt"] in b for b in done.markdown)
    return done.status not in ("timeout", "closed") and not done.exceptions


async def drive(
    tally: Tally,
    base_url: str,
    page: str,
    queries: list[str],
    cast: Callable[[Phone, int, Tally, float], object],
    args: argparse.Namespace,
    *,
    http: bool,
    on_progress: Callable[[Tally], None] | None = None,
    close: Callable[[], None] | None = None,
) -> None:
    tally.phones = len(queries)
    phones = [Phone(i, base_url, page, q, args) for i, q in enumerate(queries)]
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def ready(p: Phone) -> bool:
        async with gate:
            ok = await p.open(tally)
            if ok and http:
                p.http = HttpPhone(base_url)
                try:
                    await p.http.open()
                except OSError as exc:
                    tally.problems[f"http open: {exc}"[:100]] += 1
                    return False
            return ok

    # A server in a real room is warm (the console has run): one page load first.
    warm = Phone(10**6, base_url, page, queries[0].split("&card=")[0], args)
    await warm.open(Tally("warm"))
    await warm.close()
    start = time.perf_counter()
    ok = await asyncio.gather(*(ready(p) for p in phones))
    tally.open_s = time.perf_counter() - start
    live = [p for p, good in zip(phones, ok, strict=True) if good]
    print(f"  {tally.label}: {len(live)}/{len(phones)} phones on the page in {tally.open_s:.1f} s")

    sampler = CpuSampler(pids=tally.server_pids).__enter__()
    t0 = time.perf_counter()

    async def one(p: Phone) -> None:
        try:
            await cast(p, p.n, tally, t0)  # type: ignore[misc]
        except Exception as exc:
            tally.problems[f"phone error {type(exc).__name__}: {exc}"[:120]] += 1
        if on_progress:
            on_progress(tally)

    async def closer() -> None:
        # Ballots are written in batches of k: once every phone has tapped, fewer than k
        # are still unanswered (only a batch's remainder can wait for the close; a form
        # page's cast is unanswered while Streamlit is still running it) and no receipt
        # has come for a second, the rest wait for the close, which the facilitator does.
        seen = -1
        while True:
            await asyncio.sleep(0.5)
            now = len(tally.receipts) + sum(tally.problems.values())
            unanswered = tally.taps - now
            if tally.taps >= len(live) and unanswered < ROOM_K and now == seen:
                break
            seen = now
        if close is not None:
            tally.closed_at = time.perf_counter() - t0
            await asyncio.to_thread(close)

    closing = asyncio.create_task(closer())
    try:
        await asyncio.wait_for(asyncio.gather(*(one(p) for p in live)), args.timeout_s)
    except TimeoutError:
        tally.problems[f"room timed out after {args.timeout_s} s"] += 1
    closing.cancel()
    await asyncio.gather(closing, return_exceptions=True)
    sampler.__exit__()
    if tally.first_tap_at is not None and tally.before_close:
        burst = (t0 + tally.first_tap_at, t0 + max(tally.before_close))
        tally.machine_busy = sampler.busy(*burst)
        tally.burst_server_cpu = sampler.process_seconds(*burst)
    await asyncio.gather(*(p.close() for p in phones), return_exceptions=True)


# --- phases -----------------------------------------------------------------------------


def _run_phones(room: Coroutine[Any, Any, None]) -> None:
    """The phones' event loop: libuv's (uvloop, a pinned requirement), as the server's. The
    phones share the machine's two cores with the server, and with asyncio's own loop the
    client's per-request work set the pace of a 1,000-phone burst rather than the server."""
    uvloop.run(room)


def _measure(tally: Tally, pids: list[int], run: Callable[[], None]) -> None:
    tally.server_pids = tuple(pids)
    before = [cpu_seconds(p) for p in pids]
    client_before = time.process_time()
    run()
    tally.client_cpu = time.process_time() - client_before
    if pids:
        tally.server_cpu = sum(cpu_seconds(p) - b for p, b in zip(pids, before, strict=True))


def form_phase(args: argparse.Namespace, data_dir: Path) -> Tally:
    tally = Tally("form (baseline)")
    with streamlit_server(
        data_dir, args.database_url, _server_env(args), script="benchmarks/form_page.py"
    ) as server:
        room = open_room(server, args.phones)
        queries = [f"w={room.code}" for _ in room.cards]

        async def cast(p: Phone, n: int, t: Tally, t0: float) -> None:
            await cast_by_form(p, room.cards[n], t, t0)

        _measure(
            tally,
            [server.process.pid],
            lambda: _run_phones(
                drive(
                    tally,
                    server.url,
                    "",
                    queries,
                    cast,
                    args,
                    http=False,
                    close=lambda: close_room(server, room.code),
                )
            ),
        )
        tally.stored = stored_ballots(server, room.code)
        tally.verified = verified_receipts(server, room.code, tally.receipts)
    return tally


def component_phase(
    args: argparse.Namespace,
    label: str,
    base_url: str,
    db_env: dict[str, str],
    pids: list[int],
    kill: Callable[[], str] | None = None,
) -> Tally:
    tally = Tally(label)
    room = open_room(db_env, args.phones)
    queries = [f"w={room.code}&card={card}" for card in room.cards]

    def progress(t: Tally) -> None:
        if kill is not None and not t.killed and len(t.receipts) >= args.phones // 2:
            t.killed = kill()

    async def cast(p: Phone, _n: int, t: Tally, t0: float) -> None:
        await cast_by_component(p, t, t0)

    _measure(
        tally,
        pids,
        lambda: _run_phones(
            drive(
                tally,
                base_url,
                "join",
                queries,
                cast,
                args,
                http=True,
                on_progress=progress,
                close=lambda: close_room(db_env, room.code),
            )
        ),
    )
    tally.stored = stored_ballots(db_env, room.code)
    tally.verified = verified_receipts(db_env, room.code, tally.receipts)
    return tally


def _show_log_on_problems(tally: Tally, log: str, lines: int = 40) -> None:
    """A phase with problems prints the end of its server's log (types only: the routes
    never log a card or a ranking), so a refusal or a 503 says where it came from."""
    if tally.problems or tally.retries:
        tail = "\n".join(log.splitlines()[-lines:])
        print(f"--- {tally.label}: the server log's last {lines} lines ---\n{tail}\n---")


def _server_env(args: argparse.Namespace) -> dict[str, str]:
    return {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}


# --- report -----------------------------------------------------------------------------


def report(tallies: list[Tally]) -> None:
    def row(name: str, cell: Callable[[Tally], str]) -> None:
        print(f"{name:<24}" + "".join(f"{cell(t):>26}" for t in tallies))

    def ms(values: list[float], q: float) -> str:
        return f"{pct(values, q) * 1000:.0f} ms"

    print()
    row("", lambda t: t.label)
    row("phones (on the page)", lambda t: f"{t.phones} ({t.connected})")
    row("acknowledged", lambda t: str(len(t.receipts)))
    row("stored", lambda t: str(t.stored))
    row("acknowledged & found", lambda t: str(t.verified))
    row("tap -> receipt p50", lambda t: ms(t.tap_to_receipt, 0.5))
    row("tap -> receipt p95", lambda t: ms(t.tap_to_receipt, 0.95))
    row("tap -> receipt max", lambda t: ms(t.tap_to_receipt, 1.0))
    row("all receipts within", lambda t: f"{t.window:.2f} s")
    row("all taps sent within", lambda t: f"{(t.last_tap_at or 0) - (t.first_tap_at or 0):.2f} s")
    row("ballots/s (the burst)", lambda t: f"{t.burst_rate:.0f}")
    row("left for the close", lambda t: str(len(t.receipt_times) - len(t.before_close)))
    row("ballots/s (with close)", lambda t: f"{t.rate:.0f}")
    row(
        "machine busy (burst)",
        lambda t: (
            "n/a" if t.machine_busy is None else f"{t.machine_busy:.0%} of {os.cpu_count()} cores"
        ),
    )
    row(
        "server CPU per ballot",
        lambda t: (
            "n/a"
            if not t.burst_server_cpu or not t.before_close
            else f"{t.burst_server_cpu / len(t.before_close) * 1000:.2f} ms"
        ),
    )
    row("server CPU", lambda t: "n/a" if t.server_cpu is None else f"{t.server_cpu:.1f} s")
    row("client CPU", lambda t: f"{t.client_cpu:.1f} s")
    row("taps again (lost answer)", lambda t: str(t.retries))
    row("ticket handed to page", lambda t: str(t.tickets_handed_back))
    row("receipt handed to page", lambda t: str(t.handed_back))
    for t in tallies:
        if t.killed:
            print(f"{t.label}: {t.killed}")
        for problem, count in t.problems.most_common(6):
            print(f"{t.label}: problem x{count}: {problem}")
    for t in tallies:
        print(
            f"room: path={t.label.split()[0]}{'-' + t.label.split()[1] if 'x' in t.label else ''} "
            f"phones={t.phones} acknowledged={len(t.receipts)} stored={t.stored} "
            f"p50_ms={pct(t.tap_to_receipt, 0.5) * 1000:.0f} "
            f"p95_ms={pct(t.tap_to_receipt, 0.95) * 1000:.0f} ballots_per_s={t.burst_rate:.0f}"
            f" with_close_per_s={t.rate:.0f} max_s={t.window:.2f}"
        )
    by = {t.label.split()[0] + (" x" if " x" in t.label else ""): t for t in tallies}
    form, comp, proxied = by.get("form"), by.get("component"), by.get("component x")
    if form and comp:
        print(f"room-ratio: component_vs_form={_ratio(comp, form):.1f}x")
    if comp and proxied:
        print(f"room-ratio: proxied_vs_one_process={_ratio(proxied, comp):.2f}x")


def _ratio(new: Tally, old: Tally) -> float:
    """Burst rates compared; with fewer phones than k every ballot waits for the close, so
    there is no burst to compare and the rates with the close are compared instead."""
    if new.burst_rate and old.burst_rate:
        return new.burst_rate / old.burst_rate
    print("room-ratio basis: with the close (no ballot was stored before it)")
    return new.rate / old.rate if old.rate else 0.0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phones", type=int, default=50)
    ap.add_argument("--path", choices=["both", "component", "form"], default="both")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--replicas", type=int, default=0, help="also N processes behind nginx")
    ap.add_argument("--kill-one", action="store_true", help="SIGKILL replica r0 mid-burst")
    ap.add_argument("--through", default=None, help="component path via this running proxy")
    ap.add_argument("--handback", choices=["on", "off"], default="on")
    ap.add_argument("--think-s", type=float, default=0.0)
    ap.add_argument("--timeout-s", type=float, default=300.0)
    ap.add_argument("--run-timeout-s", type=float, default=120.0)
    ap.add_argument("--connect-concurrency", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args(argv)
    args.handback = args.handback == "on"
    if not 1 <= args.phones <= 2000:
        ap.error("--phones must be 1..2000")
    if args.replicas and not (args.database_url or "").startswith("postgresql"):
        ap.error("--replicas needs --database-url postgresql+psycopg://… (one shared database)")
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * args.phones + 1024), hard))

    tallies: list[Tally] = []
    with tempfile.TemporaryDirectory(prefix="beidui-room-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp)
        if args.path in ("both", "form"):
            print("phase: the Streamlit form page (baseline)", flush=True)
            (data_dir / "form").mkdir()
            tallies.append(form_phase(args, data_dir / "form"))
        if args.path in ("both", "component"):
            if args.through:
                print(f"phase: the ballot component through {args.through}", flush=True)
                tallies.append(
                    component_phase(args, "component via proxy", args.through, dict(os.environ), [])
                )
            else:
                print("phase: the ballot component, one process", flush=True)
                (data_dir / "one").mkdir()
                server = stack.enter_context(
                    streamlit_server(data_dir / "one", args.database_url, _server_env(args))
                )
                tallies.append(
                    component_phase(
                        args, "component (new)", server.url, server.env, [server.process.pid]
                    )
                )
                _show_log_on_problems(tallies[-1], server.log())
                stack.close()
        if args.replicas:
            from scripts.replicas import run_replicas

            print(f"phase: the ballot component, {args.replicas} processes behind nginx")
            (data_dir / "rep").mkdir()
            assert args.database_url is not None
            rep = stack.enter_context(
                run_replicas(
                    args.replicas, data_dir / "rep", args.database_url, extra_env=_server_env(args)
                )
            )
            victim = rep.servers[0]

            def kill() -> str:
                os.kill(victim.process.pid, signal.SIGKILL)
                return f"SIGKILLed replica r0 (pid {victim.process.pid}) at half the receipts"

            tallies.append(
                component_phase(
                    args,
                    f"component x{args.replicas} nginx",
                    rep.url,
                    rep.servers[0].env,
                    [s.process.pid for s in rep.servers],
                    kill if args.kill_one else None,
                )
            )
    report(tallies)


if __name__ == "__main__":
    main()
