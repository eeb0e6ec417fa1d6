"""The guards of the case process: what must be true before an action may be taken.

Each guard is a pure function of :class:`CaseFacts` that returns ``None`` (passes) or a
:class:`Refusal` saying, in Chinese and English, what is missing and what to do. Guards never
look at a clock or a database: whatever depends on dates (has the 5-working-day statement
window ended? was the hearing notice served 7 days ahead? is the fast-track 30-day period
over?) is computed by the deadline engine and handed in as a fact. That keeps every rule
testable at its boundary and lets legal staff read the rule next to its reason.

``process.toml`` names guards by their function name; :data:`GUARDS` is the registry it is
checked against, so a misspelt guard is an error when the table is loaded, not a silently
passing rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "GUARDS",
    "SIMPLIFIED_FINE_LIMIT_FEN",
    "CaseFacts",
    "Guard",
    "NoPenaltyGround",
    "Officer",
    "PartyKind",
    "Penalty",
    "PenaltyKind",
    "Procedure",
    "Refusal",
    "ServiceMethod",
]

Procedure = Literal["general", "simplified", "fast_track"]
PartyKind = Literal["natural_person", "organisation"]
PenaltyKind = Literal["warning", "fine"]
#: Why no penalty is given: the first-violation and minor-violation lists (首违不罚 / 轻微不罚,
#: both need the violation corrected), no violation found, or the evidence does not suffice.
NoPenaltyGround = Literal[
    "first_violation", "minor_violation", "no_violation", "insufficient_evidence"
]
ServiceMethod = Literal["direct", "electronic", "postal", "public_notice"]

#: The simplified procedure (简易程序, Administrative Penalty Law): a warning, or a fine of at
#: most 200 yuan for a natural person or 3,000 yuan for an organisation. Statutory figures, in
#: fen so that no float ever decides a boundary.
SIMPLIFIED_FINE_LIMIT_FEN: dict[PartyKind, int] = {
    "natural_person": 200_00,
    "organisation": 3_000_00,
}


@dataclass(frozen=True)
class Officer:
    """An officer assigned to the case with the number of their enforcement credential
    (执法证号); an officer without one may not be counted for filing."""

    name: str
    badge: str


@dataclass(frozen=True)
class Penalty:
    """A penalty as notified or decided. Amounts in fen (1 yuan = 100 fen)."""

    kind: PenaltyKind
    amount_fen: int = 0

    def __post_init__(self) -> None:
        if self.amount_fen < 0:
            raise ValueError(f"penalty amount must not be negative, got {self.amount_fen} fen")
        if self.kind == "fine" and self.amount_fen == 0:
            raise ValueError("a fine needs an amount above 0 fen")
        if self.kind == "warning" and self.amount_fen != 0:
            raise ValueError("a warning has no amount; use kind='fine' for a fine")

    def exceeds(self, other: Penalty) -> bool:
        """True if this penalty is heavier than ``other``: a fine is heavier than a warning,
        and a larger fine heavier than a smaller one."""
        rank = {"warning": 0, "fine": 1}
        if rank[self.kind] != rank[other.kind]:
            return rank[self.kind] > rank[other.kind]
        return self.amount_fen > other.amount_fen

    def describe(self) -> str:
        if self.kind == "warning":
            return "警告 / warning"
        yuan, fen = divmod(self.amount_fen, 100)
        return f"罚款 {yuan}.{fen:02d} 元 / fine of {yuan}.{fen:02d} yuan"


@dataclass(frozen=True)
class CaseFacts:
    """What is known about a case when an action is attempted.

    Every field defaults to "not yet", so a fact nobody recorded never lets an action
    through. Dates are not here: the deadline engine turns them into the booleans below
    (``statement_window_ended``, ``hearing_notice_period_met``, ...).
    """

    #: The procedure the case follows; ``None`` means "the one passed to available/take".
    procedure: Procedure | None = None
    party_kind: PartyKind = "organisation"
    #: Officers assigned, each with their enforcement credential number.
    officers: tuple[Officer, ...] = ()
    #: The head of unit's signature is on the approval form (filing / non-filing) now on file.
    head_approval_recorded: bool = False
    #: The head of unit approved the preservation of evidence (先行登记保存).
    preservation_approved: bool = False
    #: Reasons recorded for refusing a complaint or not filing a case.
    reasons_recorded: bool = False
    has_complainant: bool = False
    #: The complainant was told the outcome and the reasons.
    complainant_informed: bool = False
    #: The first-violation / minor-violation no-penalty lists (首违不罚 / 轻微不罚清单) were
    #: consulted, whether the case matches one of them, and whether the merchant was then
    #: offered guidance and self-correction (the no-penalty path).
    no_penalty_lists_consulted: bool = False
    no_penalty_list_match: bool = False
    no_penalty_path_offered: bool = False
    #: The period set in the order to correct has ended.
    correction_period_ended: bool = False
    #: A sealed re-capture of the page shows it corrected.
    correction_verified_by_recapture: bool = False
    #: Fast-track (快速办理): the party admitted the violation and accepted the penalty in
    #: writing; and whether the 30 days from filing are over.
    admitted_and_accepted_in_writing: bool = False
    fast_track_deadline_passed: bool = False
    #: The penalty notification (行政处罚告知书) was served, and its statement window.
    notification_served: bool = False
    statement_window_ended: bool = False
    statement_waived_in_writing: bool = False
    #: The notification grants a hearing right (it applies to the penalty proposed).
    hearing_right: bool = False
    hearing_requested: bool = False
    #: The hearing notice reached the party at least 7 days before the hearing.
    hearing_notice_period_met: bool = False
    hearing_held: bool = False
    #: The party made a statement or defence (陈述、申辩); a hearing counts too.
    statement_or_defence_made: bool = False
    notified_penalty: Penalty | None = None
    decided_penalty: Penalty | None = None
    no_penalty_ground: NoPenaltyGround | None = None
    major_case: bool = False
    #: 法制审核 by the legal reviewer, needed before deciding a major case.
    legal_review_done: bool = False
    major_penalty: bool = False
    #: The collective discussion (集体讨论) of the heads, needed before a major penalty.
    collective_discussion_recorded: bool = False
    service_method: ServiceMethod | None = None
    #: The party signed the service-address confirmation (送达地址确认书), which electronic
    #: service needs.
    address_confirmation_signed: bool = False
    #: The 15 days to pay after service are over.
    payment_period_ended: bool = False
    paid: bool = False
    #: The application to the people's court for enforcement (申请强制执行) is recorded.
    enforcement_application_recorded: bool = False
    #: The decision made was a no-penalty decision (不予行政处罚决定).
    no_penalty_decision: bool = False
    #: The decision is on the public credit publicity page.
    published: bool = False

    def with_(self, **changes: Any) -> CaseFacts:
        """A copy with some facts changed (the case moved on)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Refusal:
    """Why an action may not be taken now: ``guard`` names the rule (or ``role`` when the
    role may not take the action at all), ``zh``/``en`` say what is missing."""

    guard: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


