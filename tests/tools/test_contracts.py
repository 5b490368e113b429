"""The ``acyclic`` import contract: its cycle search on small graphs, and the contract on a
grimp graph built by hand (``make lint`` runs it on the real one)."""

from __future__ import annotations

from itertools import pairwise

import grimp
import pytest

from tools.contracts import AcyclicContract, cyclic_groups, shortest_cycle


def test_a_graph_without_cycles_has_no_group():
    assert cyclic_groups({"a": ["b", "c"], "b": ["c"], "c": []}) == []


def test_each_group_is_found_once_with_its_members_sorted():
    edges = {"a": ["b"], "b": ["a", "c"], "c": ["d"], "d": ["c"], "e": ["e"], "f": ["a"]}
    assert cyclic_groups(edges) == [["a", "b"], ["c", "d"], ["e"]]


def test_a_chain_deeper_than_the_recursion_limit():
    names = [f"m{i:05d}" for i in range(5000)]
    edges = {name: [after] for name, after in pairwise(names)}
    edges[names[-1]] = [names[0]]
    assert cyclic_groups(edges) == [names]


def test_the_shortest_cycle_through_the_first_module_is_reported():
    edges = {"a": ["b", "d"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert shortest_cycle(["a", "b", "c", "d"], edges) == ["a", "d", "a"]
    assert shortest_cycle(["e"], {"e": ["e"]}) == ["e", "e"]


def graph_of(imports: list[tuple[str, str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    graph.add_module("p")  # the package itself, as grimp.build_graph adds it
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents="")
    return graph


@pytest.mark.parametrize(
    ("imports", "cycle"),
    [
        ([("p.a", "p.b"), ("p.b", "p.c")], None),
        ([("p.a", "p.b"), ("p.b", "p.a")], ["p.a", "p.b", "p.a"]),
        # A package and its child: import-linter's acyclic_siblings does not see this one.
        ([("p", "p.a"), ("p.a", "p")], ["p", "p.a", "p"]),
        # Importing p.b.c runs p/b/__init__.py first, which imports p.a back.
        ([("p.a", "p.b.c"), ("p.b", "p.a")], ["p.a", "p.b", "p.a"]),
        # ... but not for a module inside p.b: p/b/__init__.py ran before it.
        ([("p.b", "p.b.c"), ("p.b.c", "p.b.d")], None),
        # Only modules of the contract's packages count.
        ([("p.a", "q.b"), ("q.b", "p.a")], None),
    ],
)
def test_the_contract_on_a_grimp_graph(imports, cycle):
    contract = AcyclicContract("acyclic", session_options={}, contract_options={"packages": ["p"]})
    check = contract.check(graph_of(imports), verbose=False)
    assert check.kept is (cycle is None)
    assert check.metadata["cycles"] == ([] if cycle is None else [cycle])
    if cycle is not None:
        assert check.metadata["lines"][f"{cycle[1]} -> {cycle[2]}"] == "l.3"


def test_an_implicit_import_of_a_package_names_the_import_that_makes_it():
    contract = AcyclicContract("acyclic", session_options={}, contract_options={"packages": ["p"]})
    check = contract.check(graph_of([("p.a", "p.b.c"), ("p.b", "p.a")]), verbose=False)
    assert check.metadata["lines"] == {
        "p.a -> p.b": "l.3, importing p.b.c runs it",
        "p.b -> p.a": "l.3",
    }


def test_a_package_missing_from_the_graph_is_a_mistake():
    contract = AcyclicContract("acyclic", session_options={}, contract_options={"packages": ["x"]})
    with pytest.raises(ValueError, match="'x' does not exist"):
        contract.check(graph_of([("p.a", "p.b")]), verbose=False)
