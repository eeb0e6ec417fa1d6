"""Seal stages under failure and with several TSAs: a TSA that goes down after the log entry
and the certificate exist (the retry reuses them; nothing is logged twice), and one token per
configured TSA (ours over HTTP plus OpenSSL's reference TSA)."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from evidence_service.bootstrap import initialize
from evidence_service.sealing.pipeline import create_capture
from evidence_service.sealing.transparency import TransparencyLog
from storage.models import Capture
from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port, serve_tsa
from tests.fixtures.openssl_tsa import serve_openssl_tsa
from tests.fixtures.site import FixtureSite
from tests.seal.conftest import run, service_environment, services_for, unpack
from tests.service.conftest import run_worker

pytestmark = pytest.mark.chromium


class FlakyTsa:
    """Our TSA, answering garbage once ``down_after`` exists (a file the seal writes)."""

    def __init__(self, authority: object) -> None:
        self.authority = authority
        self.down_after: Path | None = None
        self.refused = 0

    def respond(self, request_der: bytes) -> bytes:
        if self.down_after is not None and self.down_after.exists():
            self.refused += 1
            return b"\x00 not a time-stamp"
        return self.authority.respond(request_der)  # type: ignore[attr-defined,no-any-return]


def test_tsa_down_after_the_certificate_keeps_log_entry_and_certificate(
    tmp_path: Path, fixture_site: FixtureSite
) -> None:
    tsa_port = free_port()
    services = services_for(
        tmp_path / "data", free_port(), tsa_url=f"http://127.0.0.1:{tsa_port}/tsa"
    )
    try:
        initialize(services)
        flaky = FlakyTsa(services.tsa)
        with serve_tsa(flaky, tsa_port):
            capture_id = create_capture(services, fixture_site.url("/listing"), user_id=None)
            seal_dir = services.settings.work_dir / capture_id / "seal"
            flaky.down_after = seal_dir / "certificate.pdf"
            run_worker(services)  # captured, manifest stamped, logged, certified; then no TSA

            with services.sessions() as session:
                cap = session.get(Capture, capture_id)
                assert cap is not None
                assert cap.status == "sealing" and cap.package_key is None
                assert cap.progress_detail and "TsaBadResponseError" in cap.progress_detail
            assert flaky.refused >= 1
            tlog = TransparencyLog(services)
            entry = tlog.entry_for_capture(capture_id)
            assert entry is not None and tlog.size() == 1
            certificate = (seal_dir / "certificate.pdf").read_bytes()
            token = (seal_dir / "manifest.tsr").read_bytes()

            flaky.down_after = None  # the TSA is back
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                run_worker(services, until_idle=True)
                with services.sessions() as session:
                    cap = session.get(Capture, capture_id)
                    assert cap is not None
                    if cap.status == "stored":
                        break
                time.sleep(0.3)
        assert cap.status == "stored", cap.progress_detail
        assert tlog.size() == 1 and tlog.entry_for_capture(capture_id) == entry
        assert cap.log_leaf_index == entry.leaf_index
        package = services.store.read_bytes(cap.package_key or "")
        with zipfile.ZipFile(io.BytesIO(package)) as zf:
            assert zf.read("files/certificate.pdf") == certificate  # the one first issued
            assert zf.read("files/manifest.tsr") == token
            assert json.loads(zf.read("files/log-entry.json"))["leaf_hash"] == entry.leaf_hash
        assert services.store.read_bytes(cap.certificate_key or "") == certificate
    finally:
        services.close()


def test_one_manifest_token_per_tsa(tmp_path: Path, fixture_site: FixtureSite) -> None:
    port, tsa_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    services = services_for(data_dir, port)
    try:
        with (
            serve_openssl_tsa(tmp_path / "openssl-tsa") as foreign,
            serve_tsa(services.tsa, tsa_port),
        ):
            chain = tmp_path / "foreign-chain.pem"
            chain.write_bytes(foreign.tsa_chain_pem + foreign.ca_pem)
            ours = f"http://127.0.0.1:{tsa_port}/tsa"
            env = service_environment(
                data_dir,
                port,
                EVIDENCE_TSA_URL=f"{ours},{foreign.url}",
                EVIDENCE_TSA_CA_FILE=str(chain),
            )
            out = tmp_path / "p.wacz"
            cert = tmp_path / "c.pdf"
            proc = run_cli(
                [
                    "capture",
                    fixture_site.url("/listing"),
                    "-o",
                    str(out),
                    "--certificate",
                    str(cert),
                    "--json",
                ],
                env,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
        record = json.loads(proc.stdout)
        files = unpack(out, tmp_path / "unpacked")
        bundle = tmp_path / "bundle.pem"
        bundle.write_bytes(services.pki.trust_bundle_pem())
        foreign_ca = tmp_path / "foreign-ca.pem"
        foreign_ca.write_bytes(foreign.ca_pem)
        for name, ca, untrusted in (
            ("manifest.tsr", bundle, bundle),
            ("manifest.2.tsr", foreign_ca, chain),
        ):
            check = run(
                "openssl",
                "ts",
                "-verify",
                "-data",
                str(files / "files/manifest.json"),
                "-in",
                str(files / "files" / name),
                "-CAfile",
                str(ca),
                "-untrusted",
                str(untrusted),
            )
            assert "Verification: OK" in check.stdout, (name, check.stdout + check.stderr)
        assert not (files / "files/manifest.3.tsr").exists()
        datapackage = json.loads((files / "datapackage.json").read_text())
        assert {"files/manifest.tsr", "files/manifest.2.tsr"} <= {
            r["path"] for r in datapackage["resources"]
        }
        signed = json.loads((files / "datapackage-digest.json").read_text())["signedData"]
        [extra] = signed["additionalTimeSignatures"]
        assert extra["tsa"] == foreign.url and base64.b64decode(extra["timeSignature"])

        # The certificate states both tokens; its own signature time-stamp is the first TSA's.
        text = "".join(run("pdftotext", str(cert), "-").stdout.split())
        for name in ("manifest.tsr", "manifest.2.tsr"):
            from signing.timestamp import read_timestamp

            serial = read_timestamp((files / "files" / name).read_bytes()).serial
            assert str(serial) in text, name
        assert record["timestamp"]["tsa"] and "Time-Stamp Authority" in record["timestamp"]["tsa"]

        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko.sign.validation.dss import DocumentSecurityStore

        reader = PdfFileReader(io.BytesIO(cert.read_bytes()))
        root = asn1_x509.Certificate.load(services.pki.root.public_bytes(Encoding.DER))
        vc = DocumentSecurityStore.read_dss(reader).as_validation_context(
            {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
        )
        status = validate_pdf_signature(reader.embedded_signatures[0], vc)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    finally:
        services.close()


def test_foreign_tsa_only_still_gives_a_b_lt_certificate(
    tmp_path: Path, fixture_site: FixtureSite
) -> None:
    """With only OpenSSL's TSA configured, the certificate's signature time-stamp is foreign:
    its chain is embedded (trusted via tsa_ca_file), our seal's revocation data too."""
    port = free_port()
    data_dir = tmp_path / "data"
    with serve_openssl_tsa(tmp_path / "openssl-tsa") as foreign:
        chain = tmp_path / "foreign-chain.pem"
        chain.write_bytes(foreign.tsa_chain_pem + foreign.ca_pem)
        env = service_environment(
            data_dir, port, EVIDENCE_TSA_URL=foreign.url, EVIDENCE_TSA_CA_FILE=str(chain)
        )
        cert = tmp_path / "c.pdf"
        proc = run_cli(
            ["capture", fixture_site.url("/listing"), "--certificate", str(cert), "--json"], env
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    services = services_for(data_dir, port)
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko.sign.validation.dss import DocumentSecurityStore

        reader = PdfFileReader(io.BytesIO(cert.read_bytes()))
        dss = DocumentSecurityStore.read_dss(reader)
        assert len(dss.ocsps) >= 1 and len(dss.crls) >= 2
        roots = [
            asn1_x509.Certificate.load(services.pki.root.public_bytes(Encoding.DER)),
            asn1_x509.Certificate.load(
                x509.load_pem_x509_certificate(foreign.ca_pem).public_bytes(Encoding.DER)
            ),
        ]
        vc = dss.as_validation_context(
            {"trust_roots": roots, "allow_fetching": False, "revocation_mode": "soft-fail"}
        )
        status = validate_pdf_signature(reader.embedded_signatures[0], vc)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.timestamp_validity is not None
        assert "OpenSSL" in status.timestamp_validity.signing_cert.subject.human_friendly
    finally:
        services.close()
