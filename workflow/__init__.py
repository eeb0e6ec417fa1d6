"""The administrative case: documents (文书) rendered, signed and validated, and later the
case workflow itself.

Imports point one way: ``evidence_service -> workflow -> signing -> certs`` (``workflow`` may
also use ``storage``). Nothing here imports ``evidence_service`` or ``capture``: settings come
in as plain parameters.

The document API (``workflow.documents``)::

    TEMPLATES: Mapping[str, DocumentType]
    validate_data(template, data) -> pydantic.BaseModel          # DocumentDataError first
    render_document(template, data, output, *, english=False) -> RenderedDocument
    sign_document(pki, source, output, request, *, timestampers, online_revocation=False)
        -> SignedDocument
    validate_document(path, trust_roots_pem) -> PdfReport
"""
