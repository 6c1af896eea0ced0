"""web.ballot_api's endpoints are plain ASGI apps, mounted as they are by Starlette's Route
too (the path st.App's router serves them on, e.g. under a base URL)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.applications import Starlette

from web import ballot_api


def _call(
    app: Any, method: str, path: str, body: bytes = b"", *, origin: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"host", b"beidui.test"),
            *([(b"origin", origin)] if origin else []),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("beidui.test", 80),
        "scheme": "http",
        "http_version": "1.1",
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_bytes = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body_bytes)


def test_starlettes_router_serves_the_endpoints_as_they_are() -> None:
    router = Starlette(routes=ballot_api.ROUTES)
    status, answer = _call(router, "GET", ballot_api.CAST_PATH)
    assert (status, answer["error"]) == (405, "web.bad_request")
    # A POST without an Origin is refused by the endpoint itself, as on the direct path.
    status, answer = _call(router, "POST", ballot_api.STATUS_PATH, b"{}")
    assert (status, answer["error"]) == (403, "web.forbidden")


def test_a_body_over_the_limit_is_not_read_on_and_is_refused() -> None:
    endpoint = ballot_api.ENDPOINTS[ballot_api.CAST_PATH]
    same_site = b"http://beidui.test"
    huge = b'{"lang": "en"' + b" " * ballot_api.MAX_BODY_BYTES + b"}"
    status, answer = _call(endpoint, "POST", ballot_api.CAST_PATH, huge, origin=same_site)
    assert (status, answer["error"]) == (400, "web.bad_request")
    # Not read, so not its "lang" either: the default language answers.
    assert answer["message"] == "无法读取这张选票。请刷新页面后再试。"
