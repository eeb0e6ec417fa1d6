"""Fuzzing the verifier with mutations of a real package (bit flips, truncations, insertions,
deletions, overwrites), briefly, in CI.

The invariant tested, for every mutated file:

1. a report is produced -- no exception escapes, the JSON and text renderings work; and
2. if the report is TOTAL-PASSED, the evidence is unchanged: Python's ``zipfile`` reads the
   same member names with the same bytes as in the original package.

Why (2) and not "a mutated package never passes": some bytes of a ZIP are not content and no
check covers them -- the central directory's "version made by", internal and external
attributes, extra fields other than ZIP64, comments, and the padding bits at the end of a
deflate stream. A flip there leaves every member's content, every hash and every signature
intact; rejecting it would be wrong. Every byte that *is* content, or locates content, is
covered: the strict container check (no unaccounted bytes, local headers equal to the central
directory, CRC-32) plus the hashes and signatures.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.verify import Indication, render_json, render_text, verify_stream
from tests.verify.conftest import trust_of
from tests.verify.sealing import Sealed

_BASE: dict[str, bytes] = {}


def _contents(data: bytes) -> list[tuple[str, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(i.filename, zf.read(i)) for i in zf.infolist()]
    except Exception:
        return None


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(st.just("overwrite"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)),
)


def _apply(data: bytes, ops: list[tuple[str, int, object]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in ops:
        if not buf:
            break
        pos %= len(buf)
        if kind == "flip":
            buf[pos] ^= 1 << int(arg)  # type: ignore[call-overload]
        elif kind == "truncate":
            del buf[pos:]
        elif kind == "insert":
            buf[pos:pos] = bytes(arg)  # type: ignore[call-overload]
        elif kind == "delete":
            del buf[pos : pos + int(arg)]  # type: ignore[call-overload]
        else:
            chunk = bytes(arg)  # type: ignore[call-overload]
            buf[pos : pos + len(chunk)] = chunk
    return bytes(buf)


def _fuzz(original: bytes, trust: object, proofs: bytes | None, examples: int) -> None:
    reference = _contents(original)
    assert reference is not None
    baseline = verify_stream(
        io.BytesIO(original),
        len(original),
        "p.wacz",
        trust=trust,  # type: ignore[arg-type]
        proofs=proofs,
    )
    assert baseline.indication is Indication.TOTAL_PASSED
    seen = {"total": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(mutation, min_size=1, max_size=3))
    def check(ops: list[tuple[str, int, object]]) -> None:
        data = _apply(original, ops)
        report = verify_stream(
            io.BytesIO(data),
            len(data),
            "mutant.wacz",
            trust=trust,  # type: ignore[arg-type]
            proofs=proofs,
        )
        json.loads(render_json(report))
        assert render_text(report).rstrip().endswith(report.indication_line())
        assert not any(c.facts.get("internal_error") for c in report.checks), ops
        seen["total"] += 1
        if report.indication is Indication.TOTAL_PASSED and data != original:
            assert _contents(data) == reference, ops

    check()
    assert seen["total"] >= examples // 2


def test_fuzz_package_mutations(plain: Path, bundle: Path) -> None:
    _fuzz(plain.read_bytes(), trust_of(bundle), None, 200)


def test_fuzz_sealed_package_mutations(sealed: Sealed, bundle: Path) -> None:
    """The full contract: manifest, tokens, certificate PDF, log proofs."""
    _fuzz(sealed.path.read_bytes(), trust_of(bundle), sealed.proofs_path.read_bytes(), 60)


def test_fuzz_slack_bytes_are_the_only_ones_that_may_change(plain: Path, bundle: Path) -> None:
    """Flip every byte of the first central-directory records and of the end record: the only
    flips that still pass are in fields that are not content (version made by, attributes)."""
    import struct

    data = plain.read_bytes()
    trust = trust_of(bundle)
    eocd = data.rindex(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<II", data, eocd + 12)
    slack: set[int] = set()
    pos = cd_offset
    while pos < cd_offset + cd_size:
        nlen, elen, clen = struct.unpack_from("<HHH", data, pos + 28)
        slack |= {pos + 4, pos + 5, *range(pos + 36, pos + 42)}  # made-by, int/ext attributes
        pos += 46 + nlen + elen + clen
    second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02", cd_offset) + 1)
    third = data.index(b"PK\x01\x02", second + 1)
    passed = set()
    for i in [*range(cd_offset, third), *range(eocd, eocd + 22)]:
        mutant = bytearray(data)
        mutant[i] ^= 0x10
        report = verify_stream(io.BytesIO(bytes(mutant)), len(mutant), "m.wacz", trust=trust)
        if report.indication is Indication.TOTAL_PASSED:
            passed.add(i)
    assert passed <= slack, sorted(passed - slack)
