"""Files an officer uploads into a case (photos, chat records, platform data exports),
sealed like a capture: hashed while they stream in, their record time-stamped (RFC 3161),
and stored immutably (content-addressed, under the store's retention lock) before the case
links them. The same order as the capture pipeline: nothing is linked that is not sealed.

What is time-stamped is a small JSON record (case, file name, size, SHA-256, who, when)
rather than the file, so a large file is read once; the record binds the hash, and the token
binds the record. A court checks: the file's SHA-256 equals the record's, and
``openssl ts -verify -data record.json -in record.tsr`` passes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from evidence_service.services import Services
from signing.timestamp import TimestampError
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext

__all__ = ["MAX_UPLOAD_BYTES", "SealedUpload", "UploadTooLarge", "seal_upload"]

#: Largest single file an officer may upload into a case.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024
_CHUNK = 1024 * 1024


class UploadTooLarge(ValueError):
    """The upload is above :data:`MAX_UPLOAD_BYTES`."""


@dataclass(frozen=True)
class SealedUpload:
    evidence_id: int
    sha256: str
    size: int
    object_key: str
    record_key: str
    token_key: str
    trusted_time: datetime


def seal_upload(
    services: Services,
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    stream: BinaryIO,
    *,
    file_name: str,
    media_type: str = "application/octet-stream",
    description: str | None = None,
) -> SealedUpload:
    """Hash, store, time-stamp and link one uploaded file. Raises :class:`UploadTooLarge`,
    :class:`signing.timestamp.TimestampError` (no TSA: nothing is linked, the stored bytes
    are content-addressed and harmless), :class:`workflow.cases.service.CaseNotFound`."""
    service.case_view(ctx, who, case_id)  # the case exists and is this person's unit's
    services.settings.work_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=services.settings.work_dir, prefix="upload-") as tmp:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise UploadTooLarge(
                    f"{file_name}: larger than {MAX_UPLOAD_BYTES // (1 << 30)} GiB"
                )
            digest.update(chunk)
            tmp.write(chunk)
        tmp.flush()
        stored = services.store.put_file(Path(tmp.name), content_type=media_type)
    sha256 = digest.hexdigest()
    if stored.sha256 != sha256:  # the store verifies what it keeps; so do we
        raise OSError(f"{file_name}: the store kept other bytes than were uploaded")
    record = json.dumps(
        {
            "type": "case-evidence-upload",
            "case": case_id,
            "file_name": file_name,
            "media_type": media_type,
            "size": size,
            "sha256": sha256,
            "uploaded_by": who.actor,
            "uploaded_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    token = None
    errors = []
    for stamper in services.timestampers:
        try:
            token = stamper.stamp(record)
            break
        except TimestampError as exc:
            errors.append(f"{stamper.name}: {exc}")
    if token is None:
        raise TimestampError("no time-stamp authority answered: " + "; ".join(errors))
    record_obj = services.store.put_stream(io.BytesIO(record), content_type="application/json")
    token_obj = services.store.put_stream(
        io.BytesIO(token.response_der), content_type="application/timestamp-reply"
    )
    evidence_id = service.add_evidence(
        ctx,
        who,
        case_id,
        kind="upload",
        file_name=file_name,
        sha256=sha256,
        object_key=stored.key,
        media_type=media_type,
        size=size,
        description=description,
        proof={
            "record": record_obj.key,
            "record_sha256": record_obj.sha256,
            "timestamp": token_obj.key,
            "trusted_time": token.gen_time.isoformat().replace("+00:00", "Z"),
            "tsa": token.tsa_name,
        },
    )
    return SealedUpload(
        evidence_id, sha256, size, stored.key, record_obj.key, token_obj.key, token.gen_time
    )
