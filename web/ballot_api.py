"""The ballot's hot path: one POST from the phone's ballot component, answered with a receipt.

Protocol (JSON both ways; `lang` picks the language of `message`):

    POST /api/ballot         {workshop, token, card, ranking: [method keys], role, lang}
    POST /api/ballot/status  {workshop, token, ticket, lang}

Both answer one of
    200 {"state": "stored",  "receipt": R}
    202 {"state": "waiting", "ticket": T, "waiting_for": N}   (poll /status with T)
    4xx {"state": "refused", "error": KEY, "message": TEXT}
where KEY is the domain error's locale key (the same named errors the pages show) or
`web.forbidden` (origin/token check failed, 403), `web.bad_request` (400),
`web.unknown_ticket` (404); `crypto.too_many_attempts` comes with 429.

Why a request can be trusted (XSRF): the route accepts only `application/json` (a
cross-site form cannot send it without a CORS preflight, which we never grant), only with
an `Origin` whose host is this request's `Host` (browsers always send Origin on a POST),
and only with a page token (`web.page_token`) minted for this workshop by a page we
rendered. Streamlit's own XSRF cookie is not reused: it is an internal of the websocket
handshake and would tie the route to one replica's cookie secret; the signed token is
stateless, so any replica behind the proxy can check it.

Nothing about the request is logged or stored: the token's nonce is the card limiter's
in-memory client key and goes nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from core import ballot_values, batches, casting
from core.errors import BeiduiError
from core.i18n import normalize_language, t, tm
from core.instance import Instance
from core.ratelimit import TooManyAttempts
from web import page_token
from web.runtime import instance
from web.security import SECURITY_HEADERS

MAX_BODY_BYTES = 4096  # a ballot is a code, a card, at most a dozen keys and a role
# At most this many threads cast at once; the other casts wait in the inbox, which costs
# nothing. Without a bound a burst of 1,000 phones put 28 threads on the GIL and more
# casts than the PostgreSQL pool has connections (a pool timeout answered 500 to 34 of
# 1,000 phones in benchmarks/room.py); 8 threads is what benchmarks/cast.py measures with.
# The threads are our own and hand the answers straight to the event loop: Starlette's
# `run_in_threadpool` (anyio's capacity limiter and cancel scopes) and then an executor's
# chained futures were each ~6-10% of the server's GIL time in a 1,000-phone burst.
CAST_CONCURRENCY = 8
# Casts that arrive while the threads are busy wait in an inbox, and a thread takes all of
# them (at most this many) in one go: `casting.submit_ballots` then reads the stage and the
# group's cards once, and the answers go back to the event loop in one call.
MAX_GROUP = 128
_LOG = logging.getLogger("beidui.web")
_QUEUE: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_WORKERS: list[threading.Thread] = []
_WORKERS_GUARD = threading.Lock()


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the request went away meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _settle_all(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in outcomes:
        _settle(future, value, error)


def _work() -> None:
    while True:
        job = _QUEUE.get()
        try:
            job()  # a drain answers its own casts
        except Exception as exc:  # keep the thread: the type only (a message may hold a card)
            _LOG.error("ballot thread job failed: %s", type(exc).__name__)


def _start_workers() -> None:
    with _WORKERS_GUARD:
        while len(_WORKERS) < CAST_CONCURRENCY:
            worker = threading.Thread(target=_work, name="ballot", daemon=True)
            worker.start()
            _WORKERS.append(worker)


def _run(job: Callable[[], None]) -> None:
    if len(_WORKERS) < CAST_CONCURRENCY:
        _start_workers()
    _QUEUE.put(job)


def _hand_back(
    loop: asyncio.AbstractEventLoop,
    outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]],
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
        loop.call_soon_threadsafe(_settle_all, outcomes)


@dataclass(frozen=True)
class _Cast:
    code: str
    request: casting.BallotRequest
    future: asyncio.Future[Answer]
    loop: asyncio.AbstractEventLoop


class _Inbox:
    """The casts waiting for a ballot thread. At most CAST_CONCURRENCY threads drain it at
    once; each takes everything that waits (up to MAX_GROUP) each time round."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._casts: list[_Cast] = []
        self._draining = 0

    def add(self, cast: _Cast) -> bool:
        """Queue `cast`; True if the caller should start another drain."""
        with self._lock:
            self._casts.append(cast)
            start = self._draining < CAST_CONCURRENCY
            self._draining += start
            return start

    def take(self) -> list[_Cast]:
        """The next group (requests that went away are dropped: nothing is cast for them);
        [] ends this drain."""
        with self._lock:
            while self._casts:
                group, self._casts = self._casts[:MAX_GROUP], self._casts[MAX_GROUP:]
                live = [c for c in group if not c.future.cancelled()]
                if live:
                    return live
            self._draining -= 1
            return []

    def stopped(self) -> None:
        """A drain ended without emptying the inbox."""
        with self._lock:
            self._draining -= 1


