"""The starter catalogue: it loads, every entry cites its sources with their versions, every
entry waits for legal staff, and a faulty text is refused naming each problem."""

from __future__ import annotations

import copy

import pytest

from workflow.legal.catalogue import BANDS, CatalogueError, parse, starter

AUCL, ECL, CPL = (
    "中华人民共和国反不正当竞争法",
    "中华人民共和国电子商务法",
    "中华人民共和国消费者权益保护法",
)
ISSUE_TYPES = {
    "false_commercial_publicity": (AUCL, "第八条第一款", "第二十条第一款"),
    "business_licence_not_displayed": (ECL, "第十五条第一款", "第七十六条第一款第一项"),
    "licence_info_not_displayed": (ECL, "第十五条第一款", "第七十六条第一款第一项"),
    "seven_day_return_refused": (CPL, "第二十五条第一款", "第五十六条第一款第八项"),
    "fake_reviews": (ECL, "第十七条", "第八十五条"),
}


def test_the_starter_catalogue_loads_with_the_issues_violation_types() -> None:
    cat = starter()
    for entry_id, (rule, violated, basis) in ISSUE_TYPES.items():
        entry = cat.entry(entry_id)
        assert (rule, violated) in {(c.rule, c.article) for c in entry.violated}
        assert (rule, basis) in {(c.rule, c.article) for c in entry.basis}
    assert cat.has("false_advertisement")  # 广告法 第二十八条 / 第五十五条
    assert cat.no_penalty_list.endswith("（2025 年版）")


def test_every_entry_cites_a_source_with_its_version_and_needs_confirmation() -> None:
    cat = starter()
    for entry in cat.entries:
        assert entry.violated and entry.basis, entry.id
        for citation in (*entry.violated, *entry.basis):
            source = cat.sources[citation.source]
            assert source.title == f"{citation.rule}" and source.version, (entry.id, citation)
        assert entry.needs_confirmation, entry.id
        assert set(entry.bands) == set(BANDS)
        for band in entry.bands.values():
            assert (
                entry.penalty.min_yuan <= band.min_yuan <= band.max_yuan <= entry.penalty.max_yuan
            )
        assert entry.facts, entry.id


def test_a_faulty_catalogue_is_refused_naming_every_problem() -> None:
    data = copy.deepcopy(starter().to_dict())
    entry = data["entry"][0]
    entry["violated"][0]["source"] = "nowhere"
    entry["bands"]["serious"]["max_yuan"] = 99_000_000
    entry["mitigating"].append("repeat_within_two_years")  # an aggravating fact
    with pytest.raises(CatalogueError) as info:
        parse(data)
    text = " ".join(info.value.problems)
    assert "'nowhere' is not a [source]" in text
    assert "outside the statutory" in text
    assert "'repeat_within_two_years' is not a [fact] of kind mitigating" in text
    assert len(info.value.problems) == 3
