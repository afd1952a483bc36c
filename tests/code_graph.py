"""The import graph of this repository's code, computed from the source (ast), for the tests that hold the
house to its rules: every stage's DVC code deps cover what its script imports, and pipeline/ has no
import cycle.

For cycles, every import statement counts, at module level, inside functions or under TYPE_CHECKING
(as the before-stop review counts them); for what a script runs, imports under TYPE_CHECKING do not.
Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` too. The formats registry
(`pipeline/formats/__init__.py`) imports every format package in its folder when asked, so it counts
as importing each of them.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DISCOVERING = {"pipeline.formats"}  # packages that import all their subpackages at run time


@cache
def modules() -> dict[str, Path]:
    """Module name -> file, for every module under pipeline/."""
    found = {}
    for path in sorted((REPO / "pipeline").rglob("*.py")):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """The import statements under `if TYPE_CHECKING:`, which never run."""
    return {node for block in ast.walk(tree) if isinstance(block, ast.If) and isinstance(block.test, ast.Name)
            and block.test.id == "TYPE_CHECKING" for stmt in block.body for node in ast.walk(stmt)}


def _named(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


@cache
def direct_imports(path: Path, typing: bool = True) -> frozenset[str]:
    """The repository modules a file imports (a name that is not a module, like a function, is dropped);
    without `typing`, those it imports only for type checking are left out."""
    known = modules()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if typing else _type_checking_only(tree)
    names = {name for node in ast.walk(tree) if node not in skipped for name in _named(node) if name in known}
    module = next((m for m, p in known.items() if p == path), None)
    if module in DISCOVERING:
        names |= {m for m in known if m.startswith(module + ".") and m.count(".") == module.count(".") + 1
                  and known[m].name == "__init__.py"}
    return frozenset(names - {module})


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & set(modules())


def closure(path: Path) -> set[Path]:
    """Every repository file that running `path` may import, itself included."""
    seen: set[str] = set()
    todo = {m for name in direct_imports(path, typing=False) for m in _with_parents(name)}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo |= {m for name in direct_imports(modules()[module], typing=False) for m in _with_parents(name)} - seen
    return {path} | {modules()[m] for m in seen}


def as_deps(files: set[Path]) -> list[str]:
    """`files` as DVC deps: a folder where every Python file in it is among them, else the files."""
    chosen = set()
    for path in files:
        folder = path.parent
        while folder != REPO and all(p in files for p in folder.rglob("*.py")):
            path, folder = folder, folder.parent
        chosen.add(path.relative_to(REPO).as_posix())
    return sorted(chosen)


def cycles() -> list[list[str]]:
    """Import cycles among pipeline/ modules (a module importing its own package is not one)."""
    graph = {name: {d for d in direct_imports(path) if not name.startswith(d + ".")} for name, path in
             modules().items()}
    found, done, stack = [], set(), []

    def visit(name: str) -> None:
        if name in stack:
            found.append(stack[stack.index(name):] + [name])
            return
        if name in done:
            return
        stack.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        stack.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    return found