_INBOX = _Inbox()


def _drain() -> None:
    try:
        while group := _INBOX.take():
            try:
                _cast_and_answer(group)
            except Exception as exc:  # a bug, not a ballot: each cast hears it, the drain goes on
                for loop in {c.loop for c in group}:
                    _hand_back(loop, [(c.future, None, exc) for c in group if c.loop is loop])
    except BaseException:
        _INBOX.stopped()  # the thread is going down: let another drain start
        raise


def _cast_and_answer(group: list[_Cast]) -> None:
    by_code: dict[str, list[_Cast]] = {}
    for cast in group:
        by_code.setdefault(cast.code, []).append(cast)
    for code, casts in by_code.items():
        outcomes = list(zip(casts, _cast_group(code, casts), strict=True))
        for loop in {c.loop for c in casts}:
            _hand_back(loop, [o for c, o in outcomes if c.loop is loop])


def _cast_group(
    code: str, casts: list[_Cast]
) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
    answers = submit_group(instance(), code, [c.request for c in casts])
    return [
        (c.future, None, a) if isinstance(a, BaseException) else (c.future, a, None)
        for c, a in zip(casts, answers, strict=True)
    ]


async def _submit_grouped(code: str, request: casting.BallotRequest) -> Answer:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Answer] = loop.create_future()
    if _INBOX.add(_Cast(code, request, future, loop)):
        _run(_drain)
    return await future


@dataclass(frozen=True)
class Answer:
    """What the phone is told: stored (with a receipt), waiting (with a ticket) or refused."""

    state: casting.BallotState
    receipt: str | None = None
    ticket: str | None = None
    waiting_for: int = 0


# --- the seam: the only places that call core's casting service -----------------------------
# Casting is in mixed batches (core.batches): a ballot is sealed and queued in this process's
# memory and written with at least k others, so the first answer is often "waiting", with a
# ticket the component polls by. Tickets live in this process's memory only; the proxy keeps
# a phone on the process that holds its ticket (and a lost ticket means the card is unused).


def _from_status(ticket: str, found: casting.BallotStatus) -> Answer:
    if found.state is casting.BallotState.STORED:
        return Answer(state=casting.BallotState.STORED, receipt=found.receipt)
    if found.state is casting.BallotState.REFUSED:
        raise found.error or batches.BallotNotStored("batch refused")
    return Answer(state=casting.BallotState.WAITING, ticket=ticket, waiting_for=found.waiting_for)


def submit_group(
    inst: Instance, code: str, requests: list[casting.BallotRequest]
) -> list[Answer | BaseException]:
    """Hand a group of ballots to core (`casting.submit_ballots`): each one's answer or the
    error to answer it with (core's named errors unchanged; an error of the workshop or
    the database reaches every ballot of the group)."""
    try:
        results: list[Any] = casting.submit_ballots(inst.db, inst.secret_key, code, requests)
    except BaseException as exc:
        results = [exc] * len(requests)
    answers: list[Answer | BaseException] = []
    for result in results:
        try:
            if isinstance(result, BaseException):
                raise result
            found = casting.ballot_status(result.id, workshop=code)
            answers.append(_from_status(result.id, found))
        except BaseException as exc:
            answers.append(exc)
    return answers


