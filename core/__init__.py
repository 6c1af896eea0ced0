"""Beidui core: plain Python domain, storage, ballots, tally, crypto, exports and i18n.

Nothing in this package imports Streamlit; pages call one service function per user action.
"""
