"""Make signed PDFs the way other tools write them, and forge them the way attackers do.

``tests.verify.sealing.sign_pdf`` signs like our sealing pipeline; the verifier must also judge
files written by other software (the EU DSS library rewrites the whole DSS on every extension,
some tools write lowercase VRI keys) and files changed after signing by incremental updates
(added or removed pages, edited content streams, overlay annotations, shadow attacks). Every
function takes the PDF's bytes and returns new bytes; nothing here validates anything.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from certs.pki import Credential
from signing.tsa import TimeStampAuthority
from tests.verify.sealing import Authorities, InProcessTimeStamper, asn1, make_crl

DER = serialization.Encoding.DER

#: The sentence every test document shows; attacks change or hide it.
SIGNED_TEXT = "Fine: 1000 yuan"


def _font(w: PdfFileWriter | IncrementalPdfFileWriter) -> generic.IndirectObject:
    return w.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )


def _text(text: str, y: int = 720, size: int = 24) -> bytes:
    return f"BT /F1 {size} Tf 72 {y} Td ({text}) Tj ET".encode()


def _form(
    w: PdfFileWriter | IncrementalPdfFileWriter, content: bytes, font: generic.IndirectObject
) -> generic.IndirectObject:
    """A form XObject (a page-sized piece of content a page can draw with ``Do``)."""
    return w.add_object(
        generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
                ),
            },
            stream_data=content,
        )
    )


def document(pages: int = 1, *, shadow: bool = False) -> bytes:
    """An unsigned PDF of ``pages`` pages, each showing :data:`SIGNED_TEXT` and its number.

    ``shadow``: the first page draws its text through the form XObject ``/Fm1`` and also
    carries an unused ``/Fm2`` ("Fine: 1 yuan") -- the preparation of a hide-and-replace shadow
    attack (Mainka et al., 2021): what is signed looks harmless, and a later incremental update
    only has to point ``/Fm1`` at the other object."""
    w = PdfFileWriter()
    font = _font(w)
    for number in range(1, pages + 1):
        resources = generic.DictionaryObject(
            {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
        )
        body = _text(SIGNED_TEXT) + b"\n" + _text(f"page {number}", y=680, size=14)
        if shadow and number == 1:
            resources[pdf_name("/XObject")] = generic.DictionaryObject(
                {
                    pdf_name("/Fm1"): _form(w, _text(SIGNED_TEXT), font),
                    pdf_name("/Fm2"): _form(w, _text("Fine: 1 yuan"), font),
                }
            )
            body = b"/Fm1 Do\n" + _text(f"page {number}", y=680, size=14)
        page = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                pdf_name("/Contents"): w.add_object(generic.StreamObject(stream_data=body)),
                pdf_name("/Resources"): resources,
            }
        )
        w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def sign(
    data: bytes,
    auth: Authorities,
    *,
    field_name: str,
    level: str = "B-T",
    signer: Credential | None = None,
    tsa: TimeStampAuthority | None = None,
    box: tuple[int, int, int, int] | None = None,
    embedded_certs: Sequence[x509.Certificate] | None = None,
    md_algorithm: str | None = None,
) -> bytes:
    """PAdES-sign ``data`` with pyHanko (B-B without a time-stamp, B-T with one from ``tsa``
    or our TSA, B-LT/B-LTA with validation data). ``box``: a visible signature widget on page
    1. ``embedded_certs``: the certificates put into the CMS (default: the signer's chain).
    ``md_algorithm``: the message digest (pyHanko's default, SHA-256, unless given)."""
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cred = signer or auth.seal
    key = asn1_keys.PrivateKeyInfo.load(
        cred.key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    extra = cred.chain if embedded_certs is None else embedded_certs
    pdf_signer = signers.SimpleSigner(
        signing_cert=asn1(cred.cert),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in extra]),
    )
    long_term = level in ("B-LT", "B-LTA")
    vc = None
    if long_term:
        before = datetime.now(UTC) - timedelta(seconds=2)
        vc = ValidationContext(
            trust_roots=[asn1(cred.chain[-1])],
            other_certs=[asn1(c) for c in cred.chain[:-1]],
            crls=[
                make_crl(auth.issuing, last_update=before).public_bytes(DER),
                make_crl(auth.root, last_update=before).public_bytes(DER),
            ],
            allow_fetching=False,
        )
    meta = PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=vc,
        md_algorithm=md_algorithm,
    )
    spec = fields.SigFieldSpec(field_name, box=box, on_page=0) if box is not None else None
    stamper = InProcessTimeStamper(tsa or auth.tsa) if level != "B-B" else None
    out = io.BytesIO()
    PdfSigner(meta, pdf_signer, timestamper=stamper, new_field_spec=spec).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data), strict=False), output=out
    )
    return out.getvalue()


