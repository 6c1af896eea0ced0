"""What `evaluation_app.py` hands to `st.App`: our routes, our middleware, our lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from web import ballot_api
from web.process import raise_open_file_limit
from web.runtime import instance
from web.security import SecurityMiddleware

ROUTES: list[BaseRoute] = [*ballot_api.ROUTES]


class OurRoutesFirst:
    """Our routes answered first, ahead of Streamlit's own stack (its path checks, session
    cookie, gzip and router: a ballot needs none of them, and they were ~10% of the server's
    GIL time in a 1,000-phone burst); they send the security headers themselves. Only exact
    paths of ours are taken; everything else, and any path under a base URL, goes on to
    Streamlit (which serves the same routes too, inside SecurityMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ours = ballot_api.ENDPOINTS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if ours is not None:
            await ours(scope, receive, send)
            return
        await self.app(scope, receive, send)


# The first is the outermost. Our routes send the security headers themselves
# (web.ballot_api); everything else gets them from SecurityMiddleware.
MIDDLEWARE: list[Middleware] = [Middleware(OurRoutesFirst), Middleware(SecurityMiddleware)]


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Raise the open-files limit (a room needs ~5 per phone) and open (and migrate) the
    routes' instance at start, not under the first ballot."""
    raise_open_file_limit()
    await run_in_threadpool(instance)
    yield
