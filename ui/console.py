"""The facilitator's open console in this browser: kept in the session and in the URL.

Only the console token travels (query parameter `console`): a random value the database
knows only as a keyed hash, that expires (core.console_access.CONSOLE_SESSION_LIFETIME) and
that "lock" ends everywhere. The passphrase never reaches the browser after it is typed. A reload,
or a laptop waking after the session's time-to-live, finds the token in the URL and resumes.
Only the token string is kept; the `Console` the services take is rebuilt on every run.
The same for the admin (who may create workshops): only the admin token is kept, in the
session, and `admin()` rebuilds the `Admin`. Pages get both from here, never from the database.
"""

from __future__ import annotations

import streamlit as st

from core.console_access import Console, end_console, open_console, resume_console, unlock_console
from core.errors import BeiduiError
from core.instance import Admin, admin_login, resume_admin
from ui import state
from ui.runtime import instance

CONSOLE_PARAM = "console"


def grants() -> dict[str, str]:
    granted: dict[str, str] = st.session_state.setdefault(state.GRANTS, {})
    return granted


def restore_from_url() -> None:
    """Called by the entry point: a console token in the URL reopens its workshop."""
    token = st.query_params.get(CONSOLE_PARAM)
    if not token or token in grants().values():
        return
    inst = instance()
    try:
        code = resume_console(inst.db, inst.secret_key, token).code
    except BeiduiError:  # ended or expired: the facilitator types the passphrase again
        st.query_params.pop(CONSOLE_PARAM, None)
        return
    grants()[code] = token
    st.session_state[state.CONSOLE_CODE] = code


def current() -> Console | None:
    """The console open in this session (for this run only), its token written to the URL."""
    code = st.session_state.get(state.CONSOLE_CODE)
    token = grants().get(code) if code else None
    if not code or not token:
        return None
    if st.query_params.get(CONSOLE_PARAM) != token:
        st.query_params[CONSOLE_PARAM] = token
    return console_for(code, token)


def unlock(code: str, passphrase: str, client_key: str) -> Console:
    """Check the workshop's passphrase (core's attempt limit applies to `client_key`) and
    keep the console open in this session; raises core's named errors unchanged."""
    inst = instance()
    opened = unlock_console(inst.db, inst.secret_key, code, passphrase, client_key=client_key)
    remember(opened)
    return opened


def sign_in_admin(password: str, client_key: str) -> Admin:
    """Check the admin password (with its attempt limit) and keep the admin token in this
    session; raises core's named errors unchanged."""
    signed_in = admin_login(instance(), password, client_key=client_key)
    remember_admin(signed_in)
    return signed_in


def console_for(code: str, token: str) -> Console:
    """The `Console` a kept token stands for (a fragment keeps the token, never the Console)."""
    inst = instance()
    return open_console(inst.db, inst.secret_key, code, token)


def remember(unlocked: Console) -> None:
    """Keep an unlocked console's token (never the `Console`, which holds the database)."""
    grants()[unlocked.code] = unlocked.token
    st.session_state[state.CONSOLE_CODE] = unlocked.code
    st.query_params[CONSOLE_PARAM] = unlocked.token


def lock(code: str) -> None:
    """End the console session on the server and forget it here."""
    token = grants().pop(code, None)
    st.session_state.pop(state.CONSOLE_CODE, None)
    st.query_params.pop(CONSOLE_PARAM, None)
    if token:
        inst = instance()
        end_console(inst.db, inst.secret_key, token)


def admin() -> Admin | None:
    """The admin of this session (for this run only), if the admin password was typed and
    its token has not expired."""
    token = st.session_state.get(state.ADMIN_TOKEN)
    if not token:
        return None
    found = resume_admin(instance(), token)
    if found is None:
        st.session_state.pop(state.ADMIN_TOKEN, None)
    return found


def remember_admin(signed_in: Admin) -> None:
    """Keep the admin token (never the `Admin`, which holds the database)."""
    st.session_state[state.ADMIN_TOKEN] = signed_in.token
