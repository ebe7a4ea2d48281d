"""The import graph drawn from the code (grimp), stated for packages: the shells (`shells`, and the web chat in
`ui`) sit on the evaluation workbench (`workbench`), which sits on the answering core (`assistant`), on the
index (`index`) and on the kernel (`kernel`). A package imports only packages below it, there are no circles,
the shells use only the public names of the core, and they reach documents only through the document service."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELLS = ("shells", "ui")
# From the top down; a package may import only the packages below it. The two shells may import each other
# (the server mounts the web chat): no circle between them is caught by the no-circles test below.
LAYERS = (grimp.Layer(*SHELLS, independent=False), "workbench", "assistant", "index", "kernel")
PACKAGES = ("assistant", "index", "kernel", "shells", "ui", "workbench")
CORE = "assistant"
DOCUMENT_SERVICE = "index.documents"
# What a shell may take from the index besides the document service: the errors and messages it reports.
INDEX_MESSAGES = frozenset({"StoreError", "REPAIR_NOTICE"})


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=False)


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def source_of(module: str) -> ast.Module:
    return ast.parse(Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8"))


def test_every_shipped_package_has_its_layer():
    """The wheel's packages (pyproject.toml), but `prompts`, which holds only the templates."""
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    assert {p.split(".")[0] for p in shipped} - {"prompts"} == set(PACKAGES)


def test_each_package_imports_only_the_packages_below_it(graph):
    """shells, ui -> workbench -> assistant -> index -> kernel: nothing upward (the core imports neither the
    shells nor the workbench, the workbench no shell, the index not the core, the kernel nothing of ours)."""
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS)
    upward = sorted(
        f"{d.importer} -> {d.imported}: "
        + "; ".join(" -> ".join([", ".join(sorted(r.heads)), *r.middle, ", ".join(sorted(r.tails))]) for r in d.routes)
        for d in illegal
    )
    assert upward == []


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
        for node in ast.walk(source_of(shell)):
            if isinstance(node, ast.ImportFrom) and node.module and within(node.module, CORE):
                private += [f"{shell}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")]
    assert private == []


def test_shells_reach_documents_through_the_document_service(graph):
    """The CLI (`brief index` included), the server, the HTTP API and the web chat list, index, add and remove
    documents and read their texts through `DocumentService`: from the index they import the service and
    nothing else but its errors and messages, and none touches the Assistant's store."""
    around = []
    for shell in sorted(m for m in graph.modules if within(m, *SHELLS)):
        for node in ast.walk(source_of(shell)):
            if isinstance(node, ast.ImportFrom) and node.module and within(node.module, "index"):
                if node.module != DOCUMENT_SERVICE:
                    around += [
                        f"{shell}:{node.lineno} {node.module}.{a.name}"
                        for a in node.names
                        if a.name not in INDEX_MESSAGES
                    ]
            elif isinstance(node, ast.Import):
                around += [f"{shell}:{node.lineno} {a.name}" for a in node.names if within(a.name, "index")]
    assert around == []
    touching = [
        str(path.relative_to(ROOT))
        for folder in SHELLS
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"assistant\.store\b", path.read_text(encoding="utf-8"))
    ]
    assert touching == []


def test_scripts_and_tests_import_only_public_names():
    """`scripts/bench/squad_ceiling.py` and the others (and the tests) use the same public names the shells do."""
    private = []
    for path in sorted([*ROOT.glob("scripts/**/*.py"), *ROOT.glob("deploy/*.py"), *ROOT.glob("tests/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and within(node.module, *PACKAGES):
                names = [a.name for a in node.names if a.name.startswith("_")]
                private += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names]
    assert private == []
