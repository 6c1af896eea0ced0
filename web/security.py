"""Middleware we control, wrapped around everything Streamlit serves.

- `/_stcore/metrics` answers 404: it needs no login and tells a watcher when ballots arrive
  (message counts per session), so it is not served at all.
- Security headers on every HTTP answer: a Content-Security-Policy that lets Streamlit's
  own bundle run and nothing from elsewhere (no CDN, no framing by another site),
  `Referrer-Policy: no-referrer` so a card in a join link (`/join?w=..&card=..`) never
  leaves in a Referer, `X-Content-Type-Options: nosniff`, and no camera/microphone/location.

Pure ASGI (not BaseHTTPMiddleware) so the websocket and streamed media pass through
untouched and the hot path pays a header append, nothing more.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DENIED_PATHS = ("/_stcore/metrics",)


def _inline_script_hashes() -> list[str]:
    """CSP hashes of the inline scripts in Streamlit's index.html (read, not hard-coded, so a
    Streamlit upgrade that changes them keeps working)."""
    spec = importlib.util.find_spec("streamlit")  # found, not imported: web/ stays plain
    if spec is None or spec.origin is None:
        return []
    index = Path(spec.origin).parent / "static" / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except OSError:
        return []
    bodies = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
        for b in bodies
    ]


def content_security_policy() -> str:
    script = " ".join(
        [
            "'self'",
            *_inline_script_hashes(),
            # Custom components v2 load their JS from a blob: URL made in the page.
            "blob:",
            # Vega (Altair charts on the projector and results pages) compiles expressions
            # with Function(); without it the charts stay blank.
            "'unsafe-eval'",
        ]
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            # Streamlit's styling (emotion) injects <style> elements at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' data: blob:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "frame-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", content_security_policy().encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_OURS = {name for name, _ in SECURITY_HEADERS}


def is_denied(path: str) -> bool:
    # Also under a base URL path (server.baseUrlPath) and with a trailing slash.
    return any(path.rstrip("/").endswith(denied) for denied in DENIED_PATHS)


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_denied(scope.get("path", "")):
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain"), *SECURITY_HEADERS],
                }
            )
            await send({"type": "http.response.body", "body": b"Not Found"})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
