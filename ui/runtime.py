"""The process-wide instance (one engine, one secret) held by `st.cache_resource`."""

from __future__ import annotations

import streamlit as st

from core.instance import Instance, open_instance


@st.cache_resource(show_spinner=False)
def instance() -> Instance:
    return open_instance()
