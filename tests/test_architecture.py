"""Import contracts, read from the source with ast (nothing is imported).

1. The pipeline stages depend in one direction: a stage imports only from itself and the
   stages before it. Every import counts (inside functions and under TYPE_CHECKING too),
   except that a function may import digest.tasks to enqueue work (HS's pattern).
2. No import cycles at module level among digest, subscriptions and config. Imports in
   function bodies and under TYPE_CHECKING run later (or never), so they cannot form one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("digest", "subscriptions", "config", "ops")
STAGES = ("sources", "catalogue", "ranking", "editions", "emails", "sending", "tracking")
# The entry points around the pipeline: they may import any stage, and no stage imports them.
ENTRY_POINTS = (
    "digest.admin",
    "digest.views",
    "digest.urls",
    "digest.management",
    "ops",  # the operator's side: dashboard, health, metrics, logs
)
TASKS = "digest.tasks"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (a module of ours, resolved)
    path: Path
    line: int
    in_function: bool
    type_checking: bool

    @property
    def at_module_level(self) -> bool:
        return not self.in_function and not self.type_checking

    def where(self) -> str:
        return f"{self.path.relative_to(BASE_DIR)}:{self.line}"


def _module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((BASE_DIR / package).rglob("*.py")):
            parts = list(path.relative_to(BASE_DIR).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _module_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    node: ast.AST, *, in_function: bool = False, type_checking: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function, type_checking
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk_one(stmt, in_function=in_function, type_checking=True)
            for stmt in child.orelse:
                yield from _walk_one(stmt, in_function=in_function, type_checking=type_checking)
        else:
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            yield from _walk(child, in_function=nested, type_checking=type_checking)


def _walk_one(
    stmt: ast.stmt, *, in_function: bool, type_checking: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    wrapper = ast.Module(body=[stmt], type_ignores=[])
    yield from _walk(wrapper, in_function=in_function, type_checking=type_checking)


def _resolve_from(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules of ours that an import statement loads, the deepest one named."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _resolve_from(module, path, node)
        # `from pkg import name` imports pkg.name when name is a submodule, else pkg.
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names
        ]
    targets = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name.split(".")[0] in PACKAGES and name not in targets:
            targets.append(name)
    return targets


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, in_function, type_checking in _walk(tree):
            for target in _targets(module, path, node):
                found.append(Import(module, target, path, node.lineno, in_function, type_checking))
    return found


IMPORTS = _imports()


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _stage(module: str) -> int | None:
    for index, stage in enumerate(STAGES):
        if _within(module, f"digest.{stage}"):
            return index
    return None


def _stage_violation(imp: Import) -> str | None:
    source_stage = _stage(imp.source)
    if source_stage is None:
        return None
    source = STAGES[source_stage]
    target_stage = _stage(imp.target)
    if target_stage is not None and target_stage > source_stage:
        return f"{STAGES[target_stage]} comes after {source}"
    if any(_within(imp.target, entry) for entry in ENTRY_POINTS):
        return f"a stage ({source}) must not import the entry point {imp.target}"
    if _within(imp.target, TASKS) and not (imp.in_function and not imp.type_checking):
        return f"a stage ({source}) may import {TASKS} only inside a function, to enqueue"
    return None


def test_stages_import_only_from_earlier_stages():
    problems = [
        f"{imp.where()}: {imp.source} imports {imp.target}: {reason}"
        for imp in IMPORTS
        if (reason := _stage_violation(imp))
    ]
    assert not problems, "Stage order " + " <- ".join(STAGES) + " broken:\n" + "\n".join(problems)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so deep chains don't hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_there_are_no_module_level_import_cycles():
    edges = [imp for imp in IMPORTS if imp.at_module_level and imp.source != imp.target]
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for imp in edges:
        graph[imp.source].add(imp.target)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    messages = []
    for cycle in cycles:
        members = set(cycle)
        lines = [
            f"  {imp.where()}: {imp.source} imports {imp.target}"
            for imp in edges
            if imp.source in members and imp.target in members
        ]
        messages.append("Import cycle among " + ", ".join(cycle) + ":\n" + "\n".join(lines))
    assert not cycles, "\n".join(messages)


def test_the_contract_sees_the_stages():
    # Guards the checks above against silently passing on an empty or renamed tree.
    assert {STAGES[i] for m in MODULES if (i := _stage(m)) is not None} == set(STAGES)
    assert any(imp.in_function for imp in IMPORTS)
