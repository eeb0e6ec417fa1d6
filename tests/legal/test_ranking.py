"""The ranking: ticked facts and the captured page's text give the entries, best first, each
with its reasons; the factors move the band; the no-penalty lists and the amount multiples."""

from __future__ import annotations

from decimal import Decimal

from workflow.legal.catalogue import starter
from workflow.legal.ranking import FACT_POINTS, Observed, assess, suggest


def test_ticked_facts_rank_their_entry_first_with_the_fact_as_reason() -> None:
    ranked = suggest(starter(), Observed(frozenset({"no_business_licence_shown"})))
    top = ranked[0]
    assert top.entry.id == "business_licence_not_displayed"
    assert top.score == FACT_POINTS
    assert [(r.kind, r.tag) for r in top.reasons] == [("fact", "no_business_licence_shown")]
    assert top.assessment.band == "ordinary"
    assert (top.assessment.min_fen, top.assessment.max_fen) == (2000_00, 5000_00)
    assert all(s.entry.id != "fake_reviews" for s in ranked)


def test_page_text_alone_ranks_entries_by_the_words_found_with_the_passage() -> None:
    text = "某某旗舰店 爆款蓝牙耳机 好评返现5元，五星好评晒图返现！原价199"
    ranked = suggest(starter(), Observed(page_text=text))
    ids = [s.entry.id for s in ranked]
    assert ids[0] == "fake_reviews"  # 好评返现, 五星好评, 晒图返现
    assert "false_commercial_publicity" in ids  # 原价, 爆款
    words = {r.tag: r.snippet for r in ranked[0].reasons if r.kind == "keyword"}
    assert set(words) == {"好评返现", "五星好评", "晒图返现"}
    assert "好评返现5元" in words["好评返现"]
    # a shop page that never shows the business licence
    shop = next(s for s in ranked if s.entry.id == "business_licence_not_displayed")
    assert any(r.kind == "absent" for r in shop.reasons)
    shown = suggest(starter(), Observed(page_text=text + " 营业执照信息"))
    assert not any(
        r.kind == "absent" for s in shown for r in s.reasons if s.entry.id == shop.entry.id
    )


def test_a_ticked_fact_outweighs_page_words_of_another_entry() -> None:
    text = "好评返现 五星好评 晒图返现 评价返现 好评有礼"
    ranked = suggest(starter(), Observed(frozenset({"return_refused"}), page_text=text))
    assert ranked[0].entry.id == "seven_day_return_refused"
    assert ranked[1].entry.id == "fake_reviews"


def test_mitigating_and_aggravating_factors_move_the_band() -> None:
    entry = starter().entry("false_commercial_publicity")
    base = {"claims_unsubstantiated"}
    mild = assess(entry, Observed(frozenset(base | {"first_violation", "cooperated"})))
    assert mild.band == "mild" and (mild.min_fen, mild.max_fen) == (200_000_00, 400_000_00)
    assert mild.mitigating == ("first_violation", "cooperated")
    serious = assess(entry, Observed(frozenset(base | {"repeat_within_two_years"})))
    assert serious.band == "serious" and serious.max_fen == 2_000_000_00
    even = assess(entry, Observed(frozenset(base | {"cooperated", "large_scale"})))
    assert even.band == "ordinary"


def test_a_complete_no_penalty_list_item_suggests_no_penalty() -> None:
    entry = starter().entry("business_licence_not_displayed")
    ticked = frozenset({"no_business_licence_shown", "first_violation", "corrected_promptly"})
    got = assess(entry, Observed(ticked))
    assert got.band == "no_penalty" and got.no_penalty is not None
    assert got.no_penalty.list == "first_violation"
    ranked = suggest(starter(), Observed(ticked))
    assert ("list", "first_violation") in {(r.kind, r.tag) for r in ranked[0].reasons}
    # an aggravating factor keeps the penalty
    worse = assess(entry, Observed(ticked | {"refused_correction"}))
    assert worse.band != "no_penalty"


def test_a_band_counted_in_multiples_uses_the_amount_given() -> None:
    entry = starter().entry("seven_day_return_refused")
    ticked = frozenset({"return_refused"})
    fixed = assess(entry, Observed(ticked))
    assert (fixed.min_fen, fixed.max_fen, fixed.counted_from) == (50_000_00, 250_000_00, None)
    counted = assess(entry, Observed(ticked, {"illegal_income_yuan": Decimal("3200")}))
    assert (counted.min_fen, counted.max_fen) == (9_600_00, 19_200_00)
    assert counted.counted_from == "illegal_income_yuan"


def test_the_quoted_passage_never_shows_personal_data_even_cut_by_its_edge() -> None:
    """The reasons quote the captured page; a buyer's phone or ID number near a keyword is
    redacted, including one that straddles the edge of the quoted passage."""
    for gap in range(0, 40, 3):
        text = (
            "买家 13800138000 身份证 110101199003071234 "
            + "啊" * gap
            + "好评返现5元"
            + "哦" * gap
            + " 联系 13912345678 地址 北京市朝阳区建国路88号1001室"
        )
        ranked = suggest(starter(), Observed(page_text=text))
        fake = next(s for s in ranked if s.entry.id == "fake_reviews")
        quoted = next(r.snippet for r in fake.reasons if r.tag == "好评返现")
        assert "好评返现5元" in quoted
        digits = "".join(c if c.isdigit() else " " for c in quoted).split()
        assert all(len(d) < 5 for d in digits), (gap, quoted)  # no number's tail survives
        assert "建国路88号" not in quoted
