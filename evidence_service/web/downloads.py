"""How a document's files leave the service: one version's PDF, or a statement's attachment.

The officers' pages, the officers' API and the merchant portal serve the same stored objects;
what a download is called, and whether a browser may show it in place, must not depend on
which of them it went through. Access is checked by the caller (``workflow.serving``) before
any of these is reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from storage.errors import ObjectNotFoundError, StorageError
from storage.models import Document, DocumentAttachment, DocumentVersion
from storage.objects import CHUNK_SIZE, ObjectStore

__all__ = ["attachment_download", "file_response", "version_pdf"]


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


def stored_size(store: ObjectStore, key: str) -> int:
    """The size of a stored object, or the HTTP error to answer: 410 when the object is gone
    (the database names something the store lost), 503 when the store cannot be reached."""
    try:
        return store.stat(key).size
    except ObjectNotFoundError as exc:
        raise HTTPException(410, detail={"code": "missing_object", "message": str(exc)}) from exc
    except StorageError as exc:
        raise HTTPException(503, detail={"code": "store_unavailable", "message": str(exc)}) from exc


def _chunks(store: ObjectStore, key: str) -> Iterator[bytes]:
    with store.open(key) as fh:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk


def file_response(
    store: ObjectStore,
    key: str,
    *,
    media_type: str,
    filename: str,
    size: int | None = None,
    inline: bool = True,
) -> StreamingResponse:
    """Stream a stored object (verified against its hash while read). Private, not cached,
    never sniffed into something else by the browser."""
    disposition = "inline" if inline else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    headers = {
        "Content-Disposition": f'{disposition}; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        # Shown inside our own pages (the portal's PDF view), never inside another site's.
        "Content-Security-Policy": "frame-ancestors 'self'",
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(_chunks(store, key), media_type=media_type, headers=headers)