Guard = Callable[[CaseFacts], Refusal | None]
GUARDS: dict[str, Guard] = {}


def _guard(fn: Callable[[CaseFacts], tuple[str, str] | None]) -> Guard:
    """Register ``fn`` under its name; it returns (zh, en) when it refuses."""
    name = fn.__name__

    def check(facts: CaseFacts) -> Refusal | None:
        reason = fn(facts)
        return None if reason is None else Refusal(name, *reason)

    check.__name__ = name
    check.__doc__ = fn.__doc__
    GUARDS[name] = check
    return check


def _is_penalty_decision(facts: CaseFacts) -> bool:
    return facts.decided_penalty is not None and not facts.no_penalty_decision


# -- filing (立案) -----------------------------------------------------------------------------


@_guard
def two_officers_with_badges(facts: CaseFacts) -> tuple[str, str] | None:
    """Two or more officers holding enforcement credentials handle a case (执法人员不得少于
    两人)."""
    badged = {o.badge.strip() for o in facts.officers if o.badge.strip()}
    if len(badged) >= 2:
        return None
    unbadged = [o.name for o in facts.officers if not o.badge.strip()]
    extra_zh = f"（{'、'.join(unbadged)} 无执法证号）" if unbadged else ""
    extra_en = f" ({', '.join(unbadged)} without a badge number)" if unbadged else ""
    return (
        f"须指派两名以上持执法证的办案人员，现有 {len(badged)} 名{extra_zh}",
        f"assign at least two officers with enforcement credentials; {len(badged)} "
        f"assigned{extra_en}",
    )


