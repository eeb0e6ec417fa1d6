"""The hash chain of a case's events: what makes the electronic case file tamper-evident.

Each event is hashed over its canonical JSON (the transparency log's ``canonical_json``:
sorted keys, no spaces, UTF-8) *including the previous event's hash*, so changing, removing,
inserting or reordering any event changes every hash after it. The last hash is the case's
chain head; each event's hash is also a leaf of the service's transparency log, so the head
cannot be quietly recomputed either: the log's signed tree heads pin every event.

Here in ``signing`` (not ``workflow``) because both sides need exactly the same bytes: the
case workflow that appends events and the offline verifier that checks an exported case file.

The hashed form of an event (``event_body``)::

    {"case": <case id>, "seq": 1, "at": "2026-12-06T10:00:00Z", "actor": "user:3",
     "actor_name": "王五", "role": "officer", "action": "register", "from": "received",
     "to": "verifying", "details": {...}, "touches": [{"kind", "id", "sha256"}, ...],
     "prev": <previous hash or null>}
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signing.translog import canonical_json, format_time

__all__ = ["ChainProblem", "ChainedEvent", "chain_problems", "event_body", "event_hash"]


@dataclass(frozen=True)
class ChainedEvent:
    """An event as it is hashed (and exported)."""

    case: str
    seq: int
    at: datetime
    actor: str
    actor_name: str
    role: str
    action: str
    from_state: str | None
    to_state: str | None
    details: Mapping[str, Any]
    touches: Sequence[Mapping[str, Any]]
    prev: str | None

    def body(self) -> dict[str, Any]:
        return event_body(self)

    @property
    def hash(self) -> str:
        return event_hash(self)


def event_body(e: ChainedEvent) -> dict[str, Any]:
    return {
        "case": e.case,
        "seq": e.seq,
        "at": format_time(e.at),
        "actor": e.actor,
        "actor_name": e.actor_name,
        "role": e.role,
        "action": e.action,
        "from": e.from_state,
        "to": e.to_state,
        "details": dict(e.details),
        "touches": [dict(t) for t in e.touches],
        "prev": e.prev,
    }


def event_hash(e: ChainedEvent) -> str:
    """SHA-256 (hex) of the event's canonical JSON, previous hash included."""
    return hashlib.sha256(canonical_json(event_body(e))).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """Where a chain breaks: the event (by position) and what is wrong, in both languages."""

    seq: int
    zh: str
    en: str


def chain_problems(
    events: Iterable[tuple[ChainedEvent, str]], *, head: str | None = None
) -> list[ChainProblem]:
    """Check ``(event, recorded hash)`` pairs in order: numbering from 1 without gaps, each
    ``prev`` the hash before it, each recorded hash the event's own, and the last one the
    ``head`` when given. Every break is reported, not only the first."""
    problems: list[ChainProblem] = []
    prev: str | None = None
    expected_seq = 1
    last: str | None = None
    for event, recorded in events:
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    event.seq,
                    f"事件序号应为 {expected_seq}，实为 {event.seq}（事件缺失或顺序被改）",
                    f"event number {event.seq} where {expected_seq} was expected "
                    "(an event is missing or the order was changed)",
                )
            )
        if event.prev != prev:
            problems.append(
                ChainProblem(
                    event.seq,
                    f"第 {event.seq} 个事件所记的前一哈希与前一事件不符",
                    f"event {event.seq} does not point at the event before it",
                )
            )
        actual = event_hash(event)
        if actual != recorded:
            problems.append(
                ChainProblem(
                    event.seq,
                    f"第 {event.seq} 个事件的内容与其哈希不符（内容被改动）",
                    f"event {event.seq}'s content does not match its hash (it was changed)",
                )
            )
        prev = recorded
        last = recorded
        expected_seq = event.seq + 1
    if head is not None and last != head:
        problems.append(
            ChainProblem(
                expected_seq - 1,
                "事件链的末端与案卷记录的链头不符（末尾事件被删除或替换）",
                "the chain does not end at the case's recorded head "
                "(events were removed from the end or replaced)",
            )
        )
    return problems
