"""What `evaluation_app.py` hands to `st.App`: our routes and our middleware."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from web import ballot_api
from web.security import SecurityMiddleware

ROUTES: list[BaseRoute] = [*ballot_api.ROUTES]
MIDDLEWARE: list[Middleware] = [Middleware(SecurityMiddleware)]
