"""The house rules, checked: core/ is plain Python; pages only render and call core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_PAGES = (
    "sqlalchemy",
    "core.models",
    "core.db",
    "cryptography",
    "core.crypto",
    "sqlite3",
    "psycopg",
)
# Bare SQLAlchemy constructors, and the session/connection methods that run SQL.
SQL_FUNCTIONS = {"select", "text", "insert", "update", "delete"}
SQL_METHODS = {"execute", "exec_driver_sql", "scalars", "scalar", "query"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_core_never_imports_streamlit() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "core").rglob("*.py")
        if any(n == "streamlit" or n.startswith("streamlit.") for n in _imports(p))
    ]
    assert offenders == []


def test_core_imports_cleanly_when_streamlit_is_unavailable() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "core").rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    )
    code = "import sys; sys.modules['streamlit'] = None\n" + "".join(
        f"import {m}\n" for m in modules
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_pages_import_no_database_or_crypto_module() -> None:
    offenders = {}
    for p in [
        *(ROOT / "pages").glob("*.py"),
        ROOT / "evaluation_app.py",
        *(ROOT / "ui").glob("*.py"),
    ]:
        bad = [n for n in _imports(p) if n.startswith(FORBIDDEN_IN_PAGES)]
        if bad:
            offenders[p.name] = bad
    assert offenders == {}


def test_pages_issue_no_sql() -> None:
    offenders = {}
    for p in (ROOT / "pages").glob("*.py"):
        source = p.read_text(encoding="utf-8")
        tree = ast.parse(source)
        calls = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in SQL_FUNCTIONS:
                    calls.add(node.func.id)
                elif isinstance(node.func, ast.Attribute) and node.func.attr in SQL_METHODS:
                    calls.add(node.func.attr)
        sql_words = [w for w in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM") if w in source]
        if calls or sql_words:
            offenders[p.name] = sorted(calls) + sql_words
    assert offenders == {}


def test_route_handlers_live_in_web_and_call_core_only() -> None:
    """web/ (what st.App serves besides Streamlit) never reaches into Streamlit, the pages,
    the page glue, SQL or crypto: a route does what a page does, through a core service."""
    offenders = {}
    for p in (ROOT / "web").rglob("*.py"):
        bad = [
            n
            for n in _imports(p)
            if n.split(".")[0] in {"streamlit", "pages", "ui"} or n.startswith(FORBIDDEN_IN_PAGES)
        ]
        if bad:
            offenders[p.name] = bad
    assert offenders == {}
    assert (ROOT / "web" / "ballot_api.py").exists()


def test_pages_and_ui_define_no_http_routes() -> None:
    offenders = [
        p.name
        for p in [*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]
        if any(n == "starlette" or n.startswith("starlette.") for n in _imports(p))
    ]
    assert offenders == []
