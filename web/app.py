"""What `evaluation_app.py` hands to `st.App`: our routes, our middleware, our lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from web import ballot_api
from web.process import raise_open_file_limit
from web.runtime import instance
from web.security import SecurityMiddleware

ROUTES: list[BaseRoute] = [*ballot_api.ROUTES]
MIDDLEWARE: list[Middleware] = [Middleware(SecurityMiddleware)]


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Raise the open-files limit (a room needs ~5 per phone) and open (and migrate) the
    routes' instance at start, not under the first ballot."""
    raise_open_file_limit()
    await run_in_threadpool(instance)
    yield
