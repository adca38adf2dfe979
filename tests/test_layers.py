"""The package's layering (issue #24): no import cycles, the library does not import the CLI,
no module imports another module's private names. Read from the source, nothing is imported."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "toolkit"
# The only modules that may import typer (or the CLI): the CLI, the serve command it registers,
# and `python -m toolkit`.
TYPER_ALLOWED = ("toolkit/cli/", "toolkit/serve/command.py", "toolkit/__main__.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, module_level_only: bool) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """(statement, imported module, names) for each import; module level skips function bodies and
    ``if TYPE_CHECKING:`` blocks (neither runs when the module is imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module, is_package = module_name(path), path.name == "__init__.py"

    def walk(body: list[ast.stmt]) -> Iterator[tuple[ast.stmt, str, list[str]]]:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node, alias.name, []
            elif isinstance(node, ast.ImportFrom):
                yield node, _absolute(node, module, is_package), [a.name for a in node.names]
            elif isinstance(node, ast.If) and module_level_only and _is_type_checking(node):
                yield from walk(node.orelse)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and module_level_only:
                continue
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        yield from walk([c for c in children if isinstance(c, ast.stmt)] +
                                        [s for h in children if isinstance(h, ast.ExceptHandler) for s in h.body])

    yield from walk(tree.body)


def graph() -> dict[str, set[str]]:
    """Module → the toolkit modules it imports when it is imported."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for _, target, names in imports(path, module_level_only=True):
            if not target.startswith("toolkit"):
                continue
            found = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            for item in found or ([target] if target in MODULES else []):
                if item != name:
                    edges[name].add(item)
            if names and len(found) < len(names) and target in MODULES and target != name:
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), and self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    # The check itself must be able to fail.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_typer_is_imported_only_by_the_cli() -> None:
    offenders = []
    for path in MODULES.values():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(TYPER_ALLOWED):
            continue
        for node, target, _ in imports(path, module_level_only=False):
            if target == "typer" or target.startswith("typer.") or target.startswith("toolkit.cli"):
                offenders.append(f"{rel}:{node.lineno} imports {target}")
    assert offenders == []


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = []
    for name, path in MODULES.items():
        for node, target, names in imports(path, module_level_only=False):
            if not target.startswith("toolkit") or target == name:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private += [part for part in target.split(".") if part.startswith("_") and not part.startswith("__")]
            if private:
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno} imports {target}: {private}")
    assert offenders == []
