"""The console's notice when the table files still hold replaced row versions.

What is left comes from `core.storage_residual`; the one button retries the rewrite.
"""

from __future__ import annotations

import streamlit as st

from core.console_access import Console
from core.mix import Scrub
from core.storage_residual import scrub_again, storage_residual
from ui import state
from ui.i18n import tr


def storage_notice(unlocked: Console) -> None:
    """Nothing while storage is clean; otherwise what is left, why, and one button to retry."""
    residual = storage_residual(unlocked)
    if not residual.tables:
        return
    key = (
        "facilitator.storage_residual_refused"
        if residual.refused
        else "facilitator.storage_residual"
    )
    st.warning(tr(key, tables=", ".join(residual.tables)))
    if st.button(tr("facilitator.scrub_again"), key="scrub_again"):
        outcome = scrub_again(unlocked)
        if outcome is Scrub.DONE:
            st.session_state[state.FLASH] = tr("facilitator.scrub_done")
            st.rerun()
        held = outcome is Scrub.SNAPSHOT_HELD
        st.error(tr("facilitator.scrub_held") if held else tr("facilitator.scrub_failed"))