def document_timestamp(data: bytes, auth: Authorities) -> bytes:
    """Add a document time-stamp (``/DocTimeStamp``) from our TSA."""
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    out = io.BytesIO()
    PdfTimeStamper(InProcessTimeStamper(auth.tsa)).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data), strict=False), "sha256", output=out
    )
    return out.getvalue()


def validation_data(auth: Authorities) -> tuple[list[bytes], list[bytes]]:
    """Certificates (signers, TSA, CAs) and fresh CRLs that prove our chains unrevoked."""
    tsa = auth.pki.tsa_credential()
    certs = {c.public_bytes(DER) for c in (auth.seal.cert, *auth.seal.chain, tsa.cert, *tsa.chain)}
    crls = [make_crl(auth.issuing).public_bytes(DER), make_crl(auth.root).public_bytes(DER)]
    return sorted(certs), crls


def rewrite_dss(
    data: bytes, certs: Sequence[bytes], crls: Sequence[bytes], *, vri_key_case: str = "upper"
) -> bytes:
    """Write a DSS the way the EU DSS library extends a PAdES document: an incremental update
    with a new ``/DSS`` whose ``/VRI`` holds a fresh dictionary for *every* signature and
    document time-stamp so far -- including those an earlier DSS already described (pyHanko's
    difference analysis cannot classify that rewrite). ``vri_key_case="lower"`` writes the VRI
    keys in lowercase hex, as some other tools do (pyHanko rejects those keys too).

    Nothing but validation data changes: no page, content stream or annotation is touched."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    sigs = list(reader.embedded_signatures)
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    cert_refs = generic.ArrayObject(
        [w.add_object(generic.StreamObject(stream_data=der)) for der in certs]
    )
    crl_refs = generic.ArrayObject(
        [w.add_object(generic.StreamObject(stream_data=der)) for der in crls]
    )
    vri = generic.DictionaryObject()
    for emb in sigs:
        digest = hashlib.sha1(emb.pkcs7_content).hexdigest()
        key = digest.upper() if vri_key_case == "upper" else digest.lower()
        vri[pdf_name("/" + key)] = w.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/VRI"),
                    pdf_name("/Cert"): generic.ArrayObject(cert_refs),
                    pdf_name("/CRL"): generic.ArrayObject(crl_refs),
                }
            )
        )
    w.root[pdf_name("/DSS")] = w.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/DSS"),
                pdf_name("/Certs"): cert_refs,
                pdf_name("/CRLs"): crl_refs,
                pdf_name("/VRI"): w.add_object(vri),
            }
        )
    )
    w.update_root()
    return _written(w)


def _written(w: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _pages(w: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    pages = w.root["/Pages"]
    assert isinstance(pages, generic.DictionaryObject)
    return pages


def add_page(data: bytes, text: str = "Annex: the defendant waives all rights") -> bytes:
    """Append a page after signing (incremental update of the page tree)."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    font = _font(w)
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            pdf_name("/Contents"): w.add_object(
                generic.StreamObject(stream_data=_text(text, size=14))
            ),
            pdf_name("/Resources"): generic.DictionaryObject(
                {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
            ),
        }
    )
    w.insert_page(page)
    return _written(w)


