"""Every sentence the document builders say about a missing field has its Chinese
(evidence_service/web/document_hints.toml), and the names inside it become the page's names.

The sentences are read from the builders' source (each ``miss(name, hint)`` call and each
``(field, hint)`` appended to a ``missing`` list), their placeholders filled with a sample
value, so that a sentence added to the builders without its Chinese fails here."""

from __future__ import annotations

import ast
import inspect
import re

import pytest

from evidence_service.web import document_hints
from evidence_service.web.case_views import helpers
from workflow.cases import documents


def _sample(node: ast.expr) -> list[str]:
    """The sentences an expression can give, placeholders filled with ``7`` (quoted for !r)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                out += str(part.value)
            else:
                assert isinstance(part, ast.FormattedValue)
                out += "'7'" if part.conversion == ord("r") else "7"
        return [out]
    if isinstance(node, ast.IfExp):
        return _sample(node.body) + _sample(node.orelse)
    if isinstance(node, ast.Call):  # _NOT_SERVED.get(method, "default")
        return [s for arg in node.args[1:] for s in _sample(arg)]
    return []


def builder_sentences() -> list[str]:
    tree = ast.parse(inspect.getsource(documents))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "miss" and len(node.args) == 2:
                found += _sample(node.args[1])
            elif (
                node.func.attr == "append"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "missing"
                and node.args
                and isinstance(node.args[0], ast.Tuple)
            ):
                found += _sample(node.args[0].elts[1])
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_NOT_SERVED" for t in node.targets
        ):
            assert isinstance(node.value, ast.Dict)
            found += [s for v in node.value.values for s in _sample(v)]
    return list(dict.fromkeys(found))


def test_the_source_scan_finds_the_builders_sentences() -> None:
    sentences = builder_sentences()
    assert len(sentences) >= 35
    assert "record the party's unified social credit code" in sentences
    assert "give '7' with the 7 action, or afterwards (give_notes)" in sentences


@pytest.mark.parametrize("sentence", builder_sentences())
def test_every_sentence_has_its_chinese(sentence: str) -> None:
    assert document_hints.match(sentence) is not None, f"add a [[hint]] for: {sentence}"
    said = helpers("zh")["hint"](sentence)
    assert re.search(r"[\u4e00-\u9fff]", said), said
    assert helpers("en")["hint"](sentence) == sentence


def test_names_inside_a_sentence_are_the_pages_names() -> None:
    zh = helpers("zh")["hint"]
    assert zh("give 'opinion' with the approve_filing action, or afterwards (give_notes)") == (
        "在「批准立案」操作中填写「负责人意见」，或之后用“补充说明”补填"
    )
    assert zh("give 'payment_channel' with the decide_penalty action") == (
        "在「作出行政处罚决定」操作中填写「缴款渠道」"
    )
    assert zh("assign the case's head") == "指派案件的机关负责人"
    said = zh("assign at least 2 officers with badge numbers")
    assert said == "指派至少 2 名持有执法证号的办案人员"
    # a sentence nobody has translated is shown as it is rather than lost
    assert zh("something new") == "something new"
