"""The package's structure as facts: the layers pyproject.toml declares hold (lint-imports),
and no module reaches itself through imports of any kind, function-level and type-checking
ones included, parent packages counted (a layers contract cannot see a package's __init__
importing its own children)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 11):
    pytest.skip(
        "import-linter and grimp need Python 3.11; the main Python checks the layers",
        allow_module_level=True,
    )

import grimp

# the layers contract, not the helper: on the main Python only (tests/run.sh)
pytestmark = pytest.mark.tooling

PACKAGE = "docker_credential_codespaces"
ROOT = Path(__file__).resolve().parent.parent


def test_the_layers_contract_holds() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected group of two or more modules, or one that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm, on a graph of a few dozen nodes
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph.find_modules_directly_imported_by(module):
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def with_parents(graph: grimp.ImportGraph, package: str = PACKAGE) -> grimp.ImportGraph:
    """The graph plus an edge from each module to its parent package: importing
    `a.b` runs `a/__init__.py` first, so a package that imports its children is a cycle."""
    for module in list(graph.modules):
        parent = module.rpartition(".")[0]
        if parent.startswith(package):
            graph.add_import(importer=module, imported=parent)
    return graph


def test_no_import_cycle_of_any_kind() -> None:
    graph = with_parents(grimp.build_graph(PACKAGE, cache_dir=None))
    assert len(graph.modules) > 20
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    """The check above would pass on a finder that finds nothing."""
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert cycles(graph) == [["p.a", "p.b"]]
    graph.add_import(importer="p", imported="p.c")  # a package importing its own child
    assert cycles(with_parents(graph, "p")) == [["p", "p.a", "p.b", "p.c"]]


def package_modules() -> list[str]:
    """Every module file of the package, as a path under it (`ecr/answer.py`)."""
    package = ROOT / PACKAGE
    return sorted(str(p.relative_to(package)) for p in package.rglob("*.py"))


def test_the_module_map_in_the_docs_is_the_code() -> None:
    """docs/how-it-works.md names each module on one line of its own, and no other."""
    text = (ROOT / "docs" / "how-it-works.md").read_text()
    block = text[text.index(f"```\n{PACKAGE}/") :]
    block = block[: block.index("```", 4)]
    lines = block.splitlines()[2:]
    assert all(line.startswith("  ") and not line.startswith("   ") for line in lines), lines
    assert sorted(line.split()[0] for line in lines) == package_modules()


def test_the_layers_name_every_module() -> None:
    """A new module must take its place in the layers; `exhaustive` says so too, this names it."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    named = set()
    for contract in contracts["contracts"]:
        prefix = contract["containers"][0].removeprefix(PACKAGE).lstrip(".")
        for layer in contract["layers"]:
            for module in layer.split("|"):
                named.add("/".join(filter(None, [prefix, module.strip()])))
    files = {m.removesuffix(".py").removesuffix("/__init__") for m in package_modules()}
    assert files - {"__init__", "ecr"} <= named
