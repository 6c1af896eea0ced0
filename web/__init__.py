"""The HTTP edge that `st.App` serves around Streamlit: our routes and our middleware.

Route handlers here call `core` services only: they never import Streamlit, `pages/` or
`ui/`, never touch SQL or crypto directly, and never log or store anything about a caller
(no IP, no header, no time next to a ballot). `tests/unit/test_architecture.py` keeps that.
"""
