"""The electronic case file (电子案卷) as one tamper-evident ``case.zip`` (``docs/case-file.md``).

Why a file and not a database view: a court, the party's lawyer or a reviewing authority must
be able to check a case without our service -- offline, years later. So the export carries
everything the checks need: the case's events with their hash chain (``signing.case_chain``)
and each event's transparency-log inclusion proof against one signed tree head; every version
of every document of the case and every evidence package (a capture's sealed WACZ with its
proofs sidecar, or an uploaded file), byte for byte from the store; an ``index.pdf`` listing
it all; and ``manifest.json``, which names every file with its SHA-256 and is RFC 3161
time-stamped (``manifest.tsr``, checkable with ``openssl ts -verify``) and signed the way the
WACZ packages are (``manifest-digest.json``, ``signing.wacz_sign``). ``evidence verify
case.zip`` (``signing.verify.casefile``) checks all of it.

Streaming: files go from the store into the ZIP in large pieces, so memory stays flat
whatever the case holds (20 captures of a few hundred MB each are fine); only the small JSON
members and the index are made in memory. The store verifies each object against its key (its
SHA-256) while it is read, so a damaged object stops the export instead of being signed, and
the manifest takes that verified digest instead of hashing the same bytes again. The case
file's own SHA-256 is taken by a thread behind the writer (:class:`_TrailingDigest`) instead
of in a second pass over the finished file, and each object is read a piece ahead of the
writer (:func:`_read_ahead`): where the machine has a core to spare, verifying, writing and
hashing the file overlap.

The service refuses to sign a history it cannot vouch for: a broken event chain, an event the
log cannot prove, or evidence that is not sealed yet stops the export with a message saying
what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_service import __version__
from evidence_service.sealing.case_file import CASE_EVENT_KIND
from evidence_service.sealing.renewal import publish_tree_head, write_sidecar_for
from evidence_service.sealing.transparency import TransparencyError, TransparencyLog
from evidence_service.services import Services
from signing.case_chain import ChainedEvent, chain_problems
from signing.errors import SigningError, TsaUnavailableError
from signing.translog import canonical_json, format_time, leaf_hash
from storage.errors import StorageError, StoreUnavailableError
from storage.models import (
    Capture,
    Case,
    CaseDocument,
    CaseEvent,
    CaseEvidence,
    CaseParty,
    CaseStaff,
    Document,
    DocumentVersion,
    LogLeaf,
    PaymentNotice,
    PaymentOrder,
    PaymentReceipt,
    Unit,
    User,
)
from storage.objects import CHUNK_SIZE, digest_of_key
from workflow.cases.service import CaseNotFound, chained_event
from workflow.payments import RECEIPT_ISSUED

__all__ = [
    "CASE_FILE_MIME",
    "MANIFEST_TYPE",
    "CaseExportError",
    "CaseExportPending",
    "ExportResult",
    "export_case",
    "write_case_file",
]

#: The first entry of every case file, stored uncompressed: a verifier recognises the file by
#: its first bytes (as ODF and EPUB do), before reading the ZIP's directory.
CASE_FILE_MIME = "application/vnd.evidence-case-file+zip"
CASE_TYPE = "evidence-case-file"
MANIFEST_TYPE = "evidence-case-file-manifest"
FORMAT_VERSION = 1
#: Files whose bytes compress well; the rest (PDF, WACZ, uploads) are stored as they are, so
#: that a verifier reads a nested package in place.
_DEFLATE = (".json", ".jsonl")
_ZIP64_FROM = 1 << 31
#: How much of a stored object is read and written at a time: large pieces keep the per-call
#: cost of the store, the ZIP writer and the file small beside hashing and copying the bytes,
#: and memory stays flat (a few pieces at most are held at once).
_PIECE = CHUNK_SIZE
#: How much of the case file is handed to the disk at a time while it is being written.
_SYNC_EVERY = 32 * CHUNK_SIZE


class CaseExportError(Exception):
    """The case file cannot be made; the message says why and what to do."""


class CaseExportPending(CaseExportError):
    """Not yet: a piece of evidence is still being sealed or awaits its log proof."""


@dataclass(frozen=True)
class ExportResult:
    """What was written: the case file's size and SHA-256, and what it holds."""

    case_id: str
    case_number: str | None
    size: int
    #: None when written to a seekable stream other than a file of :func:`export_case` (the
    #: ZIP writer patches headers in place, so only the finished bytes can be hashed).
    sha256: str | None
    manifest_sha256: str
    events: int
    documents: int
    document_versions: int
    evidence: int
    tree_size: int
    files: int
    payload_bytes: int


# -- reading the case -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    seq: int
    kind: str
    key: str
    sha256: str
    size: int
    path: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class _Document:
    document_id: str
    template: str
    event_seq: int
    facts: dict[str, Any]
    versions: list[_Version]


