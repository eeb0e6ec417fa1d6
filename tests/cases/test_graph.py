"""The drawings of the process: valid, complete, and the same as the one in the docs.

The graphs are read back from their text (not from the table), so what is checked is what a
reader of ``docs/case-process.md`` sees: every state reachable from the start, no state
without a way out, and each procedure able to reach its end from wherever it can go.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from workflow.cases import graph, process

PROCESS = process.default_process()
DOC = Path(__file__).resolve().parents[2] / "docs" / "case-process.md"

STATE = re.compile(r'^    state "([^"]+)" as ([a-z_]+)$')
EDGE = re.compile(
    r"^    ([a-z_]+|\[\*\]) --> ([a-z_]+|\[\*\])(?:: ([a-z_]+(?: \([GSF](?:, [GSF])*\))?))?$"
)


def read_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    states: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        if m := STATE.match(line):
            assert m.group(2) not in states, f"state declared twice: {line}"
            states[m.group(2)] = m.group(1)
        elif m := EDGE.match(line):
            source, target, label = m.groups()
            assert (label is None) == ("[*]" in (source, target)), line
            edges.append((source, target, label or ""))
        else:
            pytest.fail(f"not a stateDiagram-v2 line: {line!r}")
    for source, target, _ in edges:
        assert {source, target} - {"[*]"} <= set(states), (source, target)
    return states, edges


def check_graph(states: dict[str, str], edges: list[tuple[str, str, str]]) -> set[str]:
    """Reachability and exits; returns the terminal states."""
    out: dict[str, set[str]] = defaultdict(set)
    for source, target, _ in edges:
        out[source].add(target)
    terminal = {s for s in states if "[*]" in out[s]}
    assert len(out["[*]"]) == 1
    for s in states:
        if s in terminal:
            assert out[s] == {"[*]"}, f"terminal {s} has other exits: {out[s]}"
        else:
            assert out[s] - {s}, f"{s} is not terminal but has no exit"

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for t in out[todo.pop()] - seen:
                seen.add(t)
                todo.append(t)
        return seen

    reachable = reach("[*]")
    assert set(states) <= reachable, f"unreachable: {set(states) - reachable}"
    for s in states:
        assert reach(s) & terminal, f"from {s} no end can be reached"
    return terminal


def test_the_whole_process_graph_is_valid() -> None:
    states, edges = read_mermaid(graph.mermaid())
    assert set(states) == set(PROCESS.states)
    terminal = check_graph(states, edges)
    assert terminal == {s.id for s in PROCESS.states.values() if s.terminal}
    for sid, desc in states.items():
        st = PROCESS.states[sid]
        assert desc == f"{st.step} {st.zh} / {st.en}"


@pytest.mark.parametrize("procedure", list(PROCESS.procedures))
def test_each_procedure_reaches_closing_from_everywhere(procedure: str) -> None:
    states, edges = read_mermaid(graph.mermaid(procedure))
    terminal = check_graph(states, edges)
    assert "closed" in terminal
    labels = {label for _, _, label in edges}
    assert all("(" not in label for label in labels), "one procedure needs no codes"
    if procedure == "simplified":
        assert {PROCESS.states[s].step for s in states} == {1, 4, 10, 11, 12, 14}
        assert "decide_on_the_spot" in labels and "propose_filing" not in labels
    else:
        assert "decide_on_the_spot" not in labels


def test_every_row_of_the_table_is_an_edge_with_its_procedures() -> None:
    _, edges = read_mermaid(graph.mermaid())
    drawn = {(s, t, label.split(" ")[0]): label for s, t, label in edges if label}
    for rule in PROCESS.rules:
        label = drawn[(rule.source, rule.target, rule.action)]
        if len(rule.procedures) < len(PROCESS.procedures):
            codes = re.findall(r"[GSF]", label.split(" ", 1)[1])
            assert {graph.procedure_code(p) for p in rule.procedures} <= set(codes)


DOT_NODE = re.compile(r'^    ([a-z_]+) \[label="([^"\\]|\\.)*"(, peripheries=2)?\];$')
DOT_EDGE = re.compile(r'^    ([a-z_]+|__start__) -> ([a-z_]+) \[label="([^"]*)"\];$')


def test_dot_draws_the_same_graph() -> None:
    text = graph.dot()
    lines = text.splitlines()
    assert lines[0] == "digraph case_process {" and lines[-1] == "}"
    nodes: dict[str, bool] = {}
    edges = []
    for line in lines[1:-1]:
        if m := DOT_NODE.match(line):
            nodes[m.group(1)] = m.group(3) is not None
        elif m := DOT_EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3)))
        elif line == f"    __start__ -> {PROCESS.start};" or line.startswith(
            ("    rankdir", "    node [", "    edge [", "    __start__ [")
        ):
            continue
        else:
            pytest.fail(f"unexpected DOT line {line!r}")
    assert nodes == {s.id: s.terminal for s in PROCESS.states.values()}
    _, mermaid_edges = read_mermaid(graph.mermaid())
    assert sorted(edges) == sorted(e for e in mermaid_edges if "[*]" not in e[:2])


def test_an_unknown_procedure_is_an_error() -> None:
    with pytest.raises(ValueError, match="no procedure 'summary'"):
        graph.mermaid("summary")


def test_the_doc_shows_the_graph_and_table_of_now() -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert blocks == [graph.mermaid()], (
        "docs/case-process.md is stale: run python -m workflow.cases.graph doc docs/case-process.md"
    )
    assert graph.transition_table() in text
    assert graph.update_doc(text) == text


def test_the_table_lists_every_row_with_roles_and_guards() -> None:
    rows = graph.transition_table().splitlines()[2:]
    assert len(rows) == len(PROCESS.rules)
    for row, rule in zip(rows, PROCESS.rules, strict=True):
        assert f"`{rule.action}`" in row
        for g in rule.guards:
            assert f"`{g}`" in row
        for r in rule.roles:
            assert PROCESS.roles[r].en in row
