"""The page edge: every core call a person triggers goes through `attempt`, which turns each
class of failure into a localized message instead of Streamlit's English crash box.

- a domain error (`BeiduiError`): its own message;
- the database held locked or unreachable (SQLAlchemy `OperationalError`, a pool timeout):
  "busy, your text is kept, try again" — the page keeps what was typed;
- malformed input a tampered client sent (a value no widget could produce: `KeyError`,
  `ValueError`, `TypeError`, `StopIteration` while handling it): "could not be read".

Nothing is logged that names the person or the input; the exception class alone goes to the
server log so a real bug is still visible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core.errors import BeiduiError, is_storage_busy
from ui.i18n import error_text, tr

T = TypeVar("T")
log = logging.getLogger("beidui.pages")

# Classes a tampered client can provoke in page code around a service call.
_MALFORMED = (KeyError, ValueError, TypeError, StopIteration, LookupError)


def problem_text(err: BaseException) -> str | None:
    """The localized message for a failure the page edge handles, else None (a real bug)."""
    if isinstance(err, BeiduiError):
        return error_text(err)
    if is_storage_busy(err):
        log.warning("storage busy: %s", type(err).__name__)
        return tr("errors.storage_busy")
    if isinstance(err, _MALFORMED):
        log.warning("malformed input: %s", type(err).__name__)
        return tr("errors.malformed_input")
    return None


def attempt(action: Callable[[], T], where: Any = None) -> tuple[bool, T | None]:
    """Run `action`; on a handled failure show its message (in `where`, default the page)
    and return (False, None). Anything else is a bug and propagates."""
    try:
        return True, action()
    except Exception as err:
        text = problem_text(err)
        if text is None:
            raise
        (where or st).error(text)
        return False, None