@dataclass(frozen=True)
class _Evidence:
    n: int
    row: dict[str, Any]
    key: str
    sha256: str
    size: int | None
    path: str
    capture_id: str | None = None
    proofs_key: str | None = None
    proofs_path: str | None = None
    #: Small objects that go beside it: (path in the case file, store key).
    extra: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Receipt:
    """A payment's electronic receipt (电子缴款凭证), sealed by the unit when the order was
    paid: not a case document (the payment channel's order made it), but the proof of payment
    the closing relies on, so the file carries it, named by the event that recorded it."""

    path: str
    key: str
    size: int
    sha256: str
    facts: dict[str, Any]


@dataclass
class _Snapshot:
    case: dict[str, Any]
    case_id: str
    number: str | None
    chain_head: str | None
    events: list[tuple[ChainedEvent, str]]
    documents: list[_Document]
    evidence: list[_Evidence]
    receipts: list[_Receipt] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _iso(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


def _safe_name(name: str, fallback: str) -> str:
    """A file name that is one safe ZIP path segment: no separators, control characters or
    leading dots; NFC; at most 120 characters (the extension kept)."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(
        "_" if (unicodedata.category(c)[0] == "C" or c in '/\\:*?"<>|') else c for c in text
    )
    text = re.sub(r"\s+", " ", text).strip().lstrip(".")
    if not text:
        text = fallback
    if len(text) > 120:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else text[:120]
    return text


def _snapshot(services: Services, case_id: str, unit_id: int | None) -> _Snapshot:
    """Everything the case file states, read in one transaction (a consistent moment)."""
    with services.sessions() as session:
        case = session.get(Case, case_id)
        if case is None or (unit_id is not None and case.unit_id != unit_id):
            raise CaseNotFound(f"no case {case_id}")
        unit = session.get(Unit, case.unit_id)
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        )
        staff = list(session.scalars(select(CaseStaff).where(CaseStaff.case_id == case.id)))
        names = dict(
            session.execute(
                select(User.id, User.display_name).where(User.id.in_([s.user_id for s in staff]))
            ).all()
        )
        parties = list(session.scalars(select(CaseParty).where(CaseParty.case_id == case.id)))
        links = list(
            session.scalars(
                select(CaseDocument)
                .where(CaseDocument.case_id == case.id)
                .order_by(CaseDocument.event_seq)
            )
        )
        # Read in three queries, not two per document: the same rows, fewer round trips.
        linked = [link.document_id for link in links]
        docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(linked)))}
        all_versions: dict[str, list[DocumentVersion]] = {}
        for v in session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id.in_(linked))
            .order_by(DocumentVersion.document_id, DocumentVersion.seq)
        ):
            all_versions.setdefault(v.document_id, []).append(v)
        documents: list[_Document] = []
        for link in links:
            doc = docs.get(link.document_id)
            rows = all_versions.get(link.document_id, [])
            directory = f"documents/{link.event_seq:03d}-{_safe_name(link.template, 'document')}"
            versions = [
                _Version(
                    v.seq,
                    v.kind,
                    v.object_key,
                    v.sha256,
                    v.size,
                    f"{directory}/v{v.seq}.pdf",
                    {
                        "seq": v.seq,
                        "kind": v.kind,
                        "path": f"{directory}/v{v.seq}.pdf",
                        "sha256": v.sha256,
                        "size": v.size,
                        "signer_subject": v.signer_subject,
                        "signer_serial": v.signer_serial,
                        "signing_time": _iso(v.signing_time),
                        "level": v.level,
                        "actor": v.actor,
                        "created_at": _iso(v.created_at),
                    },
                )
                for v in rows
            ]
            documents.append(
                _Document(
                    link.document_id,
                    link.template,
                    link.event_seq,
                    {
                        "document_id": link.document_id,
                        "template": link.template,
                        "event_seq": link.event_seq,
                        "title": doc.title if doc is not None else None,
                        "status": doc.status if doc is not None else None,
                        "served_at": _iso(doc.served_at) if doc is not None else None,
                        "directory": directory,
                    },
                    versions,
                )
            )
        evidence: list[_Evidence] = []
        rows_e = list(
            session.scalars(
                select(CaseEvidence)
                .where(CaseEvidence.case_id == case.id)
                .order_by(CaseEvidence.id)
            )
        )
        captures = {
            c.id: c
            for c in session.scalars(
                select(Capture).where(
                    Capture.id.in_([ev.capture_id for ev in rows_e if ev.capture_id])
                )
            )
        }
        # An upload's seal (its time-stamped record) is kept in the event that attached it.
        seals = {
            e.seq: (e.details or {}).get("proof")
            for e in events
            if e.action == "attach_evidence" and isinstance((e.details or {}).get("proof"), dict)
        }
        for n, ev in enumerate(rows_e, 1):
            evidence.append(_evidence_item(captures, n, ev, seals.get(ev.event_seq)))
        receipts = _receipts(session, case.id, events)
        facts = {
            "id": case.id,
            "number": case.number,
            "title": case.title,
            "unit": {"id": case.unit_id, "name": unit.name if unit is not None else None},
            "procedure": case.procedure,
            "state": case.state,
            "source": case.source,
            "party_kind": case.party_kind,
            "shop_url": case.shop_url,
            "summary": case.summary,
            "complainant_name": case.complainant_name,
            "complainant_contact": case.complainant_contact,
            "facts": dict(case.facts or {}),
            "received_at": _iso(case.received_at),
            "closed_at": _iso(case.closed_at),
            "event_count": case.event_count,
            "chain_head": case.chain_head,
        }
        snapshot = _Snapshot(
            case={
                "case": facts,
                "parties": [
                    {
                        "name": p.name,
                        "merchant_id": p.merchant_id,
                        "credit_code": p.credit_code,
                        "shop_url": p.shop_url,
                        "platform": p.platform,
                    }
                    for p in parties
                ],
                "staff": [
                    {
                        "user_id": s.user_id,
                        "name": names.get(s.user_id),
                        "role": s.role,
                        "badge_number": s.badge_number,
                    }
                    for s in staff
                ],
            },
            case_id=case.id,
            number=case.number,
            chain_head=case.chain_head,
            events=[(chained_event(e), e.hash) for e in events],
            documents=documents,
            evidence=evidence,
            receipts=receipts,
        )
    if len(snapshot.events) != (facts["event_count"] or 0):
        raise CaseExportError(
            f"case {case_id} records {facts['event_count']} events but {len(snapshot.events)} "
            "are stored: the case's history is incomplete; nothing was exported (run "
            "`evidence log audit` and restore the database)"
        )
    problems = chain_problems(snapshot.events, head=snapshot.chain_head)
    if problems:
        raise CaseExportError(
            f"the event chain of case {case_id} is broken ({problems[0].en}); the service does "
            "not sign a history it cannot vouch for: nothing was exported"
        )
    return snapshot


def _receipts(session: Session, case_id: str, events: Sequence[CaseEvent]) -> list[_Receipt]:
    """The case's payment receipts, oldest first, each with the event that recorded it."""
    recorded = {
        (e.details or {}).get("receipt_id"): e.seq for e in events if e.action == RECEIPT_ISSUED
    }
    rows = session.execute(
        select(PaymentReceipt, PaymentOrder, PaymentNotice)
        .join(PaymentOrder, PaymentOrder.id == PaymentReceipt.order_id)
        .join(PaymentNotice, PaymentNotice.id == PaymentOrder.notice_id)
        .where(PaymentNotice.case_id == case_id)
        .order_by(PaymentReceipt.id)
    ).all()
    out = []
    for receipt, order, notice in rows:
        path = f"receipts/{receipt.id:03d}-payment_receipt.pdf"
        out.append(
            _Receipt(
                path,
                receipt.object_key,
                receipt.size,
                receipt.sha256,
                {
                    "receipt_id": receipt.id,
                    "path": path,
                    "sha256": receipt.sha256,
                    "size": receipt.size,
                    "payment_number": notice.number,
                    "order_id": order.id,
                    "instalment": order.instalment,
                    "signer_serial": receipt.signer_serial,
                    "created_at": _iso(receipt.created_at),
                    "event_seq": recorded.get(receipt.id),
                },
            )
        )
    return out


def _evidence_item(
    captures: Mapping[str, Capture], n: int, ev: CaseEvidence, seal: dict[str, Any] | None = None
) -> _Evidence:
    row = {
        "n": n,
        "kind": ev.kind,
        "capture_id": ev.capture_id,
        "object_key": ev.object_key,
        "file_name": ev.file_name,
        "media_type": ev.media_type,
        "size": ev.size,
        "sha256": ev.sha256,
        "description": ev.description,
        "event_seq": ev.event_seq,
    }
    if ev.kind == "capture":
        cap = captures.get(ev.capture_id) if ev.capture_id else None
        if cap is None or cap.status != "stored" or not cap.package_key:
            state = "missing" if cap is None else cap.status
            raise CaseExportPending(
                f"evidence {n} ({ev.file_name}) is capture {ev.capture_id}, which is not sealed "
                f"({state}); export the case once the capture is stored"
            )
        if cap.package_sha256 != ev.sha256:
            raise CaseExportError(
                f"evidence {n} ({ev.file_name}): the case recorded package {ev.sha256} but "
                f"capture {cap.id} holds {cap.package_sha256}; nothing was exported"
            )
        name = _safe_name(ev.file_name, f"capture-{cap.id}.wacz")
        if not name.lower().endswith(".wacz"):
            name += ".wacz"
        path = f"evidence/{n}-{name}"
        row.update(path=path, proofs_path=f"{path}.proofs.json", requested_url=cap.requested_url)
        return _Evidence(
            n,
            row,
            cap.package_key,
            ev.sha256,
            cap.package_size,
            path,
            capture_id=cap.id,
            proofs_key=cap.proofs_key,
            proofs_path=f"{path}.proofs.json",
        )
    if not ev.object_key:
        raise CaseExportError(f"evidence {n} ({ev.file_name}) names no stored object")
    path = f"evidence/{n}-{_safe_name(ev.file_name, 'upload')}"
    row["path"] = path
    extra: list[tuple[str, str]] = []
    if seal is not None and seal.get("record") and seal.get("timestamp"):
        row.update(
            record_path=f"{path}.record.json",
            record_timestamp_path=f"{path}.record.tsr",
            trusted_time=seal.get("trusted_time"),
            tsa=seal.get("tsa"),
        )
        extra = [
            (f"{path}.record.json", str(seal["record"])),
            (f"{path}.record.tsr", str(seal["timestamp"])),
        ]
    return _Evidence(n, row, ev.object_key, ev.sha256, ev.size, path, extra=extra)


# -- the transparency log -----------------------------------------------------------------------


def _log_proofs(
    services: Services, snapshot: _Snapshot
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One signed tree head covering every event (published now if the newest does not), and
    each event's inclusion proof against it. Events the log missed are logged first; the
    captures' proofs sidecars are written where the new tree head allows."""
    log = TransparencyLog(services)
    wanted = {leaf_hash(bytes.fromhex(d)).hex(): d for _e, d in snapshot.events}
    with services.sessions() as session:
        found = dict(
            session.execute(
                select(LogLeaf.leaf_hash, LogLeaf.leaf_index).where(
                    LogLeaf.leaf_hash.in_(list(wanted))
                )
            ).all()
        )
    indexes = list(found.values())
    for lh, digest in wanted.items():
        if lh not in found:  # committed while the log was unavailable: logged now
            indexes.append(log.append(bytes.fromhex(digest), kind=CASE_EVENT_KIND).leaf_index)
    needed = max(indexes, default=-1) + 1
    captures = [item.capture_id for item in snapshot.evidence if item.capture_id is not None]
    if captures:
        with services.sessions() as session:
            last = session.scalar(
                select(func.max(Capture.log_leaf_index)).where(Capture.id.in_(captures))
            )
        if last is not None:
            needed = max(needed, int(last) + 1)
    sth = log.latest_sth()
    if sth is None or int(sth["tree_size"]) < needed:
        sth = publish_tree_head(services)
    size = int(sth["tree_size"])
    proofs = [
        {k: proof[k] for k in ("leaf_index", "tree_size", "leaf_hash", "audit_path")}
        for proof in log.inclusion_proofs(
            [leaf_hash(bytes.fromhex(d)).hex() for _e, d in snapshot.events], tree_size=size
        )
    ]
    refreshed: list[_Evidence] = []
    for item in snapshot.evidence:
        if item.capture_id is not None and item.proofs_key is None:
            write_sidecar_for(services, item.capture_id, log)
            with services.sessions() as session:
                key = session.scalar(
                    select(Capture.proofs_key).where(Capture.id == item.capture_id)
                )
            if key is None:
                raise CaseExportPending(
                    f"evidence {item.n}: capture {item.capture_id} has no transparency-log proof "
                    "yet; try again in a few minutes"
                )
            item = replace(item, proofs_key=key)
        refreshed.append(item)
    snapshot.evidence = refreshed
    return sth, proofs


# -- writing ------------------------------------------------------------------------------------


class _Writer:
    """Entries into the ZIP, each hashed as written; the manifest's file list as it grows.

    ``settled`` is called after each entry, once the ZIP writer has gone back to patch its
    local header: everything written so far is final then (how :class:`_TrailingDigest` hashes
    the file while the next entry is written)."""

    def __init__(
        self, zf: zipfile.ZipFile, when: datetime, settled: Callable[[], None] | None = None
    ) -> None:
        self.zf = zf
        self.date_time = when.astimezone(UTC).timetuple()[:6]
        self.files: list[dict[str, Any]] = []
        self.payload = 0
        #: The manifest row of the entry written last.
        self.last: dict[str, Any] = {}
        self._settled = settled

    def _info(self, name: str, size: int | None) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(_DEFLATE) else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        if size is not None:
            info.file_size = size
        return info

    @contextmanager
    def entry(
        self, name: str, size: int | None = None, *, listed: bool = True, sha256: str | None = None
    ) -> Iterator[Callable[[bytes], None]]:
        """One entry, written piece by piece through the function it yields. ``sha256``: the
        digest the caller already has proof of for exactly these bytes (a stored object, which
        the store verifies against its key as it is read), so it is not computed again."""
        info = self._info(name, size)
        hasher = hashlib.sha256() if sha256 is None else None
        count = 0
        with self.zf.open(info, "w", force_zip64=(size or 0) >= _ZIP64_FROM) as out:
            put = out.write
            if hasher is not None:
                update = hasher.update

                def write(data: bytes) -> None:
                    nonlocal count
                    update(data)
                    count += len(data)
                    put(data)

            else:

                def write(data: bytes) -> None:
                    nonlocal count
                    count += len(data)
                    put(data)

            yield write
        self.payload += count
        self.last = {
            "path": name,
            "sha256": hasher.hexdigest() if hasher is not None else sha256,
            "size": count,
        }
        if listed:
            self.files.append(self.last)
        if self._settled is not None:
            self._settled()

    def bytes(self, name: str, data: bytes, *, listed: bool = True) -> str:
        """A small entry made in memory; returns its SHA-256."""
        with self.entry(name, len(data), listed=listed) as write:
            write(data)
        return str(self.last["sha256"])

    def stored(
        self, services: Services, name: str, key: str, size: int | None, sha256: str
    ) -> None:
        """A stored object, streamed in large pieces; it must be the one the case recorded.

        The store's key is the SHA-256 of the object and the store refuses to deliver its
        last byte unless what it read matches that key (``storage.objects.VerifyingReader``),
        so a read to the end proves the bytes written are the object the key names: the
        manifest records that digest instead of hashing the same bytes a second time."""
        held = digest_of_key(key)
        if held != sha256:
            raise CaseExportError(
                f"{name}: the store holds {held} under object {key}, but the case recorded "
                f"{sha256}; nothing was exported"
            )
        with (
            services.store.open(key) as src,
            self.entry(name, size, sha256=held) as write,
            contextlib.closing(_read_ahead(src)) as pieces,
        ):
            for piece in pieces:
                write(piece)


def _read_ahead(src: IO[bytes]) -> Generator[bytes, None, None]:
    """The pieces of ``src`` to its end, read in a second thread one piece ahead of the caller.

    Why: reading a stored object costs its verification (the store hashes what it reads);
    writing it into the ZIP costs its CRC-32 and the copy into the file. hashlib, zlib and
    file I/O release the GIL, so the two overlap instead of adding up. At most two pieces are
    in flight, so memory stays flat. An error of the read (a damaged object) is raised here,
    in the caller's thread, before the piece that would have completed the object."""
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                piece = src.read(_PIECE)
                ahead.put(piece or None)
                if not piece:
                    return
        except BaseException as exc:  # handed to the caller, who raises it
            ahead.put(exc)

    reader = threading.Thread(target=run, name="case-file-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to hand over a piece
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.05)
        reader.join()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def write_case_file(
    services: Services,
    case_id: str,
    out: IO[bytes],
    *,
    exported_by: str = "system",
    exported_by_name: str | None = None,
    unit_id: int | None = None,
    now: datetime | None = None,
    settled: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the case file of ``case_id`` to the binary stream ``out`` (a seekable file gives
    the most compact ZIP; an unseekable stream works too). ``unit_id``: the unit the person
    exporting works for (another unit's case is not found: :class:`CaseNotFound`).
    ``settled``: called, after each entry and at the end, with how many bytes of ``out`` are
    final (flushed, and never patched again), e.g. to hash the file while it is written.

    Raises :class:`CaseExportPending` when the time-stamp authority or the store cannot be
    reached now, :class:`CaseExportError` for anything the service must not sign; ``out``
    then holds an unusable partial file (:func:`export_case` removes it)."""
    try:
        return _write_case_file(
            services, case_id, out, exported_by, exported_by_name, unit_id, now, settled
        )
    except (TsaUnavailableError, StoreUnavailableError) as exc:
        raise CaseExportPending(f"{exc}; nothing was exported, try again later") from exc
    except (SigningError, StorageError, TransparencyError) as exc:
        raise CaseExportError(f"{exc}; nothing was exported") from exc


def _write_case_file(
    services: Services,
    case_id: str,
    out: IO[bytes],
    exported_by: str,
    exported_by_name: str | None,
    unit_id: int | None,
    now: datetime | None,
    settled: Callable[[int], None] | None = None,
) -> ExportResult:
    snapshot = _snapshot(services, case_id, unit_id)
    sth, proofs = _log_proofs(services, snapshot)
    exported_at = (now or datetime.now(UTC)).astimezone(UTC)
    counter = _Counting(out)
    start = counter.tell() if counter.seekable() else 0

    def flushed() -> None:
        if settled is not None:
            counter.flush()
            settled(counter.tell() if counter.seekable() else counter.count)

    with zipfile.ZipFile(counter, "w", allowZip64=True) as zf:
        w = _Writer(zf, exported_at, flushed)
        w.bytes("mimetype", CASE_FILE_MIME.encode("ascii"))
        case_doc = {
            "type": CASE_TYPE,
            "version": FORMAT_VERSION,
            **snapshot.case,
            "documents": [
                {**d.facts, "versions": [v.facts for v in d.versions]} for d in snapshot.documents
            ],
            "evidence": [e.row for e in snapshot.evidence],
            "receipts": [r.facts for r in snapshot.receipts],
            "exported_at": format_time(exported_at),
            "exported_by": {"actor": exported_by, "name": exported_by_name},
        }
        w.bytes("case.json", _json(case_doc))
        w.bytes("tree-head.json", _json(sth))
        with w.entry("events.jsonl") as write:
            for (event, digest), proof in zip(snapshot.events, proofs, strict=True):
                line = {"seq": event.seq, "event": event.body(), "hash": digest, "log": proof}
                write(canonical_json(line) + b"\n")
        for doc in snapshot.documents:
            for v in doc.versions:
                w.stored(services, v.path, v.key, v.size, v.sha256)
        for item in snapshot.evidence:
            w.stored(services, item.path, item.key, item.size, item.sha256)
            if item.proofs_key is not None and item.proofs_path is not None:
                sidecar = services.store.read_bytes(item.proofs_key)
                w.bytes(item.proofs_path, sidecar)
            for extra_path, key in item.extra:
                w.bytes(extra_path, services.store.read_bytes(key))
        for receipt in snapshot.receipts:
            w.stored(services, receipt.path, receipt.key, receipt.size, receipt.sha256)
        index = render_index(
            case_doc, [(e.body(), d) for e, d in snapshot.events], sth, list(w.files)
        )
        w.bytes("index.pdf", index)
        manifest = canonical_json(
            {
                "type": MANIFEST_TYPE,
                "version": FORMAT_VERSION,
                "case_id": snapshot.case_id,
                "case_number": snapshot.number,
                "service": services.settings.effective_hostname,
                "software": f"evidence-service {__version__}",
                "exported_at": format_time(exported_at),
                "exported_by": exported_by,
                "event_count": len(snapshot.events),
                "chain_head": snapshot.chain_head,
                "tree_head": {"tree_size": int(sth["tree_size"]), "root_hash": sth["root_hash"]},
                "files": w.files,
            }
        )
        manifest_sha = w.bytes("manifest.json", manifest, listed=False)
        for i, timestamper in enumerate(services.timestampers):
            token = timestamper.stamp(manifest)
            w.bytes(
                "manifest.tsr" if i == 0 else f"manifest.{i + 1}.tsr",
                token.response_der,
                listed=False,
            )
        signed = services.package_signer.sign(f"sha256:{manifest_sha}")
        w.bytes(
            "manifest-digest.json",
            _json(
                {"path": "manifest.json", "hash": f"sha256:{manifest_sha}", "signedData": signed}
            ),
            listed=False,
        )
        files, payload = len(w.files), w.payload
    flushed()  # the central directory
    return ExportResult(
        case_id=snapshot.case_id,
        case_number=snapshot.number,
        size=counter.tell() - start if counter.seekable() else counter.count,
        sha256=None if counter.seekable() else counter.digest.hexdigest(),
        manifest_sha256=manifest_sha,
        events=len(snapshot.events),
        documents=len(snapshot.documents),
        document_versions=sum(len(d.versions) for d in snapshot.documents),
        evidence=len(snapshot.evidence),
        tree_size=int(sth["tree_size"]),
        files=files,
        payload_bytes=payload,
    )


class _Counting:
    """The output stream, counting and hashing what reaches it (seekable when it is).

    Hashing here is exact only for a stream written front to back; on a seekable file the
    ZIP writer goes back to patch local headers, so :func:`export_case` hashes the finished
    file instead."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.count = 0
        self.digest = hashlib.sha256()
        try:
            self._seekable = out.seekable()
        except (AttributeError, OSError):
            self._seekable = False

    def write(self, data: bytes) -> int:
        self.out.write(data)
        if not self._seekable:
            self.digest.update(data)
            self.count += len(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        """The stream is the caller's: it stays open."""

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.out.seek(offset, whence)

    def tell(self) -> int:
        return self.out.tell()


def export_case(
    services: Services,
    case_id: str,
    path: Path,
    *,
    exported_by: str = "system",
    exported_by_name: str | None = None,
    unit_id: int | None = None,
) -> ExportResult:
    """Write the case file to ``path`` (whole or not at all: written beside it, renamed).

    The file's own SHA-256 (for the download's ``X-Content-SHA256``) is taken from the bytes
    on disk, as they were written, by :class:`_TrailingDigest`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh, _TrailingDigest(tmp) as digest:
            result = write_case_file(
                services,
                case_id,
                fh,
                exported_by=exported_by,
                exported_by_name=exported_by_name,
                unit_id=unit_id,
                settled=digest.advance,
            )
            fh.flush()
            os.fsync(fh.fileno())
            size, sha = digest.result(fh.tell())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return replace(result, size=size, sha256=sha)


#: fdatasync where the system has it (Linux), else fsync.
_datasync = getattr(os, "fdatasync", os.fsync)


class _TrailingDigest:
    """The SHA-256 of a file being written, computed by a second thread a little behind.

    Why a thread: the ZIP writer goes back to patch each entry's local header once it knows
    the entry's CRC, so the file's bytes are final only entry by entry and cannot be hashed
    on their way out. Hashing the finished file afterwards was a second pass as long as the
    export itself; here each finished stretch (up to what :meth:`advance` is told) is read back
    from the page cache and hashed while the next entry is written (``os.pread`` and hashlib
    release the GIL), and :meth:`result` only waits for the last stretch. What is final is
    also handed to the disk as it goes (``fdatasync`` every :data:`_SYNC_EVERY` bytes), so the
    closing ``fsync`` of the export waits for the last stretch only, not for the whole file."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._todo: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._digest = hashlib.sha256()
        self._done = 0
        self._synced = 0
        self._error: OSError | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="case-file-digest", daemon=True)
        self._thread.start()

    def __enter__(self) -> _TrailingDigest:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        self._abandoned = kind is not None  # the export failed: the rest is not worth hashing
        self._stop()

    def advance(self, upto: int) -> None:
        """The first ``upto`` bytes of the file are final: hash them (in the background)."""
        self._todo.put(upto)

    def result(self, size: int) -> tuple[int, str]:
        """(size, SHA-256 hex) of the whole file, once the thread has caught up with ``size``."""
        self.advance(size)
        self._stop()
        if self._error is not None:
            raise self._error
        if self._done != size:
            raise OSError(f"the case file was hashed to {self._done} of its {size} bytes")
        return size, self._digest.hexdigest()

    def _run(self) -> None:
        try:
            while (upto := self._todo.get()) is not None:
                while self._done < upto and not self._abandoned:
                    data = os.pread(self._fd, min(_PIECE, upto - self._done), self._done)
                    if not data:
                        raise OSError(
                            f"the case file ends at {self._done} bytes, before the {upto} "
                            "already written"
                        )
                    self._digest.update(data)
                    self._done += len(data)
                if self._done - self._synced >= _SYNC_EVERY:
                    # Have the disk take what is final while the writer goes on, so that the
                    # export's closing fsync waits for the last stretch only.
                    _datasync(self._fd)
                    self._synced = self._done
        except OSError as exc:
            self._error = exc

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def stream_file(path: Path, *, remove: bool = True) -> Iterator[bytes]:
    """The bytes of a finished case file in pieces (for a download), removed afterwards."""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_SIZE):
                yield chunk
    finally:
        if remove:
            path.unlink(missing_ok=True)


# -- index.pdf ----------------------------------------------------------------------------------

_PAGE_W, _PAGE_H = 595.28, 841.89  # A4 in points
_MARGIN = 48.0
_BLACK = (0.0, 0.0, 0.0)
_GREY = (0.38, 0.38, 0.38)
_BLUE = (0.08, 0.2, 0.45)


class _Index:
    """Lines of text on A4 pages, wrapped to the width (the CJK face of the certificate)."""

    def __init__(self, face: Any) -> None:
        from evidence_service.sealing.pdf.writer import Page

        self._page_type = Page
        self.face = face
        self.pages: list[Any] = []
        self.y = 0.0
        self._widths: dict[str, int] = {}
        self._new_page()

    def _new_page(self) -> None:
        self.pages.append(self._page_type(_PAGE_W, _PAGE_H))
        self.y = _MARGIN

    def width(self, text: str, size: float) -> float:
        widths = self._widths
        total = 0
        for c in text:
            w = widths.get(c)
            if w is None:
                w = widths[c] = self.face.width(c)
            total += w
        return total * size / 1000.0

    def _wrap(self, text: str, size: float, room: float) -> list[str]:
        """Greedy lines: Latin words are kept whole where they fit, CJK breaks anywhere, a
        word longer than the line (a hash, a path) is cut where the line ends."""
        tokens = re.findall(r"[A-Za-z0-9_.:/@\-]+|\s+|.", text)
        lines: list[str] = []
        current = ""
        for token in tokens:
            if self.width(current + token, size) <= room:
                current += token
                continue
            if token.isspace():
                lines.append(current.rstrip())
                current = ""
                continue
            if current.strip():
                lines.append(current.rstrip())
            current = ""
            for char in token:  # only a token wider than the line is cut
                if current and self.width(current + char, size) > room:
                    lines.append(current)
                    current = ""
                current += char
        if current.strip() or not lines:
            lines.append(current.rstrip())
        return lines

    def line(
        self,
        text: str,
        size: float = 8.5,
        color: tuple[float, float, float] = _BLACK,
        indent: float = 0.0,
        gap: float = 1.35,
    ) -> None:
        room = _PAGE_W - 2 * _MARGIN - indent
        for part in self._wrap(text, size, room):
            if self.y + size * gap > _PAGE_H - _MARGIN - 14:
                self._new_page()
            self.y += size * gap
            self.pages[-1].text(_MARGIN + indent, self.y, size, color, part)

    def heading(self, text: str) -> None:
        if self.y + 70 > _PAGE_H - _MARGIN - 14:  # a heading stays with what follows it
            self._new_page()
        self.y += 6
        self.line(text, 11.5, _BLUE)
        self.pages[-1].line(
            _MARGIN, self.y + 3, _PAGE_W - _MARGIN, self.y + 3, (0.7, 0.75, 0.85), 0.5
        )
        self.y += 4

    def footer(self, left: str) -> None:
        total = len(self.pages)
        for n, page in enumerate(self.pages, 1):
            base = _PAGE_H - _MARGIN + 10
            page.text(_MARGIN, base, 7, _GREY, left)
            right = f"第 {n} / {total} 页  Page {n} of {total}"
            page.text(_PAGE_W - _MARGIN - self.width(right, 7), base, 7, _GREY, right)


def render_index(
    case_doc: dict[str, Any],
    events: Sequence[tuple[dict[str, Any], str]],
    sth: dict[str, Any],
    files: Sequence[dict[str, Any]],
) -> bytes:
    """``index.pdf``: the case, every event with its hash, every document version and piece
    of evidence with its SHA-256 and size, and the tree head -- a paper-readable table of
    contents of the case file (PDF/A-3b style, the certificate's writer and face)."""
    from evidence_service.sealing.certificate_layout import certificate_face, srgb_profile
    from evidence_service.sealing.pdf.writer import PdfDocument

    face = certificate_face()
    ix = _Index(face)
    case = case_doc["case"]
    sizes = {f["path"]: f for f in files}
    label = case.get("number") or case["id"]
    ix.line("电子案卷目录  Electronic case file index", 16, _BLUE, gap=1.5)
    ix.line(f"{label}  {case.get('title') or ''}", 11)
    ix.y += 4
    ix.heading("案件 Case")
    rows = [
        ("案件编号 Case number", case.get("number") or "（尚未立案 not filed）"),
        ("案件标识 Case id", case["id"]),
        ("办案单位 Unit", (case.get("unit") or {}).get("name") or ""),
        ("程序 Procedure", case.get("procedure") or ""),
        ("状态 State", case.get("state") or ""),
        ("收到 Received", case.get("received_at") or ""),
        ("结案 Closed", case.get("closed_at") or "—"),
        ("事件数 Events", str(case.get("event_count"))),
        ("链头 Chain head", case.get("chain_head") or ""),
        ("导出时间 Exported at", case_doc.get("exported_at") or ""),
    ]
    for name, value in rows:
        ix.line(f"{name}: {value}")
    for party in case_doc.get("parties") or []:
        code = f"（{party['credit_code']}）" if party.get("credit_code") else ""
        ix.line(f"当事人 Party: {party['name']}{code} {party.get('shop_url') or ''}")
    for person in case_doc.get("staff") or []:
        ix.line(
            f"办案人员 Staff: {person.get('name') or person['user_id']} · {person['role']} · "
            f"执法证号 badge {person.get('badge_number') or '—'}"
        )
    ix.heading(f"事件 Events ({len(events)})")
    for body, digest in events:
        move = (
            f"{body.get('from')} → {body.get('to')}" if body.get("from") != body.get("to") else ""
        )
        ix.line(
            f"#{body['seq']}  {body['at']}  {body['actor_name']} ({body['role']})  "
            f"{body['action']}  {move}"
        )
        ix.line(f"SHA-256 {digest}", 7, _GREY, indent=14)
    documents = case_doc.get("documents") or []
    ix.heading(f"文书 Documents ({len(documents)})")
    for doc in documents:
        ix.line(f"{doc['directory']}  {doc.get('title') or doc['template']}  ({doc.get('status')})")
        for v in doc["versions"]:
            size = sizes.get(v["path"], {}).get("size", v["size"])
            ix.line(f"v{v['seq']} {v['kind']}  {v['path']}  {size} bytes", 8, indent=14)
            ix.line(f"SHA-256 {v['sha256']}", 7, _GREY, indent=14)
    evidence = case_doc.get("evidence") or []
    ix.heading(f"证据 Evidence ({len(evidence)})")
    for item in evidence:
        size = sizes.get(item["path"], {}).get("size", item.get("size"))
        ix.line(f"{item['n']}. {item['kind']}  {item['file_name']}  {item['path']}  {size} bytes")
        ix.line(f"SHA-256 {item['sha256']}", 7, _GREY, indent=14)
        for key in ("proofs_path", "record_path", "record_timestamp_path"):
            if item.get(key) in sizes:
                proof = sizes[item[key]]
                ix.line(f"{proof['path']}  SHA-256 {proof['sha256']}", 7, _GREY, indent=14)
        if item.get("trusted_time"):
            ix.line(
                f"上传时加盖时间戳 time-stamped at upload: {item['trusted_time']} "
                f"({item.get('tsa') or ''})",
                7,
                _GREY,
                indent=14,
            )
    ix.heading("透明日志 Transparency log")
    ix.line(f"签名树头 Signed tree head: {sth['tree_size']} entries, {sth['timestamp']}")
    ix.line(f"root {sth['root_hash']}", 7, _GREY, indent=14)
    ix.line(f"log id {sth['log_id']}", 7, _GREY, indent=14)
    ix.heading("核验 Verification")
    ix.line(
        "本目录与案卷中每个文件的 SHA-256 均列于 manifest.json，该清单经 RFC 3161 时间戳"
        "（manifest.tsr）并由服务签名（manifest-digest.json）。离线核验：evidence verify case.zip"
    )
    ix.line(
        "The SHA-256 of this index and of every file of the case file are listed in "
        "manifest.json, which is RFC 3161 time-stamped (manifest.tsr) and signed by the service "
        "(manifest-digest.json). Verify offline: evidence verify case.zip",
        8,
        _GREY,
    )
    ix.footer(f"{label} · case.zip")
    exported = case_doc.get("exported_at")
    created = (
        datetime.fromisoformat(exported.replace("Z", "+00:00"))
        if isinstance(exported, str)
        else datetime.now(UTC)
    )
    doc = PdfDocument(
        face=face,
        title=f"电子案卷目录 / Case file index {label}",
        author=str((case.get("unit") or {}).get("name") or "evidence-service"),
        subject=str(case.get("title") or ""),
        created=created,
        icc_profile=srgb_profile(),
    )
    doc.pages = ix.pages
    return doc.write()
