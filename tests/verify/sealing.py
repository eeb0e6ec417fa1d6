"""Build sealed packages exactly as ``docs/evidence-package.md`` describes, in the tests.

The sealing pipeline builds these in production; the verifier's tests build their own so that
every element (manifest, its time-stamps, the log entry and proofs, the evidence certificate
with its embedded ``certificate.json``, the archive time-stamps) can be produced, varied and
tampered with independently. Real parts only: our PKI and TSA, pyHanko for PAdES B-LTA,
cdxj-indexer for the index, warcio-written WARCs, ECDSA for the tree head.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cdxj_indexer import CDXJIndexer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from capture.types import CaptureResult
from capture.wacz import build_wacz
from certs.keys import load_private_key
from certs.pki import Credential, Pki
from signing.timestamp import LocalTimestamper
from signing.tsa import TimeStampAuthority
from signing.wacz_sign import PackageSigner
from tests.verify import merkle_ref

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(DER))


def issue_leaf(
    issuer: Credential,
    common_name: str,
    *,
    non_repudiation: bool = True,
    ocsp_signing: bool = False,
    days: int = 365,
) -> Credential:
    """An end-entity credential from ``issuer`` (document signer, log key, OCSP responder)."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, non_repudiation, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    cert = builder.sign(issuer.key, hashes.SHA384())  # type: ignore[arg-type]
    return Credential(key, cert, (issuer.cert, *issuer.chain))


