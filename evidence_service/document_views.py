"""How a document's files leave the service: one version's PDF, or a statement's attachment.

The officers' pages, the officers' API and the merchant portal serve the same stored objects;
what a download is called, and whether a browser may show it in place, must not depend on
which of them it went through. Access is checked by the caller (``workflow.service``) before
any of these is reached.
"""

from __future__ import annotations

from fastapi.responses import StreamingResponse

from storage.models import Document, DocumentAttachment, DocumentVersion
from storage.objects import ObjectStore

from .portal.deps import file_response

__all__ = ["attachment_download", "version_pdf"]


def version_pdf(store: ObjectStore, doc: Document, version: DocumentVersion) -> StreamingResponse:
    """The PDF of one version, shown in place, named after the document and the version's
    number: the versions someone saves side by side must not overwrite each other."""
    return file_response(
        store,
        version.object_key,
        media_type="application/pdf",
        filename=f"{doc.title}-v{version.seq}.pdf",
        size=version.size,
    )


def attachment_download(store: ObjectStore, row: DocumentAttachment) -> StreamingResponse:
    """A statement's attachment, always as a download under the merchant's file name: the
    merchant chose its bytes, so no page of ours may display them in place."""
    return file_response(
        store,
        row.object_key,
        media_type=row.content_type,
        filename=row.filename,
        size=row.size,
        inline=False,
    )
