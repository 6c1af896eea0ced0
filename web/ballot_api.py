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
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core import ballot_values, batches, casting
from core.errors import BeiduiError
from core.i18n import normalize_language, t, tm
from core.instance import Instance
from core.ratelimit import TooManyAttempts
from web import page_token
from web.runtime import instance

MAX_BODY_BYTES = 4096  # a ballot is a code, a card, at most a dozen keys and a role
# At most this many casts run in threads at once; the others wait in the event loop, which
# costs nothing. Without it a burst of 1,000 phones put 28 threads on the GIL and more
# casts than the PostgreSQL pool has connections (a pool timeout answered 500 to 34 of
# 1,000 phones in benchmarks/room.py); 8 threads is what benchmarks/cast.py measures with.
# The casts wait in the executor's queue: a thread pool of our own rather than Starlette's
# `run_in_threadpool` (anyio's capacity limiter and cancel scopes were ~10% of the server's
# GIL time in a 1,000-phone burst, py-spy --gil).
CAST_CONCURRENCY = 8
_CASTING = ThreadPoolExecutor(max_workers=CAST_CONCURRENCY, thread_name_prefix="ballot")
_LOG = logging.getLogger("beidui.web")
_T = TypeVar("_T")


async def _in_thread(call: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_CASTING, call)


@dataclass(frozen=True)
class Answer:
    """What the phone is told: stored (with a receipt), waiting (with a ticket) or refused."""

    state: str
    receipt: str | None = None
    ticket: str | None = None
    waiting_for: int = 0


# --- the seam: the only two places that call core's casting service ------------------------
# Casting is in mixed batches (core.batches): a ballot is sealed and queued in this process's
# memory and written with at least k others, so the first answer is often "waiting", with a
# ticket the component polls by. Tickets live in this process's memory only; the proxy keeps
# a phone on the process that holds its ticket (and a lost ticket means the card is unused).


def _from_status(ticket: str, found: casting.BallotStatus) -> Answer:
    if found.state is casting.BallotState.STORED:
        return Answer(state="stored", receipt=found.receipt)
    if found.state is casting.BallotState.REFUSED:
        raise found.error or batches.BallotNotStored("batch refused")
    return Answer(state="waiting", ticket=ticket, waiting_for=found.waiting_for)


def submit(
    inst: Instance,
    code: str,
    card: str | None,
    ranking: list[str],
    role: str | None,
    *,
    client_key: str,
) -> Answer:
    """Hand one ballot to core; raises core's named errors unchanged."""
    ticket = casting.submit_ballot(
        inst.db, inst.secret_key, code, card, ranking, role, client_key=client_key
    )
    return _from_status(ticket.id, casting.ballot_status(ticket.id, workshop=code))


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
    if answer.state != "waiting" or not answer.ticket:
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
            await asyncio.wait_for(written, SETTLE_SECONDS)
    except (TimeoutError, casting.UnknownTicket):
        pass
    return status(instance(), code, answer.ticket) or answer


def limiter_key(request: Request, session_nonce: str) -> str:
    """The attempt limiter's key, as ui.doors makes it for pages: the client's address, so a
    new session does not reset the count; the page session where the server sees only a
    loopback peer (a local proxy in front, or a test)."""
    host = request.client.host if request.client else None
    if host and host not in {"127.0.0.1", "::1", "localhost"}:
        return f"ip:{host}"
    return f"session:{session_nonce}"


# --- request checks ---------------------------------------------------------------------


def _refused(status_code: int, key: str, lang: str, **params: Any) -> JSONResponse:
    return _json({"state": "refused", "error": key, "message": t(key, lang, **params)}, status_code)


def _json(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    # Receipts and tickets must never sit in a shared cache.
    return JSONResponse(body, status_code, headers={"Cache-Control": "no-store"})


def _answer(answer: Answer) -> JSONResponse:
    if answer.state == "stored":
        return _json({"state": "stored", "receipt": answer.receipt})
    return _json(
        {"state": "waiting", "ticket": answer.ticket, "waiting_for": answer.waiting_for}, 202
    )


def same_origin(request: Request) -> bool:
    """The browser's Origin names the host this request was sent to (via the proxy, too)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if not origin or not host or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


async def _read_json(request: Request) -> dict[str, Any] | None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def _checked(request: Request) -> tuple[dict[str, Any], str, str, str] | JSONResponse:
    """(body, lang, code, client_key), or the refusal to send."""
    data = await _read_json(request)
    lang = normalize_language(str((data or {}).get("lang") or ""))
    if not same_origin(request):
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


def _refusal_for(err: BeiduiError, lang: str, status_code: int = 422) -> JSONResponse:
    code = 429 if isinstance(err, TooManyAttempts) else status_code
    return _json({"state": "refused", "error": err.key, "message": tm(err.message, lang)}, code)


async def cast(request: Request) -> JSONResponse:
    checked = await _checked(request)
    if isinstance(checked, JSONResponse):
        return checked
    data, lang, code, client_key = checked
    ranking = data.get("ranking")
    if not isinstance(ranking, list) or not all(isinstance(m, str) for m in ranking):
        return _refused(400, "web.bad_request", lang)
    try:
        answer = await _in_thread(
            partial(
                submit,
                instance(),
                code,
                _text_or_none(data.get("card")),
                ranking,
                _text_or_none(data.get("role")),
                client_key=limiter_key(request, client_key),
            )
        )
        answer = await _settled(code, answer)
    except BeiduiError as err:
        return _refusal_for(err, lang)
    except Exception as exc:  # e.g. the database went away: say so, in the phone's language
        # The type only: a message could carry the card, and logs outlive the workshop.
        _LOG.error("ballot route failed: %s", type(exc).__name__)
        return _refused(503, "errors.generic", lang)
    return _answer(answer)


async def ballot_status(request: Request) -> JSONResponse:
    checked = await _checked(request)
    if isinstance(checked, JSONResponse):
        return checked
    data, lang, code, _client = checked
    ticket = data.get("ticket")
    if not isinstance(ticket, str) or not ticket or len(ticket) > 100:
        return _refused(400, "web.bad_request", lang)
    try:
        answer = await _in_thread(partial(status, instance(), code, ticket))
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

ROUTES = [
    Route(CAST_PATH, cast, methods=["POST"]),
    Route(STATUS_PATH, ballot_status, methods=["POST"]),
]