def make_crl(
    issuer: Credential,
    *,
    revoked: list[tuple[int, datetime]] = (),  # type: ignore[assignment]
    last_update: datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL by ``issuer``; by default issued now (rounded up to the next whole second, so it
    is never older than a time-stamp made a moment ago)."""
    now = datetime.now(UTC)
    when = last_update or (now + timedelta(seconds=1)).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(when)
        .next_update(when + timedelta(days=7))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
    )
    for serial, at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build()
        )
    return builder.sign(issuer.key, hashes.SHA384())  # type: ignore[arg-type]


@dataclass
class Authorities:
    """A PKI with the credentials tests need to sign every kind of artefact."""

    pki: Pki
    passphrase: bytes
    directory: Path
    tsa: TimeStampAuthority
    signer: PackageSigner
    seal: Credential  # document signer for the evidence certificate (nonRepudiation)
    log_key: Credential
    host: str

    @property
    def issuing(self) -> Credential:
        return self.pki.issuing_credential()

    @property
    def root(self) -> Credential:
        key = load_private_key(self.directory / "root.key.pem", self.passphrase)
        return Credential(key, self.pki.root, ())

    def timestamper(self) -> LocalTimestamper:
        return LocalTimestamper(self.tsa)

    def bundle(self, *extra: bytes) -> bytes:
        return self.pki.trust_bundle_pem() + b"".join(extra)

    def crls_pem(self, **kw: Any) -> bytes:
        """A fresh CRL of the issuing CA and an ARL of the root, as PEM."""
        return b"".join(
            c.public_bytes(PEM) for c in (make_crl(self.issuing, **kw), make_crl(self.root))
        )


def open_authorities(
    directory: Path, host: str, passphrase: bytes = b"verify tests"
) -> Authorities:
    pki = Pki.open(directory, passphrase, hostname=host, public_url=f"https://{host}")
    tsa = TimeStampAuthority(pki.tsa_credential())
    signer = PackageSigner(pki.package_signing_credential, [LocalTimestamper(tsa)], domain=host)
    issuing = pki.issuing_credential()
    return Authorities(
        pki=pki,
        passphrase=passphrase,
        directory=directory,
        tsa=tsa,
        signer=signer,
        seal=issue_leaf(issuing, f"{host} evidence seal 取证专用章"),
        log_key=issue_leaf(issuing, f"{host} transparency log", non_repudiation=False),
        host=host,
    )


# -- transparency log ----------------------------------------------------------------------


@dataclass
class TestLog:
    """An append-only list of leaf hashes with signed tree heads (reference arithmetic)."""

    __test__ = False
    auth: Authorities
    leaves: list[bytes] = field(default_factory=list)

    @property
    def log_id(self) -> str:
        spki = self.auth.log_key.cert.public_key().public_bytes(
            DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).hexdigest()

    def append(self, leaf_input: bytes) -> dict[str, Any]:
        self.leaves.append(merkle_ref.leaf_hash(leaf_input))
        return {
            "log_id": self.log_id,
            "leaf_index": len(self.leaves) - 1,
            "leaf_input": "sha256:" + leaf_input.hex(),
            "leaf_hash": self.leaves[-1].hex(),
            "log_url": f"https://{self.auth.host}/api/log",
        }

    def sth(self, size: int | None = None) -> dict[str, Any]:
        size = len(self.leaves) if size is None else size
        fields = {
            "log_id": self.log_id,
            "tree_size": size,
            "root_hash": merkle_ref.mth(self.leaves[:size]).hex(),
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        key = self.auth.log_key.key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(canonical(fields), ec.ECDSA(hashes.SHA256()))
        token = self.auth.timestamper().stamp(signature)
        return {
            **fields,
            "signature": base64.b64encode(signature).decode(),
            "signer_chain": self.auth.log_key.chain_pem().decode(),
            "time_stamp": base64.b64encode(token.response_der).decode(),
        }

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        size = len(self.leaves) if size is None else size
        return {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": self.leaves[index].hex(),
            "audit_path": [h.hex() for h in merkle_ref.path(index, self.leaves[:size])],
            "sth": self.sth(size),
        }


# -- the evidence certificate -------------------------------------------------------------


class InProcessTimeStamper:
    """pyHanko's TimeStamper over our TSA object (same DER as over HTTP, no server)."""

    def __new__(cls, tsa: TimeStampAuthority) -> Any:
        from pyhanko.sign import timestamps

        class _Stamper(timestamps.TimeStamper):
            async def async_request_tsa_response(self, req: Any, *args: Any, **kw: Any) -> Any:
                return tsp.TimeStampResp.load(tsa.respond(req.dump()))

        return _Stamper()


def blank_pdf(attachments: dict[str, bytes] | None = None, text: str = "certificate") -> bytes:
    from pyhanko.pdf_utils import embed, generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter()
    content = generic.StreamObject(stream_data=f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    font = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    page = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Page"),
            generic.pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            generic.pdf_name("/Contents"): w.add_object(content),
            generic.pdf_name("/Resources"): generic.DictionaryObject(
                {
                    generic.pdf_name("/Font"): generic.DictionaryObject(
                        {generic.pdf_name("/F1"): w.add_object(font)}
                    )
                }
            ),
        }
    )
    w.insert_page(page)
    for name, data in (attachments or {}).items():
        embed.embed_file(
            w,
            embed.FileSpec(
                file_spec_string=name,
                embedded_data=embed.EmbeddedFileObject.from_file_data(
                    w, data, mime_type="application/json"
                ),
            ),
        )
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def sign_pdf(
    data: bytes,
    auth: Authorities,
    *,
    level: str = "B-LTA",
    signer: Credential | None = None,
    field_name: str = "Seal",
) -> bytes:
    """PAdES-sign ``data`` with pyHanko at ``level`` (B-B, B-T, B-LT or B-LTA)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cred = signer or auth.seal
    key = asn1_keys.PrivateKeyInfo.load(
        cred.key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pdf_signer = signers.SimpleSigner(
        signing_cert=asn1(cred.cert),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in cred.chain]),
    )
    crls = [
        make_crl(auth.issuing, last_update=datetime.now(UTC) - timedelta(seconds=2)).public_bytes(
            DER
        ),
        make_crl(auth.root, last_update=datetime.now(UTC) - timedelta(seconds=2)).public_bytes(DER),
    ]
    vc = ValidationContext(
        trust_roots=[asn1(cred.chain[-1])],
        other_certs=[asn1(c) for c in cred.chain[:-1]],
        crls=crls,
        allow_fetching=False,
    )
    meta = PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=level in ("B-LT", "B-LTA"),
        use_pades_lta=level == "B-LTA",
        validation_context=vc if level in ("B-LT", "B-LTA") else None,
    )
    stamper = InProcessTimeStamper(auth.tsa) if level != "B-B" else None
    out = io.BytesIO()
    PdfSigner(meta, pdf_signer, timestamper=stamper).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)), output=out
    )
    return out.getvalue()


# -- the sealed package ------------------------------------------------------------------


@dataclass
class Sealed:
    path: Path
    proofs_path: Path
    manifest: bytes
    manifest_sha256: str
    log_entry: dict[str, Any]
    capture: CaptureResult
    certificate_json: bytes


def _index(warc: Path, out: Path) -> None:
    """The CDXJ index exactly as ``capture.wacz`` writes it (deterministic)."""
    CDXJIndexer(
        output=str(out),
        inputs=[str(warc)],
        sort=True,
        post_append=True,
        filename="data.warc.gz",
        fields="referrer",
    ).process_all()


def seal(
    capture: CaptureResult,
    work: Path,
    auth: Authorities,
    log: TestLog,
    *,
    certificate: bool = True,
    other_leaves: int = 6,
    archive_stamp: bool = True,
) -> Sealed:
    """Seal ``capture`` into ``work/package.wacz`` (+ ``.proofs.json``) per the contract."""
    work.mkdir(parents=True, exist_ok=True)
    seal_dir = work / "seal"
    seal_dir.mkdir(exist_ok=True)
    index = seal_dir / "index.cdx"
    _index(Path(capture.warc_path), index)
    files = {
        "archive/data.warc.gz": Path(capture.warc_path),
        "indexes/index.cdx": index,
        "files/screenshot.png": Path(capture.screenshot_path),
        "files/page.pdf": Path(capture.pdf_path),
        "files/provenance.json": Path(capture.provenance_json_path),
        "files/provenance.html": Path(capture.provenance_html_path),
    }
    manifest_obj = {
        "type": "evidence-capture-manifest",
        "version": 1,
        "capture_id": f"cap-{work.name}",
        "service": auth.host,
        "requested_url": capture.requested_url,
        "final_url": capture.final_url,
        "http_status": capture.http_status,
        "outcome": capture.outcome,
        "limits_hit": list(capture.limits_hit),
        "capture_started": capture.started_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "capture_ended": capture.ended_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "files": {arc: f"sha256:{sha256_file(src)}" for arc, src in files.items()},
        "warc_resources": dict(capture.resource_uris),
    }
    manifest = canonical(manifest_obj)
    (seal_dir / "manifest.json").write_bytes(manifest)
    token = auth.timestamper().stamp(manifest)
    (seal_dir / "manifest.tsr").write_bytes(token.response_der)
    digest = hashlib.sha256(manifest).digest()
    for i in range(other_leaves // 2):
        log.append(hashlib.sha256(f"before {work} {i}".encode()).digest())
    entry = log.append(digest)
    for i in range(other_leaves - other_leaves // 2):
        log.append(hashlib.sha256(f"after {work} {i}".encode()).digest())
    (seal_dir / "log-entry.json").write_bytes(canonical(entry))
    cert_json = canonical(
        {
            "type": "evidence-certificate",
            "version": 1,
            "capture_id": manifest_obj["capture_id"],
            "files": manifest_obj["files"],
            "manifest": {"path": "files/manifest.json", "sha256": digest.hex()},
            "trusted_time": {
                "serial_hex": f"{token.serial:x}",
                "gen_time": token.gen_time.isoformat(),
            },
            "transparency_log": entry,
            "server": {"tls": {"sha256": "ab" * 32}},
        }
    )
    extra = [(arc, files[arc]) for arc in ("files/provenance.html",)]
    extra += [
        ("files/manifest.json", seal_dir / "manifest.json"),
        ("files/manifest.tsr", seal_dir / "manifest.tsr"),
        ("files/log-entry.json", seal_dir / "log-entry.json"),
    ]
    if certificate:
        pdf = sign_pdf(blank_pdf({"certificate.json": cert_json}), auth)
        (seal_dir / "certificate.pdf").write_bytes(pdf)
        extra.append(("files/certificate.pdf", seal_dir / "certificate.pdf"))
    out = work / "package.wacz"
    info = build_wacz(capture, out, sign=auth.signer.sign, extra_files=extra, title="sealed")
    proofs: dict[str, Any] = {
        "type": "evidence-proofs",
        "version": 1,
        "package_sha256": info.sha256,
        "inclusion": log.inclusion(entry["leaf_index"]),
        "archive_timestamps": [],
    }
    if archive_stamp:
        data = bytes.fromhex(info.sha256) + canonical([])
        stamp = auth.timestamper().stamp(data)
        proofs["archive_timestamps"].append(
            {
                "time_stamp": base64.b64encode(stamp.response_der).decode(),
                "covers": "sha256:" + hashlib.sha256(data).hexdigest(),
                "revocation": {
                    "crls": [
                        base64.b64encode(make_crl(auth.issuing).public_bytes(DER)).decode(),
                        base64.b64encode(make_crl(auth.root).public_bytes(DER)).decode(),
                    ],
                    "ocsps": [],
                },
                "certificates": [stamp.certs_pem.decode()],
            }
        )
    proofs_path = work / "package.wacz.proofs.json"
    proofs_path.write_text(json.dumps(proofs, indent=1))
    shutil.rmtree(seal_dir)
    return Sealed(out, proofs_path, manifest, digest.hex(), entry, capture, cert_json)
