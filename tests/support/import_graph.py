"""Who imports whom among the project's own modules, read from the source with ``ast`` (no
module is imported, so a broken or heavy one is read all the same), for tests/test_layers.py.

Every import counts, at the top of a module or inside a function, and so do the names handed
to ``importlib.import_module``: a string literal argument, or, where the name is computed
(the ``toolhut`` command's table of subcommands), every string in that module that names a
module of ours.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Import:
    """``importer`` (a module name) imports ``imported`` at ``path:line``."""

    importer: str
    imported: str
    path: str  # relative to the repository root
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} -> {self.imported}"


def module_files(root: Path, folders: Iterable[str]) -> dict[str, Path]:
    """Module name -> file for every ``.py`` file under ``folders``; a folder without an
    ``__init__.py`` (``bench``, scripts run by path) still names its files ``bench.x``."""
    modules: dict[str, Path] = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(root: Path, modules: Mapping[str, Path]) -> list[Import]:
    """Every import from one of ``modules`` to another (imports of anything else dropped)."""
    found: dict[Import, None] = {}  # ordered, and ``from a import b, c`` counted once
    for name, path in modules.items():
        for target, line in _named_imports(name, path):
            resolved = _resolve(target, modules, importer=name)
            if resolved is not None and resolved != name:
                found[Import(name, resolved, str(path.relative_to(root)), line)] = None
    return list(found)


def top_level_imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(top-level package, line) of every import in one module, libraries and ours."""
    for target, line in _named_imports(name, path):
        yield target.split(".")[0], line


def cycles(imports: Iterable[Import]) -> list[list[Import]]:
    """Each import cycle as the imports among its modules, one per strongly connected set
    (Tarjan), so a knot of five modules is reported once, not once per loop in it."""
    edges: dict[str, list[Import]] = {}
    for imp in imports:
        edges.setdefault(imp.importer, []).append(imp)
    loops = []
    for members in _strongly_connected(edges):
        if len(members) > 1:
            loops.append(
                sorted(
                    (e for m in members for e in edges.get(m, []) if e.imported in members),
                    key=lambda e: (e.path, e.line),
                )
            )
    return loops


def _named_imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    computed_import = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            for alias in node.names:
                # ``from a import b`` imports module a.b if there is one, else a name of a.
                yield f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno
        elif isinstance(node, ast.Call) and _is_import_module(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value, node.lineno
            else:
                computed_import = True
    if computed_import:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
                yield node.value, node.lineno


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _is_import_module(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


def _resolve(target: str, modules: Mapping[str, Path], *, importer: str) -> str | None:
    """The module of ours that ``target`` names (the longest known prefix), if any.

    A script folder's modules (``bench``) import each other by their bare name
    (``from _emulator_lines import ...``), as Python does for the folder a script is in."""
    if not target or not target.replace(".", "").replace("_", "").isalnum():
        return None
    folder = importer.rpartition(".")[0]
    script_folder = folder and folder not in modules  # no __init__.py: not a package
    candidates = [target, f"{folder}.{target}"] if script_folder else [target]
    for candidate in candidates:
        parts = candidate.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in modules:
                return prefix
    return None


def _strongly_connected(edges: Mapping[str, list[Import]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in edges.get(node, []):
            if edge.imported not in index:
                visit(edge.imported)
                low[node] = min(low[node], low[edge.imported])
            elif edge.imported in on_stack:
                low[node] = min(low[node], index[edge.imported])
        if low[node] == index[node]:
            members = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.add(member)
                if member == node:
                    break
            found.append(members)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found
