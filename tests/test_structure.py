"""The shape of the code: no import cycles in ``rag`` or ``ui``, and every module importable on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import ROOT

PACKAGES = ("rag", "ui")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _with_parents(name: str, known: dict[str, Path]) -> set[str]:
    """Importing ``a.b.c`` runs ``a`` and ``a.b`` first: each is an edge of the graph too."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known.keys()


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, at the top or inside functions (type-only imports excluded)."""
    known = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    edges |= _with_parents(alias.name, known)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                edges |= _with_parents(base, known)
                for alias in node.names:  # `from rag import catalogue` imports the module rag.catalogue
                    edges |= {f"{base}.{alias.name}"} & known.keys()
        edges.discard(name)
        edges -= _with_parents(name, known)  # a module's own packages are loaded before it, not by it
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_rag_or_ui() -> None:
    graph = import_graph()
    assert {"rag.assistant", "rag.text", "ui.layout"} <= graph.keys()
    assert "rag.text" in graph["rag.abstain"]  # function-level imports count too
    assert cycles(graph) == []


def test_only_the_cli_imports_ui_and_only_to_launch_it() -> None:
    graph = import_graph()
    into_ui = {m for m, targets in graph.items() if m.startswith("rag") for t in targets if t.startswith("ui")}
    assert into_ui == {"rag.cli"}  # `rag ui` starts the app; the library itself never touches ui or gradio


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    def load(name: str) -> tuple[str, int, str]:
        result = subprocess.run(
            [sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        return name, result.returncode, result.stderr.strip().splitlines()[-1:]

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(n, err) for n, code, err in pool.map(load, sorted(_modules())) if code != 0]
    assert failures == []
