"""What the seal makes before packaging must be what the package holds: the CDXJ index
(``capture.wacz.index_warc``, packaged as given) and ``pages/pages.jsonl`` (its bytes known
from ``pages_jsonl`` with the page id the seal chooses); and the certificate's locally made
OCSP responses are reused only until a revocation changes a CRL."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from capture.wacz import WaczError, build_wacz, index_warc, pages_jsonl
from certs import SubjectInfo
from evidence_service.sealing.certificate import _local_revocation, service_seal_credential
from tests.fixtures.http_tsa import free_port
from tests.seal.conftest import services_for
from tests.wacz.conftest import write_capture


def test_index_and_pages_made_ahead_are_packaged_byte_for_byte(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "capture")
    index = tmp_path / "index.cdx"
    index_warc(Path(capture.warc_path), index)
    pages = pages_jsonl(capture, index, page_id="capture-123", title="证据 title")
    assert b'"id": "capture-123"' in pages

    ahead = build_wacz(
        capture,
        tmp_path / "a.wacz",
        sign=None,
        title="证据 title",
        page_id="capture-123",
        index=index,
    )
    fresh = build_wacz(
        capture, tmp_path / "b.wacz", sign=None, title="证据 title", page_id="capture-123"
    )
    with zipfile.ZipFile(ahead.path) as a, zipfile.ZipFile(fresh.path) as b:
        assert a.read("pages/pages.jsonl") == pages == b.read("pages/pages.jsonl")
        assert a.read("indexes/index.cdx") == index.read_bytes() == b.read("indexes/index.cdx")
    hashes = {r["path"]: r["hash"] for r in ahead.resources}
    assert hashes == {r["path"]: r["hash"] for r in fresh.resources}

    # Without a page id the packager draws one: the pages file is then not predictable.
    other = build_wacz(capture, tmp_path / "c.wacz", sign=None, title="证据 title")
    with zipfile.ZipFile(other.path) as c:
        assert c.read("pages/pages.jsonl") != pages
    with pytest.raises(WaczError, match="index"):
        build_wacz(capture, tmp_path / "d.wacz", sign=None, index=tmp_path / "missing.cdx")


def test_ocsp_responses_are_reused_until_a_crl_changes(tmp_path: Path) -> None:
    services = services_for(tmp_path / "data", free_port())
    try:
        seal = service_seal_credential(services)
        certs = [seal.cert, services.pki.tsa_credential().cert]
        crls, first = _local_revocation(services, certs)
        assert len(first) == 2 and len(crls) == 2
        assert _local_revocation(services, certs)[1] is first  # reused
        # A revocation (of anything) replaces the issuing CA's CRL: new responses are made.
        other = services.pki.issue("unit", SubjectInfo("另一个单位")).serial
        services.pki.revoke(other, "superseded")
        new_crls, second = _local_revocation(services, certs)
        assert new_crls[0] != crls[0] and second is not first
    finally:
        services.close()