def submit(
    inst: Instance,
    code: str,
    card: str | None,
    ranking: list[str],
    role: str | None,
    *,
    client_key: str,
) -> Answer:
    """One ballot as the route hands it over (a group of one); raises core's named errors."""
    (answer,) = submit_group(inst, code, [casting.BallotRequest(card, ranking, role, client_key)])
    if isinstance(answer, BaseException):
        raise answer
    return answer


def status(inst: Instance, code: str, ticket: str) -> Answer | None:
    """Where a waiting ballot of workshop `code` is; None for a ticket this process does not
    know, or one of another workshop."""
    del inst  # the queue is this process's memory; no database read
    try:
        found = casting.ballot_status(ticket, workshop=code)
    except casting.UnknownTicket:
        return None
    return _from_status(ticket, found)


# A ballot whose batch fills within this time is answered "stored" in the same request
# (a burst fills batches in milliseconds). The request awaits core's completion callback:
# no thread and no timer per waiting phone, and the receipt goes out as soon as the batch
# is committed.
SETTLE_SECONDS = 2.0


async def _settled(code: str, answer: Answer) -> Answer:
    if answer.state is not casting.BallotState.WAITING or not answer.ticket:
        return answer
    loop = asyncio.get_running_loop()
    written: asyncio.Future[None] = loop.create_future()

    def resolve() -> None:
        if not written.done():
            written.set_result(None)

    def wake() -> None:  # runs on the thread that wrote the batch
        loop.call_soon_threadsafe(resolve)

    try:
        if casting.notify_when_done(answer.ticket, wake, workshop=code):
            # A plain timer, not `asyncio.wait_for` (a task and a waiter per request).
            timer = loop.call_later(SETTLE_SECONDS, resolve)
            try:
                await written
            finally:
                timer.cancel()
    except casting.UnknownTicket:
        pass
    return status(instance(), code, answer.ticket) or answer


def limiter_key(call: Call, session_nonce: str) -> str:
    """The attempt limiter's key, as ui.doors makes it for pages: the client's address, so a
    new session does not reset the count; the page session where the server sees only a
    loopback peer (a local proxy in front, or a test)."""
    host = call.client_host
    if host and host not in {"127.0.0.1", "::1", "localhost"}:
        return f"ip:{host}"
    return f"session:{session_nonce}"


# --- the request and the reply, as plain values ------------------------------------------
# The two routes are plain ASGI (no Starlette Request, Route or JSONResponse): a burst of a
# thousand ballots is this server's busiest moment, and those layers were a tenth of its
# GIL time. What a route needs of a request is three headers, the peer and a small body.


