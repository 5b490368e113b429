"""Import contracts of our own for import-linter (``contract_types`` in ``pyproject.toml``).

``acyclic``: no import cycle among the modules of ``packages``, at any depth and across them,
function-local imports included (grimp reads those too). import-linter's ``acyclic_siblings``
only compares the children of each package, so it misses a package's ``__init__`` importing a
child that imports it back (``reskin.cli`` -> ``reskin.cli.app`` -> ``reskin.cli``) and cycles
between root packages; this contract looks at the modules themselves, with the packages whose
``__init__`` an import runs (``module_edges``), which grimp leaves out. Each strongly connected
group of modules is reported once, as one of its shortest cycles with the importing lines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import cast

import grimp
from importlinter import Contract, ContractCheck, fields, output

Graph = Mapping[str, Sequence[str]]


class AcyclicContract(Contract):
    """``packages``: the packages (and their descendants) whose imports must form no cycle."""

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        modules: set[str] = set()
        for package in cast(list[str], self.packages):
            if package not in graph.modules:
                raise ValueError(f"Module '{package}' does not exist.")
            modules |= {package, *graph.find_descendants(package)}
        edges, through = module_edges(graph, modules)
        cycles = [shortest_cycle(group, edges) for group in cyclic_groups(edges)]
        output.verbose_print(verbose, f"{len(modules)} modules, {len(cycles)} cycles.")
        lines: dict[str, str] = {}
        for cycle in cycles:
            for importer, imported in pairwise(cycle):
                child = through.get((importer, imported))
                where = line_numbers(graph, importer, child or imported)
                lines[f"{importer} -> {imported}"] = (
                    f"{where}, importing {child} runs it" if child else where
                )
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles, "lines": lines})

    def render_broken_contract(self, check: ContractCheck) -> None:
        lines = cast(dict[str, str], check.metadata["lines"])
        for cycle in cast(list[list[str]], check.metadata["cycles"]):
            output.print_error(f"{cycle[0]} imports itself back, in {len(cycle) - 1} imports:")
            output.new_line()
            for importer, imported in pairwise(cycle):
                link = f"{importer} -> {imported}"
                output.indent_cursor()
                output.print_error(f"{link} ({lines[link]})", bold=False)
            output.new_line()


def module_edges(
    graph: grimp.ImportGraph, modules: set[str]
) -> tuple[dict[str, list[str]], dict[tuple[str, str], str]]:
    """Who imports whom among ``modules``, sorted; and the implicit imports of packages, each
    with the module whose import makes it.

    Importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first, which grimp does
    not record: an importer depends on those packages as well, but for the ones it sits in
    (they ran before it did). So ``reskin.x`` importing ``reskin.aimlapi.models`` while
    ``reskin/aimlapi/__init__.py`` imports ``reskin.x`` back is a cycle, the one that ends in
    "partially initialized module" at run time.
    """
    edges: dict[str, set[str]] = {module: set() for module in modules}
    through: dict[tuple[str, str], str] = {}
    for importer in modules:
        for imported in graph.find_modules_directly_imported_by(importer) & modules:
            edges[importer].add(imported)
            package = imported.rpartition(".")[0]
            while package in modules and not f"{importer}.".startswith(f"{package}."):
                if package not in edges[importer]:
                    edges[importer].add(package)
                    through[importer, package] = imported
                package = package.rpartition(".")[0]
    return {module: sorted(targets) for module, targets in sorted(edges.items())}, through


def line_numbers(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    return ", ".join(f"l.{line}" for line in sorted({d["line_number"] for d in details}))


def cyclic_groups(edges: Graph) -> list[list[str]]:
    """The strongly connected groups of more than one module, or of one importing itself
    (Tarjan's algorithm, iterative: an import chain can be deeper than Python's stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            module, next_edge = work.pop()
            if next_edge == 0:
                index[module] = low[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            targets = edges[module]
            if next_edge < len(targets):
                work.append((module, next_edge + 1))
                target = targets[next_edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            if work:  # back in the importer: carry the lowest index up
                importer = work[-1][0]
                low[importer] = min(low[importer], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1 or module in edges[module]:
                    groups.append(sorted(group))
    return sorted(groups)


def shortest_cycle(group: Sequence[str], edges: Graph) -> list[str]:
    """A shortest cycle through the group's first module, as ``[m, ..., m]`` (breadth first)."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for target in edges[module]:
            if target == start:
                path = [module]  # back from the last importer to the start
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target in members and target not in came_from:
                came_from[target] = module
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one
