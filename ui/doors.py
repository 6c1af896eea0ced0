"""Who is knocking, for the attempt limiters: a key a new browser session cannot change.

The client's IP address as the server sees it (`st.context.ip_address`), so opening a fresh
tab or clearing cookies does not reset the count of wrong cards, passphrases or admin
passwords. The address is never stored or shown: the limiter keeps only an HMAC of it under a
per-process key (core/ratelimit.py). Where the server sees no address (a loopback or a
socket), the key falls back to this session; the limiter's per-workshop back-off still caps
how fast fresh sessions can guess.
"""

from __future__ import annotations

import secrets

import streamlit as st

from ui import state


def client_key() -> str:
    try:
        address = st.context.ip_address
    except Exception:  # AppTest without a context, or an older runtime
        address = None
    if address:
        return f"ip:{address}"
    return "session:" + str(
        st.session_state.setdefault(state.LIMITER_CLIENT, secrets.token_hex(16))
    )
