"""The process-wide instance (one engine, one secret) held by `st.cache_resource`."""

from __future__ import annotations

import streamlit as st

from core.config import Settings
from core.instance import Instance, open_instance


@st.cache_resource(show_spinner=False)
def instance() -> Instance:
    return open_instance()


def settings() -> Settings:
    """What a page needs to show addresses and files: the settings, not the database or the
    instance secret (pages that only show things never hold those)."""
    return instance().settings
