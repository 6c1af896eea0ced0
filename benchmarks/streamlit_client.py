"""A minimal Streamlit 1.67 websocket client: what a browser tab sends, without the browser.

Protocol, as read from `streamlit/web/server/starlette/starlette_websocket.py` and
`streamlit/runtime/app_session.py`:

- Connect to `ws://HOST/_stcore/stream` with the subprotocol list `streamlit[, xsrf[, id]]`.
  Only the first entry is selected; the XSRF token is checked only to read an auth cookie
  (this app has no `st.login`), and the third entry asks to resume a session. No Origin
  header is same-origin enough for the server (a missing Origin is allowed).
- The browser starts every run: `BackMsg.rerun_script` with a `ClientState` holding the
  query string, the page (`page_name` = URL path on the first run, then the
  `page_script_hash` from the `navigation` message), context info (locale, timezone) and
  `widget_states` = every widget value the browser currently holds.
- The server answers with `ForwardMsg`s: `new_session`, `navigation`, `page_info_changed`
  (the query string after the script edited `st.query_params`), `delta`s (each widget
  element carries its `id`), `auto_rerun` (a fragment's `run_every`), and finally
  `script_finished`.
- Widget values: text input and selectbox `string_value` (the selectbox sends the
  *formatted* option), checkbox `bool_value`, button `trigger_value=True` for the one run
  it is clicked, multiselect `string_array_value` of the *formatted* options in tap order
  (1.67's `MultiSelectSerde.deserialize` maps formatted labels back to options).

Figures and limits: one instance holds one session; nothing here retries or reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

# The element types whose value the browser sends back in `widget_states`.
WIDGET_TYPES = frozenset(
    {"text_input", "multiselect", "selectbox", "checkbox", "button", "text_area", "radio"}
)


@dataclass
class Widget:
    """One widget as the server last rendered it."""

    kind: str
    id: str
    element: Any  # the element's proto (e.g. MultiSelect)

    @property
    def user_key(self) -> str | None:
        # Keyed widgets' ids end with `-<user key>` ("$$ID-<hash>-<key>").
        parts = self.id.split("-", 2)
        return parts[2] if len(parts) == 3 and parts[2] != "None" else None


@dataclass
class RunResult:
    """What one script run sent back."""

    status: str  # the `script_finished` status name, or "timeout" / "closed"
    seconds: float
    messages: int
    bytes: int
    markdown: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    first_match_s: float | None = None  # when `watch` first matched a markdown body


class StreamlitClient:
    """One browser tab: connect, run the page, change widgets, read what comes back."""

    def __init__(
        self,
        base_ws_url: str,
        page_name: str,
        query_string: str,
        *,
        locale: str = "en-US",
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.url = base_ws_url.rstrip("/") + "/_stcore/stream"
        self.page_name = page_name
        self.query_string = query_string
        self.locale = locale
        self.timezone = timezone
        self.ws: ClientConnection | None = None
        self.session_id = ""
        self.page_script_hash = ""
        self.widgets: dict[str, Widget] = {}  # by id, from the latest full run
        self.values: dict[str, Any] = {}  # widget id -> (value field, value) the tab holds
        self.auto_reruns: dict[str, float] = {}  # fragment id -> interval (s)
        self.components: dict[str, Any] = {}  # custom component (v2) name -> its JSON data
        self.component_ids: dict[str, str] = {}  # custom component (v2) name -> widget id
        self.extra_headers: dict[str, str] = {}  # e.g. a proxy's sticky cookie
        self._inbox: asyncio.Queue[ForwardMsg | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.bytes_in = 0
        self.messages_in = 0

    # --- connection ---------------------------------------------------------------------

    async def connect(self, timeout: float = 30.0) -> None:
        self.ws = await connect(
            self.url,
            subprotocols=["streamlit"],  # type: ignore[list-item]
            open_timeout=timeout,
            max_size=None,
            ping_interval=None,  # the server pings; the library answers by itself
            close_timeout=2,
            additional_headers=self.extra_headers or None,
        )
        self._reader = asyncio.create_task(self._read_loop())

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _read_loop(self) -> None:
        assert self.ws is not None
        try:
            async for data in self.ws:
                if isinstance(data, str):
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self.bytes_in += len(data)
                self.messages_in += 1
                self._inbox.put_nowait(msg)
        except Exception:
            pass
        finally:
            self._inbox.put_nowait(None)

    # --- running the page ---------------------------------------------------------------

    def _back_msg(self, triggers: Iterable[str] = (), fragment_id: str = "") -> bytes:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        if self.page_script_hash:
            cs.page_script_hash = self.page_script_hash
        else:
            cs.page_name = self.page_name
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = True
        cs.context_info.locale = self.locale
        cs.context_info.timezone = self.timezone
        cs.context_info.timezone_offset = -480
        cs.context_info.url = f"http://127.0.0.1/{self.page_name}?{self.query_string}"
        triggered = set(triggers)
        for wid, (kind, value) in self.values.items():
            ws = cs.widget_states.widgets.add()
            ws.id = wid
            if kind == "string_array_value":
                ws.string_array_value.data.extend(value)
            else:
                setattr(ws, kind, value)
        for wid in triggered:
            ws = cs.widget_states.widgets.add()
            ws.id = wid
            ws.trigger_value = True
        return msg.SerializeToString()

    async def run(
        self,
        *,
        triggers: Iterable[str] = (),
        fragment_id: str = "",
        timeout: float = 60.0,
        watch: Callable[[str], bool] | None = None,
    ) -> RunResult:
        """Send one rerun and read every ForwardMsg up to its `script_finished`."""
        assert self.ws is not None
        # Drop anything still queued from an earlier run (late auto-rerun output etc.).
        while not self._inbox.empty():
            stale = self._inbox.get_nowait()
            if stale is None:
                return RunResult("closed", 0.0, 0, 0)
            self._absorb(stale, None, fragment_id)
        start = time.perf_counter()
        await self.ws.send(self._back_msg(triggers, fragment_id))
        result = RunResult("timeout", 0.0, 0, 0)
        full_run = not fragment_id
        if full_run:
            self.widgets = {}
        deadline = start + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                msg = await asyncio.wait_for(self._inbox.get(), remaining)
            except TimeoutError:
                break
            if msg is None:
                result.status = "closed"
                break
            result.messages += 1
            result.bytes += msg.ByteSize()
            self._absorb(msg, result, fragment_id)
            if watch and result.first_match_s is None and any(watch(b) for b in result.markdown):
                result.first_match_s = time.perf_counter() - start
            if msg.WhichOneof("type") == "script_finished":
                result.status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                # A run the script itself restarted (st.rerun) finishes with
                # FINISHED_EARLY_FOR_RERUN and is followed by the rerun's own messages.
                if result.status != "FINISHED_EARLY_FOR_RERUN":
                    break
                if full_run:
                    self.widgets = {}  # the rerun renders the page afresh
        result.seconds = time.perf_counter() - start
        return result

    def _absorb(self, msg: ForwardMsg, result: RunResult | None, fragment_id: str) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
        elif kind == "navigation":
            if msg.navigation.page_script_hash:
                self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            etype = el.WhichOneof("type")
            if etype in WIDGET_TYPES:
                proto = getattr(el, etype)
                self.widgets[proto.id] = Widget(etype, proto.id, proto)
                self._take_server_value(etype, proto)
            elif etype == "bidi_component" and el.bidi_component.WhichOneof("data") == "json":
                comp = el.bidi_component
                self.components[comp.component_name] = json.loads(comp.json)
                self.component_ids[comp.component_name] = comp.id
            elif result is not None and etype == "markdown":
                result.markdown.append(el.markdown.body)
            elif result is not None and etype == "exception":
                result.exceptions.append(
                    f"{el.exception.type}: {el.exception.message} "
                    + " | ".join(el.exception.stack_trace[-3:])
                )
            elif result is not None and etype == "alert":
                result.markdown.append(el.alert.body)

    def _take_server_value(self, etype: str, proto: Any) -> None:
        """Keep values the server pushed (`set_value`, e.g. from `st.session_state`)."""
        if not getattr(proto, "set_value", False):
            return
        if etype == "text_input":
            self.values[proto.id] = ("string_value", proto.value)
        elif etype == "checkbox":
            self.values[proto.id] = ("bool_value", proto.value)
        elif etype == "multiselect":
            self.values[proto.id] = ("string_array_value", list(proto.raw_values))
        elif etype == "selectbox" and proto.HasField("raw_value"):
            self.values[proto.id] = ("string_value", proto.raw_value)

    # --- the user's taps ----------------------------------------------------------------

    def widget(self, user_key: str) -> Widget:
        for w in self.widgets.values():
            if w.user_key == user_key:
                return w
        raise KeyError(f"no widget with key {user_key!r} in the last run")

    def set_value(self, user_key: str, value_field: str, value: Any) -> Widget:
        w = self.widget(user_key)
        self.values[w.id] = (value_field, value)
        return w


async def wait_for_receipt(
    c: StreamlitClient, texts: list[str], timeout: float, interval: float = 0.5
) -> str | None:
    """After the cast tap: the phone shows "sealed — waiting for N more ballots" until its
    batch of k is stored, then its receipt (pages/join.py polls in a `run_every` fragment).
    Tick that fragment as a browser would until a receipt or an error shows; texts shown
    are appended to `texts`. None on timeout or error."""
    deadline = time.monotonic() + timeout
    while True:
        if (receipt := next((r for b in texts if (r := receipt_in(b))), None)) is not None:
            return receipt
        if time.monotonic() >= deadline or not c.auto_reruns:
            return None
        await asyncio.sleep(interval)
        for fragment_id in list(c.auto_reruns):
            result = await c.run(
                fragment_id=fragment_id, timeout=max(1.0, deadline - time.monotonic())
            )
            texts.extend(result.markdown + result.exceptions)
            if result.status == "FINISHED_SUCCESSFULLY":
                # The fragment restarted the page (st.rerun): the ballot was refused.
                return next((r for b in texts if (r := receipt_in(b))), None)


RECEIPT_PATTERN = re.compile(r"#\s*`([A-Z0-9]{3,}(?:-[A-Z0-9]+)+)`")


def receipt_in(markdown: str) -> str | None:
    """The receipt code in the join page's receipt markdown (`# \\`ABCDE-FGHJK\\``)."""
    m = RECEIPT_PATTERN.search(markdown)
    return m.group(1) if m else None
