"""Home: what Beidui is for and how to take part, in the reader's language."""

import streamlit as st

from ui.i18n import tr
from ui.routing import ensure_entry_point

ensure_entry_point()

st.title(tr("home.title"))
st.markdown(tr("home.intro"))
col1, col2, col3 = st.columns(3)
with col1:
    st.subheader(tr("home.participants_title"))
    st.markdown(tr("home.participants_body"))
with col2:
    st.subheader(tr("home.facilitators_title"))
    st.markdown(tr("home.facilitators_body"))
with col3:
    st.subheader(tr("home.anonymity_title"))
    st.markdown(tr("home.anonymity_body"))
