"""The import graph drawn from the code (grimp): data flows one way, there are no circles, and the shells use
only the public names of the answering core."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import grimp
import pytest

PACKAGES = ("assistant", "index", "kernel", "shells", "ui", "workbench")
SHELLS = ("shells.cli", "shells.server", "shells.api", "ui")
EVAL = "workbench"


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=False)


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def is_core(module: str) -> bool:
    return within(module, "assistant") and not within(module, *SHELLS, EVAL)


def imports(graph, importer_in, imported_in) -> list[str]:
    return sorted(
        f"{a} -> {b}"
        for a in graph.modules
        if importer_in(a)
        for b in graph.find_modules_directly_imported_by(a)
        if imported_in(b)
    )


def test_the_kernel_imports_neither_side_and_the_index_never_the_assistant(graph):
    assert imports(graph, lambda m: within(m, "kernel"), lambda m: not within(m, "kernel")) == []
    assert imports(graph, lambda m: within(m, "index"), lambda m: within(m, "assistant", "ui")) == []


def test_the_core_imports_neither_the_shells_nor_the_workbench(graph):
    assert imports(graph, is_core, lambda m: within(m, *SHELLS, EVAL)) == []
    assert imports(graph, lambda m: within(m, EVAL), lambda m: within(m, *SHELLS)) == []


def test_no_module_imports_itself_back(graph):
    cycles = [
        f"{a} -> {b} -> ... -> {a}"
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if graph.find_shortest_chain(importer=b, imported=a) is not None
    ]
    assert cycles == []


def test_shells_import_only_public_names_of_the_core(graph):
    private = []
    for shell in sorted(m for m in graph.modules if within(m, *SHELLS)):
        tree = ast.parse(Path(importlib.util.find_spec(shell).origin).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and is_core(node.module):
                private += [f"{shell}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")]
    assert private == []


def test_the_chat_and_the_api_reach_documents_through_the_document_service(graph):
    """Neither the web chat nor the HTTP API touches the store: they list, add and remove documents and read
    their texts through `DocumentService`."""
    root = Path(__file__).resolve().parent.parent
    touching = [
        str(path.relative_to(root))
        for folder in ("ui", "shells/api")
        for path in (root / folder).glob("*.py")
        if re.search(r"assistant\.store\b", path.read_text(encoding="utf-8"))
    ]
    assert touching == []


def test_scripts_and_tests_import_only_public_names():
    """`scripts/bench/squad_ceiling.py` and the others (and the tests) use the same public names the shells do."""
    root = Path(__file__).resolve().parent.parent
    private = []
    for path in sorted([*root.glob("scripts/**/*.py"), *root.glob("deploy/*.py"), *root.glob("tests/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and within(node.module, *PACKAGES):
                names = [a.name for a in node.names if a.name.startswith("_")]
                private += [f"{path.relative_to(root)}:{node.lineno} {name}" for name in names]
    assert private == []