@_guard
def officer_with_badge(facts: CaseFacts) -> tuple[str, str] | None:
    """On the spot (简易程序) the officer shows an enforcement credential to the party."""
    if any(o.badge.strip() for o in facts.officers):
        return None
    return (
        "当场处罚须由持执法证的执法人员作出并出示证件",
        "an on-the-spot decision needs an officer with an enforcement credential; record "
        "the officer and badge number",
    )


@_guard
def head_approval_recorded(facts: CaseFacts) -> tuple[str, str] | None:
    """Filing and not filing are the head of unit's decision: the signed approval form must be
    on file before the case changes state."""
    if facts.head_approval_recorded:
        return None
    return (
        "审批表尚无机关负责人签批，请先由负责人审批",
        "the approval form has no head-of-unit approval yet; have the head sign it first",
    )


@_guard
def no_penalty_lists_consulted(facts: CaseFacts) -> tuple[str, str] | None:
    """Before filing, the first-violation / minor-violation no-penalty lists are checked."""
    if facts.no_penalty_lists_consulted:
        return None
    return (
        "立案前须查询首违不罚、轻微违法不罚清单",
        "consult the first-violation and minor-violation no-penalty lists before filing",
    )


@_guard
def no_penalty_path_offered(facts: CaseFacts) -> tuple[str, str] | None:
    """A case that matches a no-penalty list is filed only after the merchant was offered
    guidance and self-correction (行政指导、自行改正)."""
    if not facts.no_penalty_list_match or facts.no_penalty_path_offered:
        return None
    return (
        "案件符合首违不罚/轻微不罚清单，须先对当事人进行指导并告知可自行改正",
        "the case matches a no-penalty list: offer the merchant guidance and self-correction first",
    )


@_guard
def reasons_recorded(facts: CaseFacts) -> tuple[str, str] | None:
    """Refusing a complaint or not filing needs reasons the complainant can be given."""
    if facts.reasons_recorded:
        return None
    return (
        "须记录不予受理/不予立案的理由",
        "record the reasons for not accepting or not filing",
    )


@_guard
def complainant_told_why(facts: CaseFacts) -> tuple[str, str] | None:
    """A complainant learns the outcome and why."""
    if not facts.has_complainant or facts.complainant_informed:
        return None
    return (
        "尚未告知投诉举报人处理结果及理由",
        "tell the complainant the outcome and the reasons first",
    )


# -- investigation (调查取证, 责令改正) ---------------------------------------------------------


@_guard
def preservation_approved(facts: CaseFacts) -> tuple[str, str] | None:
    """Preserving evidence in advance (先行登记保存) needs the head of unit's approval."""
    if facts.preservation_approved:
        return None
    return (
        "先行登记保存证据须经机关负责人批准",
        "preserving evidence needs the head of unit's approval; record it first",
    )


@_guard
def correction_verified_by_recapture(facts: CaseFacts) -> tuple[str, str] | None:
    """A correction counts when a sealed re-capture shows the page corrected, not on the
    merchant's word."""
    if facts.correction_verified_by_recapture:
        return None
    return (
        "须以重新取证（页面复核）证明已改正",
        "re-capture the page and confirm it shows the correction",
    )


@_guard
def correction_period_ended(facts: CaseFacts) -> tuple[str, str] | None:
    """The investigation resumes without a correction only once the period to correct ended."""
    if facts.correction_period_ended:
        return None
    return (
        "责令改正期限尚未届满",
        "the period set in the order to correct has not ended yet",
    )


@_guard
def written_admission(facts: CaseFacts) -> tuple[str, str] | None:
    """Fast-track (快速办理) needs the party's written admission and acceptance."""
    if facts.admitted_and_accepted_in_writing:
        return None
    return (
        "快速办理须当事人书面认错认罚",
        "fast-track needs the party's written admission and acceptance of the penalty",
    )


@_guard
def fast_track_within_30_days(facts: CaseFacts) -> tuple[str, str] | None:
    """A fast-track decision is due within 30 days of filing; after that the case continues
    under the general procedure."""
    if not facts.fast_track_deadline_passed:
        return None
    return (
        "快速办理已超过立案之日起30日，请转为普通程序办理",
        "more than 30 days since filing: continue the case under the general procedure",
    )


# -- notification, statement, hearing (告知, 陈述申辩, 听证) -----------------------------------


@_guard
def notification_served(facts: CaseFacts) -> tuple[str, str] | None:
    """No decision before the penalty notification reached the party."""
    if facts.notification_served:
        return None
    return (
        "行政处罚告知书尚未送达当事人",
        "the penalty notification has not been served on the party yet",
    )


