"""The screening on a small generated set with known answers (``workflow.screening.synthetic``)
must reach a floor, and beat the count-only rule a unit would use without it.

The floor is set by what the flag is for, not by what this seed happens to give: a flag sends
an officer to look at a complainant, so a wrong one costs an ordinary complainant suspicion.
Precision at least 0.8 (no more than one flag in five wrong: beyond that officers learn to
ignore the flag, or worse, to trust it); recall at least 0.7 (most professionals' complaints
get the officer's attention); and a higher F1 than the count-only rule on the same set, or the
text, identifier and timing facts would not be worth having. The set's seed (11) differs from
the benchmark's (7), which is where the rules were looked at."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Case
from tests.screening.conftest import Desk
from workflow.screening import index_pending, load_rules, screen
from workflow.screening.measure import count_only_baseline, quality
from workflow.screening.synthetic import generate, load

PRECISION_FLOOR = 0.8
RECALL_FLOOR = 0.7


def test_the_generator_is_seeded_and_knows_its_answers() -> None:
    a, b = generate(300, seed=3), generate(300, seed=3)
    assert a == b and a != generate(300, seed=4)
    assert len(a) == 300 and sum(c.professional for c in a) == 60
    assert [c.received_at for c in a] == sorted(c.received_at for c in a)
    pros = {c.person for c in a if c.professional}
    assert len(pros) >= 2  # rings, each filing many complaints
    assert any("退一赔三" in c.summary for c in a if not c.professional)  # hard negatives


def test_a_generated_set_reaches_the_floor_and_beats_the_count_only_rule(desk: Desk) -> None:
    complaints = generate(600, seed=11)
    ids = load(desk.services.sessions, complaints, desk.units)
    rules = load_rules()
    assert index_pending(desk.services.sessions, rules) == 600
    screener = desk.screener()
    flags = [screen(screener, i, trigger="batch", by="test").flagged for i in ids]
    truth = [c.professional for c in complaints]
    ours = quality(flags, truth)
    baseline = quality(
        count_only_baseline(desk.services.sessions, ids, rules, screener.operating), truth
    )
    assert ours.precision >= PRECISION_FLOOR, ours
    assert ours.recall >= RECALL_FLOOR, ours
    assert ours.f1 > baseline.f1, (ours, baseline)
    with desk.services.session() as session:  # screening moved none of them
        assert set(session.scalars(select(Case.state))) == {"received"}
