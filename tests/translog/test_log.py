"""The database-backed transparency log: appends, signed tree heads, proofs, tampering."""

from __future__ import annotations

import base64
import copy
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import event, func, select, update

from evidence_service.sealing import transparency
from evidence_service.sealing.transparency import (
    LogIntegrityError,
    NotIncludedError,
    TransparencyError,
    TransparencyLog,
    UnknownEntryError,
)
from evidence_service.services import Services
from signing.translog import (
    LogProofError,
    leaf_hash,
    merkle_root,
    verify_consistency_proof,
    verify_inclusion,
    verify_inclusion_proof,
    verify_tree_head,
)
from storage.models import LogLeaf, LogNode, LogTreeHead
from tests.translog.conftest import bulk_leaves, leaf_input


def test_append_is_idempotent_and_gap_free(log_services: Services) -> None:
    tlog = TransparencyLog(log_services)
    first = tlog.append(leaf_input(0))
    assert first.leaf_index == 0
    assert first.leaf_hash == leaf_hash(leaf_input(0)).hex()
    assert tlog.append(leaf_input(0)) == first  # the same manifest is never logged twice

    # Concurrent writers (threads, one session each) still get 0..n-1 without gaps.
    errors: list[BaseException] = []

    def worker(start: int) -> None:
        try:
            for i in range(start, start + 8):
                tlog.append(leaf_input(i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(1 + 8 * k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with log_services.sessions() as session:
        indexes = session.scalars(select(LogLeaf.leaf_index).order_by(LogLeaf.leaf_index)).all()
    assert indexes == list(range(33))
    assert tlog.size() == 33


def test_one_entry_per_capture(log_services: Services) -> None:
    from storage.models import Capture

    with log_services.session() as session:
        cap = Capture(requested_url="https://shop.example/", summary={}, options={})
        session.add(cap)
        session.flush()
        capture_id = cap.id
    tlog = TransparencyLog(log_services)
    entry = tlog.append(leaf_input(1), capture_id=capture_id)
    assert tlog.append(leaf_input(1), capture_id=capture_id) == entry
    assert tlog.entry_for_capture(capture_id) == entry
    with pytest.raises(TransparencyError, match="already logged"):
        tlog.append(leaf_input(2), capture_id=capture_id)
    with pytest.raises(TransparencyError, match="32-byte"):
        tlog.append(b"short")


def test_tree_heads_and_proofs_verify_with_only_the_root(
    log_services: Services, root_pem: bytes
) -> None:
    tlog = TransparencyLog(log_services)
    with pytest.raises(TransparencyError, match="empty"):
        tlog.publish()
    for i in range(20):
        tlog.append(leaf_input(i))
    sth20 = tlog.publish()
    assert tlog.publish() == sth20  # nothing new: the same tree head
    head = verify_tree_head(sth20, root_pem, log_id=tlog.log_id)
    assert head.tree_size == 20
    assert head.root_hash == merkle_root([leaf_hash(leaf_input(i)) for i in range(20)])
    assert head.time_stamp.gen_time >= head.timestamp - timedelta(seconds=5)
    for i in range(20, 33):
        tlog.append(leaf_input(i))
    sth33 = tlog.publish()
    assert verify_tree_head(sth33, root_pem).tree_size == 33
    assert tlog.latest_sth() == sth33 and tlog.sth(20) == sth20

    for i in range(33):
        lh = leaf_hash(leaf_input(i))
        proof = tlog.inclusion_proof(lh.hex())
        assert proof["leaf_index"] == i and proof["tree_size"] == 33
        verify_inclusion_proof(proof, root_pem, leaf=lh, log_id=tlog.log_id)
        if i < 20:
            verify_inclusion_proof(tlog.inclusion_proof(lh.hex(), 20), root_pem, leaf=lh)
        else:
            with pytest.raises(NotIncludedError):
                tlog.inclusion_proof(lh.hex(), 20)
    first, second = verify_consistency_proof(tlog.consistency_proof(20, 33), root_pem)
    assert (first.tree_size, second.tree_size) == (20, 33)
    verify_consistency_proof(tlog.consistency_proof(33, 33), root_pem)

    # A proof for another leaf, or against another root, does not verify.
    proof = tlog.inclusion_proof(leaf_hash(leaf_input(7)).hex())
    with pytest.raises(LogProofError, match="another leaf"):
        verify_inclusion_proof(proof, root_pem, leaf=leaf_hash(leaf_input(8)))
    forged = copy.deepcopy(proof)
    forged["audit_path"][0] = "00" * 32
    with pytest.raises(LogProofError, match="not included"):
        verify_inclusion_proof(forged, root_pem)
    swapped = tlog.consistency_proof(20, 33)
    swapped["sth1"] = sth33
    with pytest.raises(LogProofError):
        verify_consistency_proof(swapped, root_pem)
    with pytest.raises(UnknownEntryError):
        tlog.inclusion_proof("ab" * 32)
    with pytest.raises(UnknownEntryError):
        tlog.sth(21)


def _sth(services: Services) -> dict[str, Any]:
    tlog = TransparencyLog(services)
    for i in range(5):
        tlog.append(leaf_input(i))
    return tlog.publish()


@pytest.mark.parametrize(
    "field",
    ["tree_size", "root_hash", "timestamp", "signature", "time_stamp", "log_id", "signer_chain"],
)
def test_a_changed_tree_head_does_not_verify(
    log_services: Services, root_pem: bytes, field: str
) -> None:
    sth = _sth(log_services)
    verify_tree_head(sth, root_pem)
    bad = dict(sth)
    if field == "tree_size":
        bad[field] = sth[field] + 1
    elif field == "root_hash":
        bad[field] = "00" * 32
    elif field == "timestamp":
        bad[field] = "2020-01-01T00:00:00.000Z"
    elif field == "signature":
        raw = bytearray(base64.b64decode(sth["signature"]))
        raw[-1] ^= 1
        bad[field] = base64.b64encode(bytes(raw)).decode()
    elif field == "time_stamp":  # a valid token, but over something else
        token = log_services.timestampers[0].stamp(b"something else")
        bad[field] = base64.b64encode(token.response_der).decode()
    elif field == "log_id":
        bad[field] = "11" * 32
    else:  # a chain that does not reach our root
        bad[field] = log_services.pki.tsa_credential().cert.public_bytes(Encoding.PEM).decode()
    with pytest.raises(LogProofError):
        verify_tree_head(bad, root_pem)


def test_a_foreign_root_does_not_trust_our_tree_heads(
    log_services: Services, tmp_path: Any
) -> None:
    from certs.pki import Pki

    sth = _sth(log_services)
    other = Pki.open(tmp_path / "other", b"x", hostname="other.example", public_url="http://o")
    with pytest.raises(LogProofError, match="not trusted"):
        verify_tree_head(sth, other.root.public_bytes(Encoding.PEM))


@pytest.mark.parametrize("cache_level", [transparency.CACHE_LEVEL, 2])
def test_rewriting_an_earlier_entry_breaks_the_newer_proofs(
    log_services: Services, root_pem: bytes, monkeypatch: pytest.MonkeyPatch, cache_level: int
) -> None:
    """Rewrite entry 5 directly in the database after a tree head covered it: publishing
    refuses, proofs against the signed root fail, the audit names it."""
    monkeypatch.setattr(transparency, "CACHE_LEVEL", cache_level)
    tlog = TransparencyLog(log_services)
    for i in range(24):
        tlog.append(leaf_input(i))
    sth24 = tlog.publish()
    for i in range(5):  # proofs computed now fill the subtree cache (when there is one)
        tlog.inclusion_proof(leaf_hash(leaf_input(i)).hex())
    assert tlog.audit() == []

    forged_input = leaf_input(999)
    with log_services.session() as session:
        session.execute(
            update(LogLeaf)
            .where(LogLeaf.leaf_index == 5)
            .values(leaf_input=forged_input.hex(), leaf_hash=leaf_hash(forged_input).hex())
        )
    for i in range(24, 30):
        tlog.append(leaf_input(i))

    # The rewritten entry can no longer be proven against the tree head it was signed in ...
    with pytest.raises(LogIntegrityError):
        tlog.inclusion_proof(leaf_hash(forged_input).hex(), 24)
    # ... a proof computed from the stored entries does not reach the signed root ...
    with log_services.session() as session:
        path = transparency._tree(session).inclusion_path(5, 24)
    signed_root = bytes.fromhex(sth24["root_hash"])
    assert not verify_inclusion(5, 24, leaf_hash(forged_input), path, signed_root)
    # ... no new tree head is signed over the forged history: either publication refuses
    # (the entries no longer reproduce the signed root), or -- when the subtree holding the
    # entry was cached before the rewrite -- it signs the original history, in which the
    # forged entry is not ...
    original = [leaf_hash(leaf_input(i)) for i in range(30)]
    try:
        sth30 = tlog.publish()
    except LogIntegrityError as exc:
        assert "earlier entry was changed" in str(exc)
        with log_services.sessions() as session:
            assert session.scalar(select(func.max(LogTreeHead.tree_size))) == 24
    else:
        assert cache_level < 5  # only possible when the block of entry 5 was cached
        assert sth30["root_hash"] == merkle_root(original).hex()
        with pytest.raises(LogIntegrityError):
            tlog.inclusion_proof(leaf_hash(forged_input).hex())
    # ... and the audit finds it.
    problems = tlog.audit()
    assert any("tree head 24" in p for p in problems), problems


def test_deleted_entries_are_detected(log_services: Services) -> None:
    tlog = TransparencyLog(log_services)
    for i in range(10):
        tlog.append(leaf_input(i))
    tlog.publish()
    with log_services.session() as session:
        session.execute(LogLeaf.__table__.delete().where(LogLeaf.leaf_index == 9))
    with pytest.raises(LogIntegrityError, match="deleted"):
        tlog.publish()
    with log_services.session() as session:
        session.execute(LogLeaf.__table__.delete().where(LogLeaf.leaf_index == 3))
    assert any("missing" in p for p in tlog.audit())


def test_subtree_cache_keeps_roots_and_proofs_cheap(log_services: Services) -> None:
    """3000 entries: the cached root equals the plain one, and a proof on a warm cache costs
    a few queries (O(log n)), not a scan of the log."""
    bulk_leaves(log_services, 0, 3000)
    tlog = TransparencyLog(log_services)
    sth = tlog.publish()
    leaves = [leaf_hash(leaf_input(i)) for i in range(3000)]
    assert sth["root_hash"] == merkle_root(leaves).hex()
    with log_services.sessions() as session:
        cached = session.scalar(select(func.count()).select_from(LogNode))
    assert cached and cached > 0

    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(log_services.engine, "before_cursor_execute", count)
    try:
        proof = tlog.inclusion_proof(leaves[1234].hex())
    finally:
        event.remove(log_services.engine, "before_cursor_execute", count)
    assert len(proof["audit_path"]) == 12
    leaf_reads = [s for s in statements if "FROM log_leaves" in s]
    assert len(statements) <= 30, statements
    assert len(leaf_reads) <= 6, leaf_reads


def test_publish_if_due_waits_for_growth_and_interval(log_services: Services) -> None:
    now = [datetime.now(UTC)]
    tlog = TransparencyLog(log_services, clock=lambda: now[0])
    assert tlog.publish_if_due() is None  # empty
    tlog.append(leaf_input(0))
    first = tlog.publish_if_due()
    assert first is not None and first["tree_size"] == 1
    tlog.append(leaf_input(1))
    now[0] += timedelta(minutes=5)
    assert tlog.publish_if_due() is None  # grew, but the last one is recent
    now[0] += timedelta(minutes=6)
    second = tlog.publish_if_due()
    assert second is not None and second["tree_size"] == 2
    now[0] += timedelta(hours=1)
    assert tlog.publish_if_due() is None  # old, but nothing new
