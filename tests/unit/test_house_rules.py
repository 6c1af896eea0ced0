"""The shape of the house (docs/architecture.md), checked on the source.

- Layers, top to bottom: pages -> ui -> web -> core. A module never imports from a layer
  above its own; core never imports Streamlit (test_architecture.py).
- Inside core, steps sit on foundations: a foundation module (values, rules, counting,
  crypto, storage) never imports a service module.
- No import circle anywhere in our code, counting imports inside functions too (an import
  tucked into a function is how a circle hides).
- Size: no core module over 500 lines, no core function over 80 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "web", "ui", "pages")
LAYER = {"pages": 3, "ui": 2, "web": 1, "core": 0}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    found = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if "migrations" not in p.parts
    }
    found["evaluation_app"] = ROOT / "evaluation_app.py"
    return {name.removesuffix(".__init__"): p for name, p in found.items()}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours that `import name` / `from name import x` loads, if any."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(module of ours, line, inside a function?) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function |= {id(n) for n in ast.walk(node) if n is not node}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from core import ballots` loads core.ballots, not only the package.
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            target = _resolve(name)
            if target is not None:
                yield target, node.lineno, id(node) in in_function


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for target, _line, _local in imports_of(path):
            if target != name and not name.startswith(target + "."):
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> int:
    return LAYER.get(module.split(".")[0], 4)  # evaluation_app: the top


def test_there_is_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if _layer(target) > _layer(name)
    )
    assert upward == []


def test_core_modules_and_functions_stay_small() -> None:
    too_long: list[str] = []
    for name, path in MODULES.items():
        if not name.startswith("core"):
            continue
        source = path.read_text(encoding="utf-8")
        if (n := len(source.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {n} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


# Inside core: the values, rules and tools every step builds on. They never import a
# workflow step (workshops, notes, cards, casting, the mix, the reveal, results, exports,
# backup...), so a step can change without touching what counts, seals or stores.
FOUNDATIONS = (
    "core.errors",
    "core.i18n",
    "core.limits",
    "core.text",
    "core.bilingual",
    "core.files",
    "core.discovery",
    "core.config",
    "core.domain",
    "core.db",
    "core.db_gate",
    "core.batch_sql",
    "core.models",
    "core.ratelimit",
    "core.templates",
    "core.ballot_values",
    "core.breakdown",
    "core.reveal_policy",
    "core.robustness",
    "core.fonts",
    "core.qr",
    "core.card_sheet",
    "core.export_schema",
    "core.verify",
    "core.crypto",
    "core.tally",
    "core.charts_",
)


def _is_foundation(module: str) -> bool:
    return any(
        module == f or module.startswith(f if f.endswith("_") else f + ".") for f in FOUNDATIONS
    )


def test_foundations_never_import_a_workflow_step() -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items()
        if _is_foundation(name)
        for target in targets
        if target.startswith("core") and not _is_foundation(target)
    )
    assert upward == []


def _calls(path: Path) -> Iterator[tuple[str, ast.Call]]:
    """(the called name, as written: `f` or `a.f`, the call) for every call in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield func.id, node
            elif isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else "?"
                yield f"{owner}.{func.attr}", node


def test_pages_get_their_console_and_admin_from_ui_never_from_the_database() -> None:
    """A console or an admin proves a passphrase or the admin password was typed: a page
    rebuilds or opens one only through ui/console.py (`current`, `console_for`, `unlock`,
    `admin`, `sign_in_admin`), and no
    page or ui module makes a trusted `Admin` (that is for setup, tests and scripts)."""
    rebuilt_here = {
        "open_console",
        "resume_console",
        "resume_admin",
        "unlock_console",
        "admin_login",
    }
    offenders = []
    for name, path in MODULES.items():
        layer = name.split(".")[0]
        if layer not in ("pages", "ui", "web", "evaluation_app"):
            continue
        for called, call in _calls(path):
            last = called.rpartition(".")[2]
            uses_db = any(isinstance(a, ast.Attribute) and a.attr == "db" for a in call.args[:1])
            if (
                called in ("Admin", "Admin.trusted")
                or (layer == "pages" and last in rebuilt_here)
                or (last == "create_workshop" and uses_db)
            ):
                offenders.append(f"{name}:{call.lineno} {called}")
    assert offenders == []


def test_a_page_holds_the_instance_only_to_hand_its_database_to_a_core_service() -> None:
    """`ui.runtime.instance()` carries the database and the instance secret. A page that only
    shows addresses or files takes `ui.runtime.settings()`; one that takes the instance
    passes its `.db` (or secret) to a core service."""
    offenders = []
    for name, path in MODULES.items():
        if not name.startswith("pages."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        takes_instance = any(called == "instance" for called, _ in _calls(path))
        hands_on = any(
            isinstance(node, ast.Attribute) and node.attr in ("db", "secret_key")
            for node in ast.walk(tree)
        )
        if takes_instance and not hands_on:
            offenders.append(name)
    assert offenders == []
