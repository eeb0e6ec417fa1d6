"""Whole packages that must verify: our sealed format (every check), older packages, and
what the verifier says when trust or revocation data is missing."""

from __future__ import annotations

from pathlib import Path

from signing.verify import Indication, Status, Sub
from tests.verify.conftest import Verify, statuses
from tests.verify.sealing import Sealed

ALL_CHECKS = {
    "zip.container",
    "package.digest",
    "package.signature",
    "package.signature.revocation",
    "package.timestamp",
    "package.resources",
    "warc.records",
    "warc.resources",
    "manifest.content",
    "manifest.timestamp",
    "certificate.signature",
    "certificate.timestamp.1",
    "certificate.content",
    "proofs.file",
    "log.inclusion",
    "proofs.archive_timestamps",
}


def test_sealed_package_passes_every_check(sealed: Sealed, verify: Verify) -> None:
    report = verify(sealed.path)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    assert statuses(report) == dict.fromkeys(ALL_CHECKS, "PASSED")
    assert report.exit_code == 0
    facts = report.facts
    assert facts["trusted_capture_time"] and facts["package_time_stamped"]
    assert facts["trusted_capture_time"] <= facts["package_time_stamped"]
    assert facts["capture"]["final_url"] == sealed.capture.final_url
    assert facts["log"]["leaf_index"] == sealed.log_entry["leaf_index"]
    assert facts["certificate_pades_level"] == "B-LTA"
    assert report.check("certificate.content").facts["mismatched"] == []
    assert "files.manifest.json" not in report.check("certificate.content").facts["matched"]


def test_without_revocation_data_passes_with_informative_check(
    sealed: Sealed, verify: Verify, bare_bundle: Path
) -> None:
    report = verify(sealed.path, trust=bare_bundle, proofs=None)
    rev = report.check("package.signature.revocation")
    assert (rev.status, rev.sub_indication, rev.counts) == (
        Status.INDETERMINATE,
        Sub.TRY_LATER,
        False,
    )
    log = report.check("log.inclusion")
    assert (log.status, log.sub_indication, log.counts) == (
        Status.INDETERMINATE,
        Sub.TRY_LATER,
        False,
    )
    assert report.indication is Indication.TOTAL_PASSED


def test_require_revocation_policy_makes_missing_data_decisive(
    sealed: Sealed, verify: Verify, bare_bundle: Path
) -> None:
    report = verify(sealed.path, trust=bare_bundle, proofs=None, require_revocation=True)
    assert report.indication_line() == "INDETERMINATE TRY_LATER"
    assert report.policy == {"revocation": "required"}
    # The same data given in the proofs sidecar satisfies the policy.
    report = verify(sealed.path, trust=bare_bundle, require_revocation=True)
    assert report.check("package.signature.revocation").status is Status.PASSED


def test_no_trust_bundle_is_indeterminate_not_failed(sealed: Sealed, verify: Verify) -> None:
    report = verify(sealed.path, trust=None)
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    assert report.check("package.resources").status is Status.PASSED
    assert report.check("warc.records").status is Status.PASSED
    assert report.trust["source"] == "none"


def test_package_sealed_before_manifests_passes(plain: Path, verify: Verify) -> None:
    report = verify(plain)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    s = statuses(report)
    for check_id in (
        "manifest.content",
        "manifest.timestamp",
        "certificate.signature",
        "certificate.content",
        "log.inclusion",
        "proofs.archive_timestamps",
    ):
        assert s[check_id] == "NOT_APPLICABLE"
    assert s["warc.resources"] == "PASSED"