@dataclass(frozen=True)
class Call:
    """One POST to a ballot route: the headers it needs, the peer's address, the body."""

    origin: str | None
    host: str | None
    content_type: str
    client_host: str | None
    body: bytes | None
    """None: longer than MAX_BODY_BYTES (not read further)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


_JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"application/json"),
    # Receipts and tickets must never sit in a shared cache.
    (b"cache-control", b"no-store"),
    # Sent here rather than added by web.security's middleware around every answer: these
    # routes are answered ahead of it (web.app), saving a header rewrite per ballot.
    *SECURITY_HEADERS,
)


async def _read_call(scope: Scope, receive: Receive) -> Call:
    headers = {k: v for k, v in scope.get("headers", ()) if k in _WANTED_HEADERS}
    body, more, too_long = b"", True, False
    while more and not too_long:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        more = message.get("more_body", False)
        too_long = len(body) > MAX_BODY_BYTES
    client = scope.get("client")
    return Call(
        origin=_header(headers, b"origin"),
        host=_header(headers, b"host"),
        content_type=_header(headers, b"content-type") or "",
        client_host=client[0] if client else None,
        body=None if too_long else body,
    )


_WANTED_HEADERS = frozenset({b"origin", b"host", b"content-type"})


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


async def _send(send: Send, reply: Reply) -> None:
    payload = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class Endpoint:
    """A POST-only ASGI app around `handler` (405 for any other method). A class, not a
    function, so that Starlette's `Route` mounts it as an ASGI app as it is."""

    def __init__(self, handler: Callable[[Call], Awaitable[Reply]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _send(send, _refused(405, "web.bad_request", normalize_language(None)))
            return
        await _send(send, await self.handler(await _read_call(scope, receive)))


# --- request checks ---------------------------------------------------------------------


def _refusal(status_code: int, key: str, message: str) -> Reply:
    return Reply(
        status_code, {"state": casting.BallotState.REFUSED, "error": key, "message": message}
    )


def _refused(status_code: int, key: str, lang: str, **params: Any) -> Reply:
    return _refusal(status_code, key, t(key, lang, **params))


def _answer(answer: Answer) -> Reply:
    if answer.state is casting.BallotState.STORED:
        return Reply(200, {"state": answer.state, "receipt": answer.receipt})
    return Reply(
        202, {"state": answer.state, "ticket": answer.ticket, "waiting_for": answer.waiting_for}
    )


def same_origin(call: Call) -> bool:
    """The browser's Origin names the host this request was sent to (via the proxy, too)."""
    origin, host = call.origin, call.host
    if not origin or not host or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def _read_json(call: Call) -> dict[str, Any] | None:
    if call.content_type.split(";")[0].strip() != "application/json" or call.body is None:
        return None
    try:
        data = json.loads(call.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _checked(call: Call) -> tuple[dict[str, Any], str, str, str] | Reply:
    """(body, lang, code, client_key), or the refusal to send."""
    data = _read_json(call)
    lang = normalize_language(str((data or {}).get("lang") or ""))
    if not same_origin(call):
        return _refused(403, "web.forbidden", lang)
    if data is None:
        return _refused(400, "web.bad_request", lang)
    inst = instance()
    try:
        code = ballot_values.join_code(data.get("workshop"))  # type: ignore[arg-type]
    except BeiduiError as err:
        return _refusal_for(err, lang, 400)
    token = page_token.check(inst.secret_key, code, data.get("token"))
    if token is None:
        return _refused(403, "web.forbidden", lang)
    return data, lang, code, token.client_key


def _refusal_for(err: BeiduiError, lang: str, status_code: int = 422) -> Reply:
    code = 429 if isinstance(err, TooManyAttempts) else status_code
    return _refusal(code, err.key, tm(err.message, lang))


async def cast(call: Call) -> Reply:
    checked = _checked(call)
    if isinstance(checked, Reply):
        return checked
    data, lang, code, client_key = checked
    ranking = data.get("ranking")
    if not isinstance(ranking, list) or not all(isinstance(m, str) for m in ranking):
        return _refused(400, "web.bad_request", lang)
    try:
        request = casting.BallotRequest(
            _text_or_none(data.get("card")),
            ranking,
            _text_or_none(data.get("role")),
            limiter_key(call, client_key),
        )
        answer = await _submit_grouped(code, request)
        answer = await _settled(code, answer)
    except BeiduiError as err:
        return _refusal_for(err, lang)
    except Exception as exc:  # e.g. the database went away: say so, in the phone's language
        # The type only: a message could carry the card, and logs outlive the workshop.
        _LOG.error("ballot route failed: %s", type(exc).__name__)
        return _refused(503, "errors.generic", lang)
    return _answer(answer)


async def ballot_status(call: Call) -> Reply:
    checked = _checked(call)
    if isinstance(checked, Reply):
        return checked
    data, lang, code, _client = checked
    ticket = data.get("ticket")
    if not isinstance(ticket, str) or not ticket or len(ticket) > 100:
        return _refused(400, "web.bad_request", lang)
    try:
        # Memory only (a dict and a queue under short locks): answered on the event loop.
        answer = status(instance(), code, ticket)
    except BeiduiError as err:
        return _refusal_for(err, lang)
    if answer is None:
        return _refused(404, "web.unknown_ticket", lang)
    try:
        answer = await _settled(code, answer)  # a long poll: answered the moment the batch is in
    except BeiduiError as err:
        return _refusal_for(err, lang)
    return _answer(answer)


CAST_PATH = "/api/ballot"
STATUS_PATH = "/api/ballot/status"
ENDPOINTS: dict[str, Endpoint] = {
    CAST_PATH: Endpoint(cast),
    STATUS_PATH: Endpoint(ballot_status),
}
# The same endpoints for st.App's router (a path under a base URL reaches them there).
ROUTES = [Route(path, app) for path, app in ENDPOINTS.items()]
