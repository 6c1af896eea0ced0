"""Streamlit-side helpers shared by pages: the cached instance, language, session keys.

Only rendering glue lives here; every decision is a call into `core`.
"""