@_guard
def statement_window_closed(facts: CaseFacts) -> tuple[str, str] | None:
    """The party has 5 working days to state, defend or ask for a hearing; the decision
    waits until that window ended, the party waived it in writing, or a requested hearing was
    held."""
    if facts.hearing_requested and not facts.hearing_held:
        return (
            "当事人已申请听证，须在听证后作出决定",
            "the party asked for a hearing: decide only after it was held",
        )
    if facts.statement_window_ended or facts.statement_waived_in_writing or facts.hearing_held:
        return None
    return (
        "陈述申辩期（5个工作日）尚未届满，当事人亦未书面放弃",
        "the 5-working-day window for statement and defence has not ended and was not "
        "waived in writing",
    )


@_guard
def statement_window_open(facts: CaseFacts) -> tuple[str, str] | None:
    """A hearing is asked for within the window, and not after waiving it."""
    if facts.statement_waived_in_writing:
        return (
            "当事人已书面放弃陈述申辩和听证",
            "the party waived statement and hearing in writing",
        )
    if facts.statement_window_ended:
        return (
            "告知书载明的期限已届满",
            "the window stated in the notification has ended",
        )
    return None


@_guard
def hearing_right(facts: CaseFacts) -> tuple[str, str] | None:
    """Only penalties the law names (large fines, revocations...) carry a hearing right; the
    notification says whether it applies."""
    if facts.hearing_right:
        return None
    return (
        "拟作出的处罚不属于听证范围",
        "the proposed penalty carries no hearing right",
    )


@_guard
def hearing_notice_period_met(facts: CaseFacts) -> tuple[str, str] | None:
    """The hearing notice must reach the party at least 7 days before the hearing."""
    if facts.hearing_notice_period_met:
        return None
    return (
        "听证通知书须于听证7日前送达",
        "the hearing notice must reach the party at least 7 days before the hearing",
    )


@_guard
def penalty_proposed(facts: CaseFacts) -> tuple[str, str] | None:
    """The notification states the proposed penalty; it is also what the decision is later
    held against."""
    if facts.notified_penalty is not None:
        return None
    return (
        "告知书须载明拟作出的处罚种类和数额",
        "state the proposed penalty (kind and amount) in the notification",
    )


# -- decision (决定) ----------------------------------------------------------------------------


@_guard
def penalty_specified(facts: CaseFacts) -> tuple[str, str] | None:
    """A penalty decision names its penalty."""
    if facts.decided_penalty is not None:
        return None
    return ("须载明处罚种类和数额", "state the penalty (kind and amount)")


@_guard
def penalty_not_raised_after_defence(facts: CaseFacts) -> tuple[str, str] | None:
    """The penalty may not be raised because the party stated or defended itself (不得因当事人
    陈述申辩而加重处罚)."""
    if not (facts.statement_or_defence_made or facts.hearing_held):
        return None
    if facts.decided_penalty is None:
        return None  # penalty_specified says so
    if facts.notified_penalty is None:
        return (
            "未记录告知书中的拟处罚，无法核对是否加重",
            "the penalty proposed in the notification is not recorded; record it to check "
            "that the decision does not exceed it",
        )
    if facts.decided_penalty.exceeds(facts.notified_penalty):
        return (
            f"当事人陈述申辩后，决定的处罚（{facts.decided_penalty.describe()}）不得重于告知的处罚"
            f"（{facts.notified_penalty.describe()}）",
            f"after the party's statement or defence the decided penalty "
            f"({facts.decided_penalty.describe()}) may not exceed the notified one "
            f"({facts.notified_penalty.describe()})",
        )
    return None


@_guard
def legal_review_for_major_case(facts: CaseFacts) -> tuple[str, str] | None:
    """A major case is reviewed by the legal reviewer (法制审核) before it is decided."""
    if not facts.major_case or facts.legal_review_done:
        return None
    return (
        "重大案件须经法制审核后方可作出决定",
        "a major case needs the legal review (法制审核) before the decision",
    )


@_guard
def collective_discussion_for_major_penalty(facts: CaseFacts) -> tuple[str, str] | None:
    """A major penalty is decided by the heads' collective discussion (集体讨论决定)."""
    if not facts.major_penalty or facts.collective_discussion_recorded:
        return None
    return (
        "重大行政处罚须经机关负责人集体讨论决定",
        "a major penalty needs a recorded collective discussion of the heads",
    )


