"""A PDF signature's own time-stamp (the CMS ``signature-time-stamp`` attribute) is reported
like a WACZ package time-stamp -- TSA, time, trusted or NO_CERTIFICATE_CHAIN_FOUND, imprint --
and proves the signing time (and B-T) only when its TSA is trusted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms

from signing.tsa import TimeStampAuthority
from signing.verify import (
    Indication,
    Text,
    VerifyOptions,
    load_trust_bundle,
    render_html,
    validate_pdf,
    verify_file,
)
from tests.verify import pdfcraft
from tests.verify.sealing import Authorities


def _sign(auth: Authorities, level: str = "B-T", tsa: TimeStampAuthority | None = None) -> bytes:
    return pdfcraft.sign(pdfcraft.document(1), auth, field_name="Seal", level=level, tsa=tsa)


def test_trusted_signature_timestamp(auth: Authorities) -> None:
    report = validate_pdf(_sign(auth), auth.bundle())
    assert report.ok, report.reason.en
    sig = report.signatures[0]
    stamp = sig.signature_timestamp
    assert stamp is not None
    assert (stamp["status"], stamp["sub_indication"], stamp["trusted"]) == ("PASSED", None, True)
    assert stamp["imprint_matches"] is True
    assert stamp["tsa"] == sig.timestamp_authority and "Time-Stamp Authority" in stamp["tsa"]
    assert stamp["chain"][-1]["subject"] == auth.pki.root.subject.rfc4514_string()
    gen_time = datetime.fromisoformat(stamp["gen_time"].replace("Z", "+00:00"))
    assert abs(gen_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert sig.signing_time_stamped is not None
    assert abs(sig.signing_time_stamped - gen_time) < timedelta(milliseconds=1)
    assert sig.pades_level == "B-T"


def test_untrusted_tsa_is_reported_and_proves_nothing(
    auth: Authorities, foreign: Authorities
) -> None:
    """The signer is ours (trusted); the time-stamp is from a TSA outside the trust bundle."""
    report = validate_pdf(_sign(auth, tsa=foreign.tsa), auth.bundle())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    sig = report.signatures[0]
    stamp = sig.signature_timestamp
    assert stamp is not None
    assert (stamp["status"], stamp["sub_indication"], stamp["trusted"]) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
        False,
    )
    assert stamp["imprint_matches"] is True and foreign.host in stamp["tsa"]
    assert stamp["gen_time"] is not None  # the claimed time is shown ...
    assert sig.signing_time_stamped is None  # ... but proves nothing
    assert sig.pades_level == "B-B"


def test_without_signature_timestamp(auth: Authorities) -> None:
    report = validate_pdf(_sign(auth, "B-B"), auth.bundle())
    sig = report.signatures[0]
    assert report.ok and sig.pades_level == "B-B"
    assert sig.signature_timestamp is None and sig.timestamp_authority is None
    assert sig.signing_time_stamped is None


def _unsigned_attrs(data: bytes) -> tuple[re.Match[bytes], bytes, bytes]:
    match = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert match is not None
    der = bytes.fromhex(match.group(1).decode())
    attrs = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["unsigned_attrs"].dump()
    return match, der, attrs


def _transplant_timestamp(auth: Authorities) -> bytes:
    """A signature carrying the time-stamp of another signature (unsigned attributes are
    outside what a signature covers, so the signature itself stays intact). The DER of the
    attributes is swapped in place, so both must have the same length (a token's length
    varies with its serial number and time): sign until two have."""
    seen: dict[int, bytes] = {}
    for _ in range(40):
        signed = _sign(auth)
        match, der, attrs = _unsigned_attrs(signed)
        other = seen.get(len(attrs))
        if other is None:
            seen[len(attrs)] = signed
            continue
        _m, _d, theirs = _unsigned_attrs(other)
        hexed = der.replace(attrs, theirs).hex().encode()
        return signed[: match.start(1)] + hexed + signed[match.end(1) :]
    raise AssertionError("no two time-stamps of the same length")


def test_timestamp_of_another_signature_does_not_match(auth: Authorities) -> None:
    forged = _transplant_timestamp(auth)
    report = validate_pdf(forged, auth.bundle())
    sig = report.signatures[0]
    assert sig.intact and sig.crypto_valid, report.reason.en
    stamp = sig.signature_timestamp
    assert stamp is not None
    assert (stamp["status"], stamp["sub_indication"]) == ("FAILED", "HASH_FAILURE")
    assert stamp["imprint_matches"] is False and stamp["trusted"] is False
    assert sig.signing_time_stamped is None and sig.pades_level == "B-B"


def test_report_shows_the_timestamp(
    auth: Authorities, foreign: Authorities, tmp_path: Path
) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(_sign(auth, tsa=foreign.tsa))
    store = load_trust_bundle(auth.bundle(), source="given", description=Text("测试", "test"))
    report = verify_file(path, trust=store, options=VerifyOptions())
    check = report.check("pdf.signature")
    assert "signature time-stamp" in check.reason.en
    assert "NO_CERTIFICATE_CHAIN_FOUND" in check.reason.en
    html = render_html(report, "en")
    assert 'class="sig-timestamp"' in html and "NO_CERTIFICATE_CHAIN_FOUND" in html
    assert foreign.host in html