def remove_last_page(data: bytes) -> bytes:
    """Drop the last page from the page tree after signing (incremental update)."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    pages = _pages(w)
    kids = pages["/Kids"]
    assert isinstance(kids, generic.ArrayObject) and len(kids) > 1
    pages[pdf_name("/Kids")] = generic.ArrayObject(list(kids)[:-1])
    pages[pdf_name("/Count")] = generic.NumberObject(len(kids) - 1)
    w.update_container(pages)
    return _written(w)


def change_text(data: bytes, old: str = SIGNED_TEXT, new: str = "Fine: 1 yuan") -> bytes:
    """Overwrite the first page's content stream object (same object number) with edited
    text: the classic edit of a signed document by incremental update."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page = _pages(w)["/Kids"][0].get_object()
    ref = page.raw_get("/Contents")
    assert isinstance(ref, generic.IndirectObject)
    stream = ref.get_object()
    assert isinstance(stream, generic.StreamObject)
    edited = generic.StreamObject(stream_data=stream.data.replace(old.encode(), new.encode()))
    w.mark_update(ref)
    w.objects[(ref.generation, ref.idnum)] = edited
    return _written(w)


def overlay_annotation(
    data: bytes, subtype: str = "/FreeText", text: str = "Fine: 1 yuan"
) -> bytes:
    """Add an annotation whose appearance (an opaque white box with new text) covers the
    signed text: the document still holds the signed bytes, but a reader sees the overlay."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    font = _font(w)
    rect = (60, 700, 400, 760)
    appearance = w.add_object(
        generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, rect[2] - rect[0], rect[3] - rect[1])]
                ),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
                ),
            },
            stream_data=b"1 1 1 rg 0 0 340 60 re f 0 0 0 rg BT /F1 24 Tf 12 20 Td ("
            + text.encode()
            + b") Tj ET",
        )
    )
    annot = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name(subtype),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in rect]),
            pdf_name("/F"): generic.NumberObject(4),
            pdf_name("/Contents"): generic.TextStringObject(text),
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): appearance}),
        }
    )
    if subtype == "/FreeText":
        annot[pdf_name("/DA")] = generic.TextStringObject("/Helv 24 Tf 0 g")
    page = _pages(w)["/Kids"][0].get_object()
    annots = generic.ArrayObject(list(page.get("/Annots", generic.ArrayObject())))
    annots.append(w.add_object(annot))
    page[pdf_name("/Annots")] = annots
    w.update_container(page)
    return _written(w)


def shadow_swap(data: bytes) -> bytes:
    """Complete a hide-and-replace shadow attack on a :func:`document` made with ``shadow``:
    an incremental update that only points the page's ``/Fm1`` at the ``/Fm2`` object that was
    already present -- and signed -- in the signed revision."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page = _pages(w)["/Kids"][0].get_object()
    resources = page["/Resources"]
    xobjects = resources["/XObject"]
    xobjects[pdf_name("/Fm1")] = xobjects.raw_get("/Fm2")
    w.update_container(page)
    return _written(w)


def shadow_replace_object(data: bytes) -> bytes:
    """The other shadow variant: overwrite the ``/Fm1`` XObject stream itself (same object
    number, new content) in an incremental update."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page = _pages(w)["/Kids"][0].get_object()
    ref = page["/Resources"]["/XObject"].raw_get("/Fm1")
    assert isinstance(ref, generic.IndirectObject)
    old = ref.get_object()
    new = generic.StreamObject(dict(old.items()), stream_data=_text("Fine: 1 yuan"))
    new.pop(pdf_name("/Length"), None)
    new.pop(pdf_name("/Filter"), None)
    w.mark_update(ref)
    w.objects[(ref.generation, ref.idnum)] = new
    return _written(w)


def replace_attachment(data: bytes, name: str, content: bytes) -> bytes:
    """Swap the contents of an embedded file after signing (invisible on every page)."""
    from pyhanko.pdf_utils import embed

    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    tree = w.root["/Names"]["/EmbeddedFiles"]
    pairs = generic.ArrayObject(list(tree["/Names"]))
    for i in range(0, len(pairs), 2):
        if str(pairs[i]) == name:
            spec = embed.FileSpec(
                file_spec_string=name,
                embedded_data=embed.EmbeddedFileObject.from_file_data(
                    w, content, mime_type="application/json"
                ),
            )
            pairs[i + 1] = w.add_object(spec.as_pdf_object())
    tree[pdf_name("/Names")] = pairs
    w.update_container(tree)
    return _written(w)
