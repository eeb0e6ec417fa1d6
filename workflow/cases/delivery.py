"""Service of a case's documents (送达) by each method, and the legal date of service.

An action that serves a document (``serves`` in ``effects.toml``: the penalty notification, the
decision, the inquiry, preservation and hearing notices, the order to correct) records how it
is served and the date the law counts as the date of service, in the fact that later
deadlines count from (``notification_served_on``, ``decision_served_on``, ...):

* ``direct`` (直接送达): handed to the party; served on the day of the action.
* ``electronic`` (电子送达, only with the party's signed service-address confirmation): served
  when the document reaches the party's portal account. The sending is the action; the case
  documents (``workflow.cases.documents``) put the document in the account and record that
  moment (``service.record_delivery``), which corrects the date if it was later.
* ``postal`` (邮寄送达): the tracking number and the posting date are recorded; the document
  is served on the date the return receipt says, recorded when it comes back
  (``service.record_service_receipt``). Until then the date is unknown and nothing counts from
  it.
* ``public_notice`` (公告送达): the publication date and where it was published are recorded;
  the document is deemed served when the period of the deadline rule ``public_notice_service``
  (30 days from publication) has passed, computed by the deadline engine: the day the rule
  gives as due is the day of service.

Why a date and not a flag: what a guard needs ("was the notification served?") then follows
from the date and today (a public notice published today is not served yet), and the deadline
engine counts every later period from the legal date, whatever the method.

Nothing here reads a database or a clock: the caller gives ``today`` and the facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, get_args

from workflow.deadlines import due

from .guards import ServiceMethod

__all__ = [
    "METHODS",
    "PARTICULARS",
    "ParticularsError",
    "Serves",
    "record_sending",
    "served_date",
]

METHODS: tuple[str, ...] = get_args(ServiceMethod)
#: What the serving action may give besides the method (all optional but as the method asks).
PARTICULARS = ("tracking_number", "posted_on", "published_on", "notice_medium")
PUBLIC_NOTICE_RULE = "public_notice_service"


class ParticularsError(ValueError):
    """A method's particulars are missing or wrong: ``field`` names the input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Serves:
    """``serves`` of an action in ``effects.toml``: the fact that receives the legal date of
    service (``on``), the input naming the method (``method``), and the fact that says "served
    by now" to the guards (``flag``, optional)."""

    on: str
    method: str
    flag: str | None = None

    @classmethod
    def parse(cls, action: str, entry: Any) -> Serves:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("on"), str):
            raise ValueError(f'[{action}] serves needs on = "<fact>" (the date of service)')
        unknown = set(entry) - {"on", "method", "flag"}
        if unknown:
            raise ValueError(f"[{action}] serves has unknown keys {sorted(unknown)}")
        flag = entry.get("flag")
        return cls(str(entry["on"]), str(entry.get("method") or "service_method"), flag)


def _date(payload: Mapping[str, Any], name: str, today: date) -> date:
    raw = payload.get(name)
    if raw in (None, ""):
        return today
    try:
        value = date.fromisoformat(str(raw))
    except ValueError:
        raise ParticularsError(name, "a date, YYYY-MM-DD") from None
    if value > today:
        raise ParticularsError(name, f"{value.isoformat()} is after today")
    return value


#: The method input the guard ``electronic_service_consent`` judges (serve_decision): its
#: refusal is the guard's, with its reasons, not an input error.
GUARDED_METHOD = "service_method"


def record_sending(
    serves: Serves, payload: Mapping[str, Any], today: date, facts: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The facts (the date of service, or ``None`` while it is not known) and the event's
    ``service`` details for a document sent now. ``facts``: the case's, for the party's
    consent to electronic service. Raises :class:`ParticularsError`."""
    method = str(payload.get(serves.method) or "direct")
    if method not in METHODS:
        raise ParticularsError(serves.method, f"one of {', '.join(METHODS)}")
    if (
        method == "electronic"
        and serves.method != GUARDED_METHOD
        and not facts.get("address_confirmation_signed")
    ):
        raise ParticularsError(
            serves.method,
            "electronic service needs the party's signed service-address confirmation "
            "(confirm_service_address); serve it directly, by post or by public notice",
        )
    record: dict[str, Any] = {"method": method}
    served_on: date | None = None
    if method in ("direct", "electronic"):
        served_on = today
    elif method == "postal":
        tracking = str(payload.get("tracking_number") or "").strip()
        if not tracking:
            raise ParticularsError("tracking_number", "postal service records the tracking number")
        record.update(tracking_number=tracking[:64], posted_on=_date(payload, "posted_on", today))
    else:  # public_notice
        medium = str(payload.get("notice_medium") or "").strip()
        if not medium:
            raise ParticularsError(
                "notice_medium", "say where the notice is published (e.g. the unit's website)"
            )
        published = _date(payload, "published_on", today)
        deemed = due(PUBLIC_NOTICE_RULE, published)
        if deemed.due_date is None:
            raise ParticularsError(
                "published_on",
                f"the working calendar after {published.isoformat()} is not known yet, so the "
                f"day the notice counts as served cannot be computed: {deemed.explanation}",
            )
        served_on = deemed.due_date
        record.update(notice_medium=medium[:200], published_on=published)
    for key in ("posted_on", "published_on"):
        if isinstance(record.get(key), date):
            record[key] = record[key].isoformat()
    if served_on is not None:
        record["served_on"] = served_on.isoformat()
    facts = {serves.on: served_on.isoformat() if served_on else None}
    return facts, record


def served_date(facts: Mapping[str, Any], serves: Serves) -> date | None:
    value = facts.get(serves.on)
    return date.fromisoformat(value) if isinstance(value, str) else None
