"""Fixtures for the document tests: the real app served by uvicorn on a free port (its PKI
names that port in every certificate, so pdfsig's OCSP check reaches our responder), the
signers of a case (unit seal, two officers, a merchant), an NSS database trusting our root,
and helpers for the external tools.

Session-scoped: one CA, one server, one set of certificates. Tests that revoke issue their
own certificates so the others stay usable.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from certs import SubjectInfo
from certs.errors import UnknownCertificateError
from certs.pki import Pki
from evidence_service.services import Services
from signing.timestamp import Timestamper
from tests.fixtures.http_tsa import free_port
from tests.fixtures.nss import nss_trusting
from tests.seal.conftest import PASSPHRASE, serve_app, services_for
from workflow.documents import seal

UNIT = "示例市市场监督管理局"
OFFICER_ID = "SL-2026-0001"
OFFICER_2_ID = "SL-2026-0002"
MERCHANT_CODE = "9144030071526726XG"
HEAD_ID = "SL-HEAD-0001"
# Officer-kind slots that a different person signs: the head approving, the legal reviewer,
# the hearing officer and the recorder. One certificate per person and badge number.
ROLE_OFFICERS = {
    "head": (HEAD_ID, "赵局长"),
    "reviewer": ("SL-REV-0001", "钱审核"),
    "hearing_officer": ("SL-HEAR-0001", "孙主持"),
    "recorder": ("SL-REC-0001", "李记录"),
}


def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


@dataclass
class Case:
    """The served service and the people who sign a case's documents."""

    services: Services
    url: str
    data_dir: Path
    port: int
    bundle: Path  # trust bundle (certificates only, as `evidence trust export` minus CRLs)
    root_pem: Path
    chain_pem: Path  # issuing CA + TSA (for openssl -untrusted)
    nssdb: str

    @property
    def pki(self) -> Pki:
        return self.services.pki

    @property
    def timestampers(self) -> list[Timestamper]:
        return list(self.services.timestampers)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for the `evidence` CLI on this data folder."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
        env.update(
            EVIDENCE_DATA_DIR=str(self.data_dir),
            EVIDENCE_KEY_PASSPHRASE=PASSPHRASE,
            EVIDENCE_HOST="127.0.0.1",
            EVIDENCE_PORT=str(self.port),
            EVIDENCE_DEFAULT_UNIT_NAME=UNIT,
        )
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    base = tmp_path_factory.mktemp("documents")
    seal.set_cache_dir(base / "cache")
    port = free_port()
    data_dir = base / "data"
    services = services_for(data_dir, port, default_unit_name=UNIT)
    pki = services.pki
    pki.issue("unit", SubjectInfo(UNIT))
    pki.issue("officer", SubjectInfo("张三", organization=UNIT, officer_id=OFFICER_ID))
    pki.issue("officer", SubjectInfo("王五", organization=UNIT, officer_id=OFFICER_2_ID))
    pki.issue("merchant", SubjectInfo("广州某某电子商务有限公司", credit_code=MERCHANT_CODE))
    files = base / "files"
    files.mkdir()
    bundle = files / "bundle.pem"
    bundle.write_bytes(pki.trust_bundle_pem())
    root_pem = files / "root.pem"
    root_pem.write_bytes(pki.root.public_bytes(Encoding.PEM))
    chain_pem = files / "chain.pem"
    chain_pem.write_bytes(
        pki.issuing.public_bytes(Encoding.PEM)
        + pki.tsa_credential().cert.public_bytes(Encoding.PEM)
    )
    nss = nss_trusting(base / "nss", root_pem)
    try:
        with serve_app(services, port) as url:
            yield Case(services, url, data_dir, port, bundle, root_pem, chain_pem, nss)
    finally:
        services.close()


# -- tools ----------------------------------------------------------------------------------


def pdfsig(case: Case, pdf: Path) -> str:
    """pdfsig's text, with its OCSP check on (against the served responder; see
    tests/pki/test_pdf.py for why not ``-no-ocsp``)."""
    proc = run("pdfsig", "-nssdir", case.nssdb, str(pdf))
    return proc.stdout + proc.stderr


def pdfsig_blocks(text: str) -> list[str]:
    """pdfsig's output split per ``Signature #n:`` block."""
    parts = text.split("Signature #")[1:]
    return ["Signature #" + p for p in parts]


def signatures_by_field(pdf: Path) -> dict[str, Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    return {str(e.field_name): e for e in reader.embedded_signatures}


def byte_range_digest(data: bytes, byte_range: list[int]) -> str:
    h = hashlib.sha256()
    for start, length in zip(byte_range[::2], byte_range[1::2], strict=True):
        h.update(data[start : start + length])
    return h.hexdigest()


def encrypted_pdf() -> bytes:
    """A one-page PDF with a user password (pyHanko's own writer, AES-256)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    writer.insert_page(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Page"),
                generic.NameObject("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 0, 595, 842)]
                ),
                generic.NameObject("/Resources"): generic.DictionaryObject(),
            }
        )
    )
    writer.encrypt("owner-secret", "user-secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.fixture(scope="session")
def slot_signers(case: Case) -> dict[str, str]:
    """Badge number of the person who signs each officer-kind slot: the two officers in
    charge, and one certificate each for the head, reviewer, hearing officer and recorder
    (issued once: a second certificate would make the badge number ambiguous)."""
    for badge, name in ROLE_OFFICERS.values():
        try:
            case.pki.certificate(badge)
        except UnknownCertificateError:
            case.pki.issue("officer", SubjectInfo(name, organization=UNIT, officer_id=badge))
    return {"officer": OFFICER_ID, "officer_2": OFFICER_2_ID} | {
        slot: badge for slot, (badge, _name) in ROLE_OFFICERS.items()
    }
