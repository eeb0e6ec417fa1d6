"""Transparency-log mathematics (RFC 9162, Certificate Transparency 2.0) and signed tree heads.

Pure: no database, no clock of its own, no network. The service's log
(``evidence_service.sealing.transparency``) supplies leaf hashes through :class:`LeafSource` and,
optionally, a :class:`NodeCache` of complete subtrees; the court verifier uses the
``verify_*`` functions with nothing but the JSON it was given and the trust anchors.

Hashing (RFC 9162 §2.1.1)::

    leaf hash   = SHA-256(0x00 || leaf input)       leaf input: 32-byte SHA-256 of manifest.json
    node hash   = SHA-256(0x01 || left || right)
    MTH({})     = SHA-256("")
    MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n]))    k = largest power of two < n

Why a subtree cache: for ``n`` leaves every left operand ``D[0:k]`` above is a *complete*
subtree (a power of two in size, aligned on its size). Its hash never changes in an
append-only log, so it can be kept forever; with it, the root, an inclusion proof or a
consistency proof costs O(log n) cached hashes plus at most one run of ``2**cache_level``
leaves, instead of O(n) hashes.

Also here, because the verifier needs the same canonical bytes: the signed tree head (STH)
and the archive time-stamp chain of the proofs sidecar (``docs/evidence-package.md``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.pki import Credential, load_pem_certificates

from .chains import ChainError, is_self_signed, validate_chain
from .errors import SigningError, TimestampVerificationError
from .timestamp import Timestamper, TimestampToken, verify_timestamp_with

__all__ = [
    "EMPTY_ROOT",
    "ArchiveCheck",
    "LeafSource",
    "LogProofError",
    "MerkleTree",
    "NodeCache",
    "TreeHead",
    "archive_input",
    "canonical_json",
    "consistency_path",
    "format_time",
    "inclusion_path",
    "leaf_hash",
    "log_id_of",
    "merkle_root",
    "node_hash",
    "sign_tree_head",
    "sth_signed_bytes",
    "verify_archive_chain",
    "verify_consistency",
    "verify_consistency_proof",
    "verify_inclusion",
    "verify_inclusion_proof",
    "verify_tree_head",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: How far the STH's RFC 3161 genTime may lie after (or, for clock skew, before) its timestamp.
STH_STAMP_WINDOW = timedelta(minutes=10)
STH_STAMP_GRACE = timedelta(seconds=5)
STH_FIELDS = ("log_id", "tree_size", "root_hash", "timestamp")


class LogProofError(SigningError):
    """A proof, tree head or archive chain does not verify, or cannot be built as asked."""


def canonical_json(obj: Any) -> bytes:
    """The one byte form everything here signs or hashes (same as ``manifest.json``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, e.g. ``2026-11-29T06:32:47.686Z``."""
    m = moment.astimezone(UTC)
    return m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z"


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return moment.astimezone(UTC)


# -- hashing ----------------------------------------------------------------------------------


def leaf_hash(leaf_input: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, bottom-up in O(n) (RFC 9162's split falls out of it)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # an unpaired right edge moves up unchanged
        level = nxt
    return level[0]


class LeafSource(Protocol):
    def leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        """Leaf hashes of indexes ``start`` .. ``end - 1``, in order; all must exist."""
        ...


class NodeCache(Protocol):
    """Hashes of complete subtrees: ``(level, index)`` covers leaves
    ``index * 2**level`` .. ``(index + 1) * 2**level - 1``. Values never change."""

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]: ...

    def put_nodes(self, nodes: Mapping[tuple[int, int], bytes]) -> None: ...


class _ListSource:
    def __init__(self, hashes: Sequence[bytes]) -> None:
        self.hashes = hashes

    def leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        return self.hashes[start:end]


class MerkleTree:
    """Roots and proofs over a leaf source, with an optional cache of complete subtrees.

    Complete subtrees of at least ``2**cache_level`` leaves are looked up in (and added to)
    ``cache``; smaller ones are hashed from the leaves, fetched in one run per call.
    """

    def __init__(
        self,
        source: LeafSource | Sequence[bytes],
        *,
        cache: NodeCache | None = None,
        cache_level: int = 8,
    ) -> None:
        self.source: LeafSource
        if isinstance(source, list | tuple):
            self.source = _ListSource(source)
        else:
            self.source = source  # type: ignore[assignment]
        self.cache = cache
        self.cache_level = cache_level
        self._memo: dict[tuple[int, int], bytes] = {}
        self._blocks: dict[int, Sequence[bytes]] = {}
        self._limit: int | None = None

    def _leaves(self, start: int, end: int) -> Sequence[bytes]:
        """Leaf hashes ``start..end-1``; small ranges are served from one fetch of their
        aligned block (a proof touches up to ``cache_level`` small subtrees of one block)."""
        width = 1 << self.cache_level
        block = start // width
        if self._limit is None or end > (block + 1) * width:
            return self.source.leaf_hashes(start, end)
        if block not in self._blocks:
            first = block * width
            self._blocks[block] = self.source.leaf_hashes(first, min(first + width, self._limit))
        offset = block * width
        return self._blocks[block][start - offset : end - offset]

    # -- subtree hashes -------------------------------------------------------------------

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end])."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n <= (1 << self.cache_level):
            return merkle_root(self._leaves(start, end))
        if n & (n - 1) == 0 and start % n == 0:
            return self._complete(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def _complete(self, level: int, index: int) -> bytes:
        """Hash of a complete subtree at ``level > cache_level``: memo, cache, or computed."""
        key = (level, index)
        found = self._memo.get(key)
        if found is None and self.cache is not None:
            found = self.cache.get_nodes([key]).get(key)
        if found is None:
            found = self._fill(level, index)
        self._memo[key] = found
        return found

    def _fill(self, level: int, index: int) -> bytes:
        """Compute a complete subtree from its blocks of ``2**cache_level`` leaves (reusing
        cached blocks) and cache every missing node on the way up."""
        base = self.cache_level
        span = 1 << (level - base)
        first = index * span
        keys = [(base, first + i) for i in range(span)]
        known = dict(self.cache.get_nodes(keys)) if self.cache is not None else {}
        new: dict[tuple[int, int], bytes] = {}
        row: list[bytes] = []
        width = 1 << base
        for key in keys:
            h = known.get(key)
            if h is None:
                start = key[1] * width
                h = merkle_root(self.source.leaf_hashes(start, start + width))
                new[key] = h
            row.append(h)
        lvl, idx0 = base, first
        while len(row) > 1:
            row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
            lvl, idx0 = lvl + 1, idx0 // 2
            for i, h in enumerate(row):
                new[(lvl, idx0 + i)] = h
        self._memo.update(new)
        if new and self.cache is not None:
            self.cache.put_nodes(new)
        return row[0]

    # -- RFC 9162 ---------------------------------------------------------------------------

    def _within(self, size: int) -> None:
        """Set the tree size the next computation works in (bounds block fetches)."""
        if self._limit != size:
            self._blocks.clear()
            self._limit = size

    def root(self, size: int) -> bytes:
        self._within(size)
        return self.subtree(0, size)

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        """PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf side first."""
        if not 0 <= index < size:
            raise LogProofError(f"leaf {index} is not in a tree of {size} leaves")
        self._within(size)
        path: list[bytes] = []
        self._path(index, 0, size, path)
        return path

    def _path(self, m: int, start: int, end: int, out: list[bytes]) -> None:
        n = end - start
        if n == 1:
            return
        k = _split(n)
        if m < k:
            self._path(m, start, start + k, out)
            out.append(self.subtree(start + k, end))
        else:
            self._path(m - k, start + k, end, out)
            out.append(self.subtree(start, start + k))

    def consistency_path(self, first: int, second: int) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 9162 §2.1.4.1 (empty when ``first == second``)."""
        if not 0 < first <= second:
            raise LogProofError(
                f"a consistency proof needs 0 < first <= second, got {first} and {second}"
            )
        self._within(second)
        out: list[bytes] = []
        if first < second:
            self._subproof(first, 0, second, True, out)
        return out

    def _subproof(self, m: int, start: int, end: int, whole: bool, out: list[bytes]) -> None:
        n = end - start
        if m == n:
            if not whole:
                out.append(self.subtree(start, end))
            return
        k = _split(n)
        if m <= k:
            self._subproof(m, start, start + k, whole, out)
            out.append(self.subtree(start + k, end))
        else:
            self._subproof(m - k, start + k, end, False, out)
            out.append(self.subtree(start, start + k))


def inclusion_path(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion path of leaf ``index`` in the tree of all ``leaf_hashes`` (no cache)."""
    return MerkleTree(list(leaf_hashes)).inclusion_path(index, len(leaf_hashes))


def consistency_path(leaf_hashes: Sequence[bytes], first: int) -> list[bytes]:
    return MerkleTree(list(leaf_hashes)).consistency_path(first, len(leaf_hashes))


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Does ``path`` prove that ``leaf`` (a leaf hash) is leaf ``index`` of the tree with
    ``size`` leaves and root hash ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Is the tree (``second``, ``second_root``) an append-only extension of
    (``first``, ``first_root``)?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    items = list(path)
    if first & (first - 1) == 0:
        items.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# -- signed tree heads ------------------------------------------------------------------------


def log_id_of(cert_or_key: x509.Certificate | ec.EllipticCurvePublicKey) -> str:
    """Hex SHA-256 of the log key's SubjectPublicKeyInfo DER (the contract's ``log_id``)."""
    key = cert_or_key.public_key() if isinstance(cert_or_key, x509.Certificate) else cert_or_key
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def sth_signed_bytes(log_id: str, tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """What the STH ``signature`` covers: canonical JSON of its first four fields."""
    return canonical_json(
        {"log_id": log_id, "tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp}
    )


def sign_tree_head(
    credential: Credential,
    tree_size: int,
    root: bytes,
    *,
    timestamper: Timestamper,
    now: datetime,
) -> dict[str, Any]:
    """A signed, RFC 3161 time-stamped tree head (the contract's STH object).

    ``time_stamp`` time-stamps the raw DER signature bytes (the base64-decoded ``signature``).
    """
    key = credential.key
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise LogProofError("the log key must be an ECDSA key (P-256)")
    log_id = log_id_of(credential.cert)
    fields = {
        "log_id": log_id,
        "tree_size": tree_size,
        "root_hash": root.hex(),
        "timestamp": format_time(now),
    }
    signature = key.sign(
        sth_signed_bytes(**fields),  # type: ignore[arg-type]
        ec.ECDSA(hashes.SHA256()),
    )
    token = timestamper.stamp(signature)
    return {
        **fields,
        "signature": base64.b64encode(signature).decode("ascii"),
        "signer_chain": credential.chain_pem().decode("ascii"),
        "time_stamp": base64.b64encode(token.response_der).decode("ascii"),
    }


@dataclass(frozen=True)
class TreeHead:
    """A verified STH."""

    log_id: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    signer: x509.Certificate
    time_stamp: TimestampToken


def _anchors(trusted_roots_pem: bytes) -> list[x509.Certificate]:
    return [c for c in load_pem_certificates(trusted_roots_pem) if is_self_signed(c)]


def verify_tree_head(
    sth: Mapping[str, Any],
    trusted_roots_pem: bytes,
    *,
    log_id: str | None = None,
) -> TreeHead:
    """Check an STH: fields, the ECDSA signature, the signer's chain to a trusted root at the
    STH's time, ``log_id`` = SHA-256 of the signer's key, and the RFC 3161 time-stamp over
    the signature (genTime within 10 minutes after ``timestamp``). Raises
    :class:`LogProofError` naming the first problem."""
    try:
        tree_size = int(sth["tree_size"])
        root = bytes.fromhex(str(sth["root_hash"]))
        when = _parse_time(str(sth["timestamp"]))
        signature = base64.b64decode(str(sth["signature"]), validate=True)
        stamp_der = base64.b64decode(str(sth["time_stamp"]), validate=True)
        chain = load_pem_certificates(str(sth["signer_chain"]).encode("ascii"))
        sth_log_id = str(sth["log_id"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise LogProofError(f"the signed tree head is malformed ({exc})") from None
    if tree_size < 0 or len(root) != 32 or not chain:
        raise LogProofError("the signed tree head is malformed (size, root hash or chain)")
    if log_id is not None and sth_log_id != log_id:
        raise LogProofError(f"the tree head is from log {sth_log_id}, not from log {log_id}")
    signer = chain[0]
    if log_id_of(signer) != sth_log_id:
        raise LogProofError("log_id is not the SHA-256 of the signer's public key")
    key = signer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise LogProofError("the tree head's signer key is not an ECDSA key")
    signed = sth_signed_bytes(sth_log_id, tree_size, root.hex(), str(sth["timestamp"]))
    try:
        key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise LogProofError("the tree head's signature is invalid") from None
    anchors = _anchors(trusted_roots_pem)
    try:
        validate_chain(signer, chain[1:], anchors, at=when)
    except ChainError as exc:
        raise LogProofError(f"the tree head's signer is not trusted: {exc}") from None
    pool = [c for c in chain if not is_self_signed(c)]
    try:
        token = verify_timestamp_with(stamp_der, signature, anchors=anchors, pool=pool)
    except TimestampVerificationError as exc:
        raise LogProofError(f"the tree head's time-stamp: {exc}") from None
    if not when - STH_STAMP_GRACE <= token.gen_time <= when + STH_STAMP_WINDOW:
        raise LogProofError(
            f"the tree head's time-stamp ({format_time(token.gen_time)}) does not follow its "
            f"timestamp ({sth['timestamp']}) within 10 minutes"
        )
    return TreeHead(sth_log_id, tree_size, root, when, signer, token)


def _hexes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise LogProofError(f"{what} is not a list")
    try:
        out = [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError):
        raise LogProofError(f"{what} holds something that is not hex") from None
    if any(len(v) != 32 for v in out):
        raise LogProofError(f"{what} holds a hash that is not 32 bytes")
    return out


def verify_inclusion_proof(
    proof: Mapping[str, Any],
    trusted_roots_pem: bytes,
    *,
    leaf: bytes | None = None,
    log_id: str | None = None,
) -> TreeHead:
    """Verify the contract's inclusion-proof object (with its STH); ``leaf`` is the expected
    leaf hash (e.g. recomputed from the package's manifest)."""
    head = verify_tree_head(proof.get("sth") or {}, trusted_roots_pem, log_id=log_id)
    try:
        index = int(proof["leaf_index"])
        size = int(proof["tree_size"])
        claimed = bytes.fromhex(str(proof["leaf_hash"]))
    except (KeyError, TypeError, ValueError):
        raise LogProofError("the inclusion proof is malformed") from None
    if leaf is not None and claimed != leaf:
        raise LogProofError("the inclusion proof is for another leaf")
    if size != head.tree_size:
        raise LogProofError("the inclusion proof's tree size differs from its tree head's")
    path = _hexes(proof.get("audit_path"), "audit_path")
    if not verify_inclusion(index, size, claimed, path, head.root_hash):
        raise LogProofError(
            f"leaf {index} is not included in the signed tree of {size} leaves "
            "(the audit path does not lead to the signed root)"
        )
    return head


def verify_consistency_proof(
    proof: Mapping[str, Any], trusted_roots_pem: bytes, *, log_id: str | None = None
) -> tuple[TreeHead, TreeHead]:
    """Verify the contract's consistency-proof object (both STHs and the path)."""
    first = verify_tree_head(proof.get("sth1") or {}, trusted_roots_pem, log_id=log_id)
    second = verify_tree_head(proof.get("sth2") or {}, trusted_roots_pem, log_id=first.log_id)
    try:
        m, n = int(proof["first"]), int(proof["second"])
    except (KeyError, TypeError, ValueError):
        raise LogProofError("the consistency proof is malformed") from None
    if (m, n) != (first.tree_size, second.tree_size):
        raise LogProofError("the consistency proof's sizes differ from its tree heads'")
    path = _hexes(proof.get("path"), "path")
    if not verify_consistency(m, n, first.root_hash, second.root_hash, path):
        raise LogProofError(
            f"the tree of {n} leaves is not an append-only extension of the tree of {m} leaves"
        )
    return first, second


# -- the proofs sidecar's archive time-stamp chain -------------------------------------------


def archive_input(package_sha256: str, previous: Sequence[Mapping[str, Any]]) -> bytes:
    """What archive time-stamp *i* stamps: the package's SHA-256 (32 raw bytes) followed by
    the canonical JSON of ``archive_timestamps[0..i-1]`` (``[]`` for the first)."""
    digest = bytes.fromhex(package_sha256)
    if len(digest) != 32:
        raise LogProofError("package_sha256 must be 64 hex digits")
    return digest + canonical_json(list(previous))


@dataclass(frozen=True)
class ArchiveCheck:
    """Outcome of :func:`verify_archive_chain`: ``valid`` only when ``problems`` is empty."""

    valid: bool
    problems: tuple[str, ...]
    #: genTime of each archive time-stamp that verified, oldest first.
    times: tuple[datetime, ...] = field(default_factory=tuple)

    @property
    def reference_time(self) -> datetime | None:
        """When the package's own signature and tokens must have been valid: the genTime of
        the oldest archive time-stamp (it proves the package existed then)."""
        return self.times[0] if self.times else None


def _revoked_serials(
    entry: Mapping[str, Any], issuers: Sequence[x509.Certificate]
) -> tuple[dict[tuple[bytes, int], datetime], list[str]]:
    """Serials revoked according to the CRLs of one sidecar entry, keyed by (issuer name DER,
    serial); a CRL counts only if one of ``issuers`` signed it."""
    out: dict[tuple[bytes, int], datetime] = {}
    problems: list[str] = []
    for b64 in (entry.get("revocation") or {}).get("crls") or []:
        try:
            crl = x509.load_der_x509_crl(base64.b64decode(b64))
        except ValueError:
            problems.append("a CRL in the sidecar cannot be parsed")
            continue
        signer = next(
            (
                c
                for c in issuers
                if c.subject == crl.issuer and crl.is_signature_valid(c.public_key())  # type: ignore[arg-type]
            ),
            None,
        )
        if signer is None:
            problems.append(f"a CRL of {crl.issuer.rfc4514_string()} is not signed by its issuer")
            continue
        for revoked in crl:
            out[(crl.issuer.public_bytes(), revoked.serial_number)] = revoked.revocation_date_utc
    return out, problems


def verify_archive_chain(
    sidecar: Mapping[str, Any],
    package_sha256: str,
    trusted_roots_pem: bytes,
    *,
    now: datetime,
) -> ArchiveCheck:
    """Check the ``archive_timestamps`` chain of a proofs sidecar (a helper for our tests
    and a reference for the court verifier; it does not check the package itself).

    For every entry *i*: ``covers`` = SHA-256 of :func:`archive_input` over the entries before
    it, and its token's imprint is that digest; genTimes increase. The newest token's TSA chain
    must be valid ``now``; each older token's chain must have been valid at the genTime of the
    next token (which proves the older one existed while its certificates were good), and its
    TSA certificate must not be on a CRL carried by that next entry.
    """
    problems: list[str] = []
    entries = sidecar.get("archive_timestamps") or []
    if not isinstance(entries, list):
        return ArchiveCheck(False, ("archive_timestamps is not a list",))
    if sidecar.get("package_sha256") != package_sha256:
        problems.append("the sidecar is for another package (package_sha256 differs)")
    anchors = _anchors(trusted_roots_pem)
    tokens: list[TimestampToken | None] = []
    for i, entry in enumerate(entries):
        label = f"archive_timestamps[{i}]"
        data = archive_input(package_sha256, entries[:i])
        covers = "sha256:" + hashlib.sha256(data).hexdigest()
        if entry.get("covers") != covers:
            problems.append(f"{label}: covers is not the hash of the package and earlier stamps")
        try:
            der = base64.b64decode(str(entry.get("time_stamp", "")), validate=True)
            shipped = [
                c
                for pem in entry.get("certificates") or []
                for c in load_pem_certificates(str(pem).encode("ascii"))
            ]
        except (binascii.Error, ValueError) as exc:
            problems.append(f"{label}: malformed ({exc})")
            tokens.append(None)
            continue
        pool = [c for c in shipped if not is_self_signed(c)]
        try:
            # Signature, imprint and chain at genTime; validity at the reference time below.
            token = verify_timestamp_with(der, data, anchors=anchors, pool=pool)
        except TimestampVerificationError as exc:
            problems.append(f"{label}: {exc}")
            tokens.append(None)
            continue
        tokens.append(token)
    times = [t.gen_time for t in tokens if t is not None]
    if any(b <= a for a, b in itertools.pairwise(times)):
        problems.append("archive time-stamps are not in increasing time order")
    for i, stamp in enumerate(tokens):
        if stamp is None:
            continue
        last = i == len(tokens) - 1
        following = None if last else tokens[i + 1]
        at = now if last else (following.gen_time if following is not None else None)
        if at is None:
            problems.append(f"archive_timestamps[{i}] is not covered by a valid later stamp")
            continue
        chain = load_pem_certificates(stamp.certs_pem)
        for cert in chain:
            if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                problems.append(
                    f"archive_timestamps[{i}]: {cert.subject.rfc4514_string()} was not valid "
                    f"at {format_time(at)}" + (" (now): a renewal is overdue" if last else "")
                )
        if not last:
            revoked, crl_problems = _revoked_serials(entries[i + 1], [*chain, *anchors])
            problems += [f"archive_timestamps[{i + 1}]: {p}" for p in crl_problems]
            for cert in chain:
                when = revoked.get((cert.issuer.public_bytes(), cert.serial_number))
                if when is not None and when <= at:
                    problems.append(
                        f"archive_timestamps[{i}]: {cert.subject.rfc4514_string()} was revoked "
                        f"at {format_time(when)}"
                    )
    return ArchiveCheck(not problems, tuple(problems), tuple(times))
