"""The process's instance for route handlers (routes run outside any Streamlit script run).

The pages hold theirs in `st.cache_resource` (ui/runtime.py); the routes, which must not
import Streamlit, open one here on first use. Both read the same settings from the
environment, so they point at the same database and secret.
"""

from __future__ import annotations

import threading

from core.instance import Instance, open_instance

_lock = threading.Lock()
_instance: Instance | None = None


def instance() -> Instance:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = open_instance()
    return _instance