@_guard
def simplified_limits(facts: CaseFacts) -> tuple[str, str] | None:
    """The simplified procedure decides only a warning or a small fine on the spot."""
    penalty = facts.decided_penalty
    if penalty is None:
        return ("须载明处罚种类和数额", "state the penalty (kind and amount)")
    if penalty.kind == "warning":
        return None
    limit = SIMPLIFIED_FINE_LIMIT_FEN[facts.party_kind]
    if penalty.amount_fen <= limit:
        return None
    who_zh = "公民" if facts.party_kind == "natural_person" else "法人或其他组织"
    who_en = "a natural person" if facts.party_kind == "natural_person" else "an organisation"
    return (
        f"简易程序对{who_zh}罚款不得超过 {limit // 100} 元，拟罚 {penalty.describe()}，"
        "请适用普通程序",
        f"the simplified procedure fines {who_en} at most {limit // 100} yuan, not "
        f"{penalty.describe()}; use the general procedure",
    )


@_guard
def no_penalty_grounds(facts: CaseFacts) -> tuple[str, str] | None:
    """A no-penalty decision names its ground; the list grounds (first or minor violation)
    also need the correction shown by a re-capture."""
    ground = facts.no_penalty_ground
    if ground is None:
        return (
            "须载明不予处罚的理由（首违、轻微、无违法事实或证据不足）",
            "state the ground for no penalty (first or minor violation, no violation, "
            "insufficient evidence)",
        )
    if ground in ("first_violation", "minor_violation") and not (
        facts.correction_verified_by_recapture
    ):
        return (
            "首违/轻微不罚须当事人已改正，并经重新取证确认",
            "a first or minor violation goes unpunished only once a re-capture shows the "
            "page corrected",
        )
    return None


# -- service, payment, publicity, closing (送达, 执行, 公示, 结案) ------------------------------


@_guard
def electronic_service_consent(facts: CaseFacts) -> tuple[str, str] | None:
    """Electronic service needs the party's signed service-address confirmation."""
    if facts.service_method is None:
        return ("须选择送达方式", "choose how the document is served")
    if facts.service_method != "electronic" or facts.address_confirmation_signed:
        return None
    return (
        "电子送达须当事人签署送达地址确认书",
        "electronic service needs the party's signed service-address confirmation",
    )


@_guard
def fine_imposed(facts: CaseFacts) -> tuple[str, str] | None:
    """Only a fine is paid."""
    if facts.decided_penalty is not None and facts.decided_penalty.kind == "fine":
        return None
    return ("本案未处以罚款，无需缴款", "no fine was imposed in this case; nothing to pay")


@_guard
def payment_overdue(facts: CaseFacts) -> tuple[str, str] | None:
    """Enforcement is applied for only when a fine is due, unpaid, and the 15 days are over."""
    if facts.decided_penalty is None or facts.decided_penalty.kind != "fine":
        return ("本案未处以罚款", "no fine was imposed in this case")
    if facts.paid:
        return ("罚款已缴纳", "the fine has been paid")
    if not facts.payment_period_ended:
        return ("缴款期限（15日）尚未届满", "the 15 days to pay have not ended yet")
    return None


@_guard
def penalty_decision_made(facts: CaseFacts) -> tuple[str, str] | None:
    """Publicity is for penalty decisions."""
    if _is_penalty_decision(facts):
        return None
    return ("尚无行政处罚决定可供公示", "there is no penalty decision to publish")


@_guard
def settled(facts: CaseFacts) -> tuple[str, str] | None:
    """No closing before the fine was paid, enforcement was applied for, or nothing was owed
    (a no-penalty decision, or a warning)."""
    if facts.paid or facts.enforcement_application_recorded or facts.no_penalty_decision:
        return None
    if facts.decided_penalty is not None and facts.decided_penalty.kind == "warning":
        return None
    return (
        "罚款未缴纳，亦未申请强制执行，不得结案",
        "the fine is neither paid nor subject to a recorded enforcement application; the "
        "case cannot be closed",
    )


@_guard
def published_when_required(facts: CaseFacts) -> tuple[str, str] | None:
    """A penalty decision is published before its case is closed."""
    if not _is_penalty_decision(facts) or facts.published:
        return None
    return (
        "行政处罚决定尚未公示",
        "the penalty decision has not been published yet",
    )
