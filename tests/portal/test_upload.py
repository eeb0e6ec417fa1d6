"""A merchant may sign the served PDF with its own certificate elsewhere and upload it. It is
accepted only as an incremental update of the exact served bytes, with every signature
intact, the new one made by this merchant (its credit code in the certificate) and chaining
to a trusted root; anything else is refused with the reason shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from sqlalchemy import select

from certs import SubjectInfo
from certs.pki import Pki
from signing.timestamp import LocalTimestamper, Timestamper
from signing.tsa import TimeStampAuthority
from storage.models import Document, DocumentVersion, PortalAudit
from tests.fixtures.http_tsa import free_port
from tests.portal.conftest import World, csrf_of, served_notice
from workflow import serving
from workflow.documents import SignatureRequest, sign_document
from workflow.errors import UploadRejectedError


def _served_bytes(world: World, doc_id: str) -> bytes:
    _, version = serving.version_for_merchant(world.ctx, world.ids["ma"], doc_id, None)
    return world.services.store.read_bytes(version.object_key)


def _countersign(
    world: World,
    served: bytes,
    tmp_path: Path,
    signer: str,
    *,
    pki: Pki | None = None,
    location: str = "Guangzhou",
    level: str = "b-lta",
    timestampers: Sequence[Timestamper] | None = None,
) -> bytes:
    src = tmp_path / "served.pdf"
    src.write_bytes(served)
    out = tmp_path / "signed.pdf"
    sign_document(
        pki or world.services.pki,
        src,
        out,
        SignatureRequest(signer=signer, level=level, location=location),  # type: ignore[arg-type]
        timestampers=timestampers if timestampers is not None else world.services.timestampers,
    )
    return out.read_bytes()


def _upload(client: TestClient, doc_id: str, data: bytes) -> object:
    csrf = csrf_of(client.get(f"/portal/documents/{doc_id}").text)
    return client.post(
        f"/portal/documents/{doc_id}/upload",
        data={"csrf": csrf},
        files={"file": ("signed.pdf", data, "application/pdf")},
        follow_redirects=False,
    )


@pytest.fixture
def fresh_notice(world: World) -> str:
    return served_notice(world.ctx, world.alice, world.ids["ma"])


@pytest.fixture
def own_cert(world: World) -> str:
    """A second certificate of merchant ma from our CA, as if obtained for its own tools."""
    with world.services.sessions() as session:
        from storage.models import Merchant

        m = session.get(Merchant, world.ids["ma"])
        assert m is not None
        name, code = m.name, m.credit_code
    return world.services.pki.issue("merchant", SubjectInfo(name, credit_code=code)).serial_hex


def _rejected(response: object) -> str:
    assert getattr(response, "status_code", None) == 422, getattr(response, "text", "")
    text: str = response.text  # type: ignore[attr-defined]
    assert "上传的文件未被接受" in text and 'role="alert"' in text
    return text


def _state(world: World, doc_id: str) -> tuple[str, list[str]]:
    with world.services.sessions() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        kinds = list(
            session.scalars(
                select(DocumentVersion.kind)
                .where(DocumentVersion.document_id == doc_id)
                .order_by(DocumentVersion.seq)
            )
        )
        return doc.status, kinds


def test_properly_countersigned_pdf_is_accepted(
    world: World,
    merchant_client: Callable[[str], TestClient],
    fresh_notice: str,
    own_cert: str,
    tmp_path: Path,
) -> None:
    served = _served_bytes(world, fresh_notice)
    signed = _countersign(world, served, tmp_path, own_cert)
    assert signed.startswith(served)
    ma = merchant_client("ma")
    r = _upload(ma, fresh_notice, signed)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    assert r.headers["location"].endswith("?done=uploaded")  # type: ignore[attr-defined]
    status, kinds = _state(world, fresh_notice)
    assert status == "acknowledged"
    assert kinds == ["rendered", "unit-signed", "merchant-uploaded"]
    _, latest = serving.version_for_merchant(world.ctx, world.ids["ma"], fresh_notice, None)
    assert world.services.store.read_bytes(latest.object_key) == signed
    assert latest.signer_serial is not None
    assert int(latest.signer_serial, 16) == int(own_cert.replace(":", ""), 16)
    view = serving.document_for_officer(world.ctx, world.alice, fresh_notice)
    assert [c.kind for c in view.children] == ["proof_of_service"]
    assert view.audit[-1].action in ("document.upload_accepted", "proof_of_service.made")
    assert "document.upload_accepted" in [a.action for a in view.audit]
    # Signed once: a second upload is refused.
    again = _upload(ma, fresh_notice, signed)
    assert again.status_code == 409  # type: ignore[attr-defined]


def test_signature_of_another_merchant_is_rejected(
    world: World,
    merchant_client: Callable[[str], TestClient],
    fresh_notice: str,
    tmp_path: Path,
) -> None:
    served = _served_bytes(world, fresh_notice)
    with world.services.sessions() as session:
        from storage.models import Merchant

        other = session.get(Merchant, world.ids["mb"])
        assert other is not None and other.cert_serial
        other_serial = other.cert_serial
    signed = _countersign(world, served, tmp_path, other_serial)
    text = _rejected(_upload(merchant_client("ma"), fresh_notice, signed))
    assert "not by this merchant" in text and world.codes["ma"] in text
    assert _state(world, fresh_notice) == ("served", ["rendered", "unit-signed"])
    with world.services.sessions() as session:
        row = session.scalars(
            select(PortalAudit)
            .where(
                PortalAudit.document_id == fresh_notice,
                PortalAudit.action == "document.upload_rejected",
            )
            .order_by(PortalAudit.id.desc())
        ).first()
        assert row is not None and any("not by this merchant" in r for r in row.details["reasons"])


def test_modified_files_are_rejected(
    world: World,
    merchant_client: Callable[[str], TestClient],
    fresh_notice: str,
    own_cert: str,
    tmp_path: Path,
) -> None:
    served = _served_bytes(world, fresh_notice)
    signed = _countersign(world, served, tmp_path, own_cert, location="LOCATIONAAAA")
    ma = merchant_client("ma")
    # A byte of the served part changed: no longer the served document.
    pos = served.index(b"/Producer") + 2
    changed = signed[:pos] + bytes([signed[pos] ^ 0x01]) + signed[pos + 1 :]
    text = _rejected(_upload(ma, fresh_notice, changed))
    assert "does not start with the exact bytes" in text
    # A byte of the new signature's signed data changed: the signature is broken.
    where = signed.index(b"LOCATIONAAAA", len(served))
    tampered = signed[:where] + b"LOCATIONBBBB" + signed[where + 12 :]
    text = _rejected(_upload(ma, fresh_notice, tampered))
    assert "is broken" in text or "fails validation" in text
    # The served bytes with junk appended add no signature.
    text = _rejected(_upload(ma, fresh_notice, served + b"\n% nothing signed here\n"))
    assert "adds no signature" in text
    # Not a PDF at all.
    text = _rejected(_upload(ma, fresh_notice, b"GIF89a not a pdf"))
    assert "not a PDF" in text
    assert _state(world, fresh_notice) == ("served", ["rendered", "unit-signed"])


def test_a_different_document_is_not_a_prefix(
    world: World,
    merchant_client: Callable[[str], TestClient],
    fresh_notice: str,
    own_cert: str,
    tmp_path: Path,
) -> None:
    other = served_notice(world.ctx, world.alice, world.ids["ma"])
    signed_other = _countersign(world, _served_bytes(world, other), tmp_path, own_cert)
    text = _rejected(_upload(merchant_client("ma"), fresh_notice, signed_other))
    assert "does not start with the exact bytes" in text


def test_untrusted_root_is_rejected_unless_added_to_the_trusted_roots(
    world: World, fresh_notice: str, tmp_path: Path
) -> None:
    foreign = Pki.open(
        tmp_path / "foreign-pki",
        b"foreign passphrase",
        hostname="ca.example",
        public_url=f"http://127.0.0.1:{free_port()}",
    )
    with world.services.sessions() as session:
        from storage.models import Merchant

        m = session.get(Merchant, world.ids["ma"])
        assert m is not None
        name, code = m.name, m.credit_code
    record = foreign.issue("merchant", SubjectInfo(name, credit_code=code))
    tsa = [LocalTimestamper(TimeStampAuthority(foreign.tsa_credential()))]
    served = _served_bytes(world, fresh_notice)
    signed = _countersign(
        world, served, tmp_path, record.serial_hex, pki=foreign, level="b-t", timestampers=tsa
    )
    path = tmp_path / "foreign-signed.pdf"
    path.write_bytes(signed)
    with pytest.raises(UploadRejectedError) as caught:
        serving.merchant_upload(world.ctx, world.ids["ma"], fresh_notice, path)
    assert any("does not chain to a trusted root" in r for r in caught.value.reasons)
    # With the merchant's CA among the extra trusted roots (settings), it is accepted.
    trusting = dataclasses.replace(
        world.ctx,
        trust_roots_pem=world.ctx.trust_roots_pem + foreign.root.public_bytes(Encoding.PEM),
    )
    version = serving.merchant_upload(trusting, world.ids["ma"], fresh_notice, path)
    assert version.kind == "merchant-uploaded"
