"""The verification report: checks, their statuses and the overall ETSI indication.

A report is plain data (dataclasses) with a stable JSON form (:meth:`Report.to_dict`, schema in
:data:`REPORT_JSON_SCHEMA`), so that a court can file the JSON, a lawyer can read the HTML and a
script can act on the exit code -- all from the same object.

Every human-readable string is bilingual (:class:`Text`): the reasons are for non-experts, in
Chinese and English, written by the check that found them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "FAILED_SUB_INDICATIONS",
    "REPORT_JSON_SCHEMA",
    "REPORT_SCHEMA",
    "REPORT_VERSION",
    "Check",
    "Indication",
    "Report",
    "Status",
    "Sub",
    "Text",
    "overall_indication",
]

REPORT_SCHEMA = "evidence-verification-report"
REPORT_VERSION = 1


class Indication(StrEnum):
    """ETSI EN 319 102-1 §5.1.3 main indications."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class Status(StrEnum):
    """The result of one check. ``NOT_APPLICABLE`` is ours (not ETSI's): the thing checked is
    absent and its absence is allowed (e.g. a package sealed before manifests existed)."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Sub(StrEnum):
    """ETSI EN 319 102-1 sub-indications (the names pyHanko's ``AdESSubIndic`` uses too)."""

    # with TOTAL-FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # with INDETERMINATE
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    EXPIRED = "EXPIRED"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    GENERIC = "GENERIC"


#: Sub-indications that go with TOTAL-FAILED (a proven defect); all others go with INDETERMINATE.
FAILED_SUB_INDICATIONS = frozenset(
    {Sub.FORMAT_FAILURE, Sub.HASH_FAILURE, Sub.SIG_CRYPTO_FAILURE, Sub.REVOKED, Sub.NOT_YET_VALID}
)


@dataclass(frozen=True)
class Text:
    """One message in both languages."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def to_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Text:
        return cls(str(data.get("zh", "")), str(data.get("en", "")))

    def __add__(self, other: Text) -> Text:
        return Text(self.zh + other.zh, self.en + " " + other.en)


def tech(zh: str, en: str, detail: str) -> Text:
    """A message with a technical detail (English, from a library) appended to both languages."""
    return Text(f"{zh}（技术细节：{detail}）", f"{en} (technical detail: {detail})")


@dataclass
class Check:
    """One named check. ``counts`` is False for checks the validation policy reports but does
    not let decide the overall indication (e.g. revocation data that is simply not available
    offline, under the default policy): see the module docstring of ``signing.verify``."""

    id: str
    title: Text
    status: Status
    reason: Text
    sub_indication: Sub | None = None
    details: list[Text] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    counts: bool = True

    def __post_init__(self) -> None:
        if self.status in (Status.PASSED, Status.NOT_APPLICABLE):
            if self.sub_indication is not None:
                raise ValueError(f"{self.id}: a {self.status.value} check has no sub-indication")
        elif self.sub_indication is None:
            raise ValueError(f"{self.id}: a {self.status.value} check needs a sub-indication")
        elif (self.status is Status.FAILED) != (self.sub_indication in FAILED_SUB_INDICATIONS):
            raise ValueError(
                f"{self.id}: sub-indication {self.sub_indication.value} does not go with "
                f"{self.status.value}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title.to_dict(),
            "status": self.status.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "counts": self.counts,
            "reason": self.reason.to_dict(),
            "details": [d.to_dict() for d in self.details],
            "facts": self.facts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        sub = data.get("sub_indication")
        return cls(
            id=str(data["id"]),
            title=Text.from_dict(data["title"]),
            status=Status(data["status"]),
            reason=Text.from_dict(data["reason"]),
            sub_indication=Sub(sub) if sub else None,
            details=[Text.from_dict(d) for d in data.get("details", [])],
            facts=dict(data.get("facts", {})),
            counts=bool(data.get("counts", True)),
        )


def overall_indication(checks: Iterable[Check]) -> tuple[Indication, Sub | None, Check | None]:
    """The worst result among the checks that count, and the check that decided it.

    FAILED anywhere gives TOTAL-FAILED; otherwise INDETERMINATE anywhere gives INDETERMINATE;
    otherwise TOTAL-PASSED. The sub-indication is that of the first deciding check in report
    order (checks are ordered from the container outwards, so the first is the most basic).
    A report without any counting check that passed is INDETERMINATE: nothing was proven.
    """
    counted = [c for c in checks if c.counts]
    for status, indication in (
        (Status.FAILED, Indication.TOTAL_FAILED),
        (Status.INDETERMINATE, Indication.INDETERMINATE),
    ):
        first = next((c for c in counted if c.status is status), None)
        if first is not None:
            return indication, first.sub_indication, first
    if not any(c.status is Status.PASSED for c in counted):
        return Indication.INDETERMINATE, Sub.SIGNED_DATA_NOT_FOUND, None
    return Indication.TOTAL_PASSED, None, None


INDICATION_TEXT = {
    Indication.TOTAL_PASSED: Text(
        "验证通过（TOTAL-PASSED）：所有检查均通过。",
        "TOTAL-PASSED: every check passed.",
    ),
    Indication.TOTAL_FAILED: Text(
        "验证失败（TOTAL-FAILED）：证据被改动、损坏或签名无效。",
        "TOTAL-FAILED: the evidence was altered, is damaged, or a signature is invalid.",
    ),
    Indication.INDETERMINATE: Text(
        "无法确定（INDETERMINATE）：现有信息不足以得出结论。",
        "INDETERMINATE: the information available is not enough to conclude.",
    ),
}


@dataclass
class Report:
    """What the verifier found about one file."""

    file_name: str
    file_size: int
    file_sha256: str | None
    kind: str  # "wacz" | "casefile" | "pdf" | "timestamp" | "unknown"
    checks: list[Check]
    trust: dict[str, Any]
    policy: dict[str, Any]
    verified_at: datetime
    duration_s: float = 0.0
    #: Key facts for the summary (capture URL, trusted times, signer...), JSON-able.
    facts: dict[str, Any] = field(default_factory=dict)
    verifier: str = "evidence-service"
    #: Set when the checks were evaluated as of a past moment (``--at``) instead of the
    #: present; ``verified_at`` stays the time the verification ran.
    validation_time: datetime | None = None
    #: With ``validation_time``: the verdict at the present time (:meth:`verdict` of that run),
    #: so that nobody mistakes "valid then" for "valid now".
    present: dict[str, Any] | None = None

    @property
    def decided(self) -> tuple[Indication, Sub | None, Check | None]:
        return overall_indication(self.checks)

    @property
    def indication(self) -> Indication:
        return self.decided[0]

    @property
    def sub_indication(self) -> Sub | None:
        return self.decided[1]

    @property
    def exit_code(self) -> int:
        """0 TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE (the CLI's exit status)."""
        return {
            Indication.TOTAL_PASSED: 0,
            Indication.TOTAL_FAILED: 1,
            Indication.INDETERMINATE: 2,
        }[self.indication]

    @property
    def summary(self) -> Text:
        indication, _sub, check = self.decided
        text = INDICATION_TEXT[indication]
        if check is not None:
            text = Text(
                f"{text.zh} 决定性检查：{check.title.zh}——{check.reason.zh}",
                f"{text.en} Deciding check: {check.title.en} -- {check.reason.en}",
            )
        if self.validation_time is not None:
            text = self.past_notice() + text
        return text

    def past_notice(self) -> Text:
        """What a validation at a past moment means, with the present-time verdict."""
        at = _iso(self.validation_time or self.verified_at)
        now = self.present or {}
        line = " ".join(str(now[k]) for k in ("indication", "sub_indication") if now.get(k))
        return Text(
            f"这是以过去时间 {at} 为准的验证（按该时间检查证书与时间戳的有效性）；"
            f"以现在时间验证的结论是：{line or '未知'}。",
            f"This is a validation as of a past time, {at} (certificates and time-stamps checked "
            f"for validity at that time); validated at the present time the result is: "
            f"{line or 'unknown'}.",
        )

    def verdict(self) -> dict[str, Any]:
        """The overall result alone (what :attr:`present` holds)."""
        indication, sub, deciding = self.decided
        return {
            "indication": indication.value,
            "sub_indication": sub.value if sub else None,
            "deciding_check": deciding.id if deciding else None,
            "summary": self.summary.to_dict(),
            "validation_time": _iso(self.validation_time or self.verified_at),
        }

    def indication_line(self) -> str:
        """``TOTAL-PASSED`` or e.g. ``INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND``."""
        sub = self.sub_indication
        return self.indication.value + (f" {sub.value}" if sub else "")

    def check(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def find(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_dict(self) -> dict[str, Any]:
        indication, sub, deciding = self.decided
        return {
            "schema": REPORT_SCHEMA,
            "version": REPORT_VERSION,
            "indication": indication.value,
            "sub_indication": sub.value if sub else None,
            "deciding_check": deciding.id if deciding else None,
            "summary": self.summary.to_dict(),
            "file": {
                "name": self.file_name,
                "size": self.file_size,
                "sha256": self.file_sha256,
                "kind": self.kind,
            },
            "trust": self.trust,
            "policy": self.policy,
            "verified_at": _iso(self.verified_at),
            "validation_time": _iso(self.validation_time or self.verified_at),
            "present": self.present,
            "duration_s": round(self.duration_s, 3),
            "verifier": self.verifier,
            "facts": self.facts,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        if data.get("schema") != REPORT_SCHEMA:
            raise ValueError("not an evidence verification report")
        file = data["file"]
        return cls(
            file_name=str(file["name"]),
            file_size=int(file["size"]),
            file_sha256=file.get("sha256"),
            kind=str(file["kind"]),
            checks=[Check.from_dict(c) for c in data["checks"]],
            trust=dict(data.get("trust", {})),
            policy=dict(data.get("policy", {})),
            verified_at=datetime.fromisoformat(str(data["verified_at"]).replace("Z", "+00:00")),
            duration_s=float(data.get("duration_s", 0.0)),
            facts=dict(data.get("facts", {})),
            verifier=str(data.get("verifier", "")),
            validation_time=_parse_iso(data.get("validation_time"))
            if data.get("present") is not None
            else None,
            present=dict(data["present"]) if data.get("present") is not None else None,
        )


def _parse_iso(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with milliseconds and ``Z`` (the form every time in a report takes)."""
    return None if moment is None else _iso(moment)


_TEXT_SCHEMA = {
    "type": "object",
    "required": ["zh", "en"],
    "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
    "additionalProperties": False,
}

#: JSON Schema (draft 2020-12) of :meth:`Report.to_dict`. Stable: fields are only ever added.
REPORT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Evidence verification report",
    "type": "object",
    "required": [
        "schema",
        "version",
        "indication",
        "sub_indication",
        "deciding_check",
        "summary",
        "file",
        "trust",
        "policy",
        "verified_at",
        "checks",
    ],
    "properties": {
        "schema": {"const": REPORT_SCHEMA},
        "version": {"const": REPORT_VERSION},
        "indication": {"enum": [i.value for i in Indication]},
        "sub_indication": {"enum": [None, *(s.value for s in Sub)]},
        "deciding_check": {"type": ["string", "null"]},
        "summary": _TEXT_SCHEMA,
        "file": {
            "type": "object",
            "required": ["name", "size", "sha256", "kind"],
            "properties": {
                "name": {"type": "string"},
                "size": {"type": "integer", "minimum": 0},
                "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
                "kind": {"enum": ["wacz", "casefile", "pdf", "timestamp", "unknown"]},
            },
        },
        "trust": {
            "type": "object",
            "required": ["source", "description", "anchors"],
            "properties": {
                "source": {"enum": ["given", "service", "local", "none"]},
                "description": _TEXT_SCHEMA,
                "sha256": {"type": ["string", "null"]},
                "anchors": {"type": "array", "items": {"type": "object"}},
            },
        },
        "policy": {
            "type": "object",
            "required": ["revocation"],
            "properties": {"revocation": {"enum": ["if-available", "required"]}},
        },
        "verified_at": {"type": "string"},
        "validation_time": {"type": "string"},
        "present": {
            "type": ["object", "null"],
            "required": ["indication", "sub_indication", "validation_time"],
            "properties": {
                "indication": {"enum": [i.value for i in Indication]},
                "sub_indication": {"enum": [None, *(s.value for s in Sub)]},
                "deciding_check": {"type": ["string", "null"]},
                "summary": _TEXT_SCHEMA,
                "validation_time": {"type": "string"},
            },
        },
        "duration_s": {"type": "number"},
        "verifier": {"type": "string"},
        "facts": {"type": "object"},
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "status", "sub_indication", "counts", "reason"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9_.]+$"},
                    "title": _TEXT_SCHEMA,
                    "status": {"enum": [s.value for s in Status]},
                    "sub_indication": {"enum": [None, *(s.value for s in Sub)]},
                    "counts": {"type": "boolean"},
                    "reason": _TEXT_SCHEMA,
                    "details": {"type": "array", "items": _TEXT_SCHEMA},
                    "facts": {"type": "object"},
                },
            },
        },
    },
}
